"""Attribution: a referee joined (enrolment, portal sign-up) or bought (checkout) with a code.

An unknown or inactive code never fails the enrolment or the sale: the answer says the
referral was not attributed and why. A known code is held to the guards, in this order:

1. self-referral (``SELF_REFERRAL``, 422): the same member, customer, portal account, external
   id (ignoring case and spaces) or email (ignoring case and a ``+tag`` in the local part); or
   a circular referral (the referee referred the referrer);
2. the referee is active (``MEMBER_INACTIVE``);
3. once per referee and once per source (``DUPLICATE_REFERRAL``, 409);
4. new customers only, when the program says so (``REFEREE_NOT_ELIGIBLE``, 422);
5. the referrer's rate limit (``REFERRAL_LIMIT_EXCEEDED``, 429): at most N referrals in any
   window of the program's period, counted from the clock.

The referee's member row is locked first, then the referrer's (the order every referral
operation uses); the referrer's lock serialises that referrer's attributions, so the rate
limit holds under concurrency. Once-per-referee and once-per-source are unique constraints:
two attributions that race past the checks meet at the insert, and the loser answers
``DUPLICATE_REFERRAL``. A circular referral is refused before any lock is taken as well, so an
attribution never waits crosswise on an order converting the opposite referral; two circular
attributions at the very same moment deadlock, and the one PostgreSQL refuses answers
``CONFLICT`` (409).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, transaction

from ledger.locking import lock_member
from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import (
    Conflict,
    DuplicateReferral,
    LoyaltyError,
    MemberInactive,
    MemberNotFound,
    ReferralLimitExceeded,
    SelfReferral,
)
from members.models import Customer, Member, Program
from members.selectors import member_find
from members.services import member_get_or_enrol
from rules.models import Order

from ..errors import RefereeNotEligible
from ..models import Referral, ReferralCode, ReferralSettings, normalize_referral_code
from ..selectors import code_lookup, settings_for
from .common import emit_referral
from .conversion import convert_locked

DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE

NOT_ATTRIBUTED = {
    "unknown_code": "No such referral code in this program.",
    "inactive_code": "This referral code is no longer active.",
    "referrals_disabled": "The program's referrals are switched off.",
    "referrer_inactive": "The member who owns this code is not active.",
}


@dataclass(frozen=True)
class Attribution:
    """The outcome: a referral, or why there is none (``reason``, ``detail``)."""

    referral: Referral | None
    reason: str = ""
    detail: str = ""

    @property
    def attributed(self) -> bool:
        return self.referral is not None

    @classmethod
    def refused(cls, reason: str) -> Attribution:
        return cls(None, reason, NOT_ATTRIBUTED[reason])

    def as_dict(self) -> dict[str, Any]:
        """What an API answer or an enrolment's context carries."""
        referral = self.referral
        return {
            "attributed": self.attributed,
            "reason": self.reason or None,
            "detail": self.detail or None,
            "referral": referral.pk if referral is not None else None,
            "status": referral.status if referral is not None else None,
        }


# ---------------------------------------------------------------------------------------------
# Self-referral


def normalize_email(value: str) -> str:
    """``Dana+Promo@Example.COM`` -> ``dana@example.com``: one mailbox, one person."""
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at:
        return value
    return f"{local.split('+', 1)[0]}@{domain}"


def _normalize_external_id(value: str) -> str:
    return "".join(value.split()).casefold()


def self_referral_rule(
    *, referrer: Member, referrer_customer: Customer, referee: Member, referee_customer: Customer
) -> str | None:
    """Which self-referral rule ``referee`` breaks against ``referrer`` (the first that
    matches), or ``None``."""
    if referrer.pk == referee.pk:
        return "same_member"
    if referrer_customer.pk == referee_customer.pk:
        return "same_customer"
    if referrer_customer.user_id and referrer_customer.user_id == referee_customer.user_id:
        return "same_account"
    if (
        referrer_customer.external_id and referee_customer.external_id
        and _normalize_external_id(referrer_customer.external_id)
        == _normalize_external_id(referee_customer.external_id)
    ):
        return "same_external_id"
    if (
        referrer_customer.email and referee_customer.email
        and normalize_email(referrer_customer.email) == normalize_email(referee_customer.email)
    ):
        return "same_email"
    return None


SELF_REFERRAL_DETAIL = {
    "same_member": "A member cannot use their own referral code.",
    "same_customer": "A customer cannot use their own referral code.",
    "same_account": "This referral code belongs to the same portal account.",
    "same_external_id": "This referral code belongs to the same customer id.",
    "same_email": "This referral code belongs to the same email address.",
    "circular": "This customer was referred by the person they are referring.",
}


# ---------------------------------------------------------------------------------------------
# Attribution


def _circular(program: Program, *, referrer_id: int, referee_id: int) -> bool:
    """Whether the referee referred the referrer."""
    return Referral._base_manager.filter(
        merchant_id=program.merchant_id, program=program, referrer_id=referee_id,
        referee_id=referrer_id,
    ).exists()


def _check_guards(
    *, program: Program, settings: ReferralSettings, referrer: Member, referee: Member,
    source: str, now: Any,
) -> None:
    customers = Customer._base_manager.in_bulk([referrer.customer_id, referee.customer_id])
    rule = self_referral_rule(
        referrer=referrer, referrer_customer=customers[referrer.customer_id],
        referee=referee, referee_customer=customers[referee.customer_id],
    )
    referrals = Referral._base_manager.filter(merchant_id=program.merchant_id, program=program)
    if rule is None and _circular(program, referrer_id=referrer.pk, referee_id=referee.pk):
        rule = "circular"
    if rule is not None:
        raise SelfReferral(SELF_REFERRAL_DETAIL[rule], field="code", rule=rule)
    if referee.status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {referee.card_id} is {referee.status}.", field="member")
    earlier = referrals.filter(referee_id=referee.pk).values_list("pk", flat=True).first()
    if earlier is not None:
        raise DuplicateReferral(
            "This member has already been referred.", field="member", referral=earlier
        )
    if source:
        earlier = referrals.filter(source=source).values_list("pk", flat=True).first()
        if earlier is not None:
            raise DuplicateReferral(
                "This source has already been attributed.", field="source", referral=earlier
            )
    if settings.new_customers_only and Order._base_manager.filter(
        merchant_id=program.merchant_id, program_id=program.pk, member_id=referee.pk
    ).exclude(order_id=source).exists():
        raise RefereeNotEligible(
            "Only new customers can be referred: this member has ordered before.",
            field="member",
        )
    if settings.limit_count is not None:
        period = timedelta(days=settings.limit_period_days)
        recent = Referral._base_manager.filter(
            merchant_id=program.merchant_id, referrer_id=referrer.pk, created_at__gt=now - period
        )
        if recent.count() >= settings.limit_count:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
            raise ReferralLimitExceeded(
                f"This code has been used {settings.limit_count} times in the last "
                f"{settings.limit_period_days} days, the program's limit.",
                field="code", limit=settings.limit_count,
                period_days=settings.limit_period_days,
                retry_at=(oldest + period).isoformat(),
            )


def _insert(**fields: Any) -> Referral:
    """Insert in a savepoint: losing a race on once-per-referee or once-per-source is
    ``DUPLICATE_REFERRAL``, like losing it to a committed row."""
    try:
        with transaction.atomic():
            return Referral._base_manager.create(**fields)
    except IntegrityError:
        referrals = Referral._base_manager.filter(
            merchant_id=fields["merchant_id"], program_id=fields["program_id"]
        )
        earlier = referrals.filter(referee_id=fields["referee_id"]).first()
        if earlier is not None:
            raise DuplicateReferral(
                "This member has already been referred.", field="member", referral=earlier.pk
            ) from None
        earlier = referrals.filter(source=fields["source"]).exclude(source="").first()
        if earlier is not None:
            raise DuplicateReferral(
                "This source has already been attributed.", field="source",
                referral=earlier.pk,
            ) from None
        raise


def _attribute(
    *, code: ReferralCode, referee: Member, channel: str, source: str, actor: str,
    clock: Clock,
) -> Attribution:
    program = code.program
    settings = settings_for(program=program)
    if not settings.is_enabled:
        return Attribution.refused("referrals_disabled")
    if _circular(program, referrer_id=code.member_id, referee_id=referee.pk):
        # Checked before any lock too: an order of the other member converting their referral
        # holds their lock and waits for this referee's, in the opposite order.
        raise SelfReferral(SELF_REFERRAL_DETAIL["circular"], field="code", rule="circular")
    try:
        with transaction.atomic():
            return _attribute_locked(code=code, settings=settings, referee=referee,
                                     channel=channel, source=source, actor=actor, clock=clock)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != DEADLOCK_DETECTED:
            raise
        # Two attributions naming the same two members crosswise, at the same moment (A
        # referring B while B refers A): PostgreSQL breaks the tie by refusing one of them.
        raise Conflict(
            "Another referral of these members is being recorded at this moment; try again.",
            field="code",
        ) from None


def _attribute_locked(
    *, code: ReferralCode, settings: ReferralSettings, referee: Member, channel: str,
    source: str, actor: str, clock: Clock,
) -> Attribution:
    program = code.program
    now = clock.now()
    referee = lock_member(referee.pk)
    referrer = lock_member(code.member_id)
    if referrer.status != Member.Status.ACTIVE:
        return Attribution.refused("referrer_inactive")
    _check_guards(program=program, settings=settings, referrer=referrer, referee=referee,
                  source=source, now=now)
    referral = _insert(
        merchant_id=program.merchant_id, program_id=program.pk, code=code,
        referrer_id=referrer.pk, referee_id=referee.pk, channel=channel, source=source,
        actor=actor[:128], created_at=now,
        expires_at=now + timedelta(days=settings.conversion_window_days),
    )
    referral.program = program
    emit_referral("referral.attributed", referral, member_id=referrer.pk, clock=clock)
    if source:
        # Attributed at checkout after the order was recorded: the sale itself converts.
        order = Order._base_manager.filter(
            merchant_id=program.merchant_id, program_id=program.pk, member_id=referee.pk,
            order_id=source,
        ).first()
        if order is not None:
            convert_locked(referral=referral, order=order, referee=referee, referrer=referrer,
                           clock=clock)
    return Attribution(referral)


def _resolve(program: Program, code: str) -> tuple[ReferralCode | None, str]:
    found = code_lookup(code=normalize_referral_code(code), program=program)
    if found is None:
        return None, "unknown_code"
    if not found.is_active:
        return None, "inactive_code"
    return found, ""


def referral_attribute(
    *,
    program: Program,
    code: str,
    referee: Member,
    channel: str,
    source: str = "",
    actor: str,
    clock: Clock = system_clock,
) -> Attribution:
    """Attribute ``referee`` to the owner of ``code`` (a pending referral).

    An unknown or inactive code, switched-off referrals or an inactive referrer answer
    "not attributed" and write nothing; a guard that refuses raises (see the module).
    """
    found, reason = _resolve(program, code)
    if found is None:
        return Attribution.refused(reason)
    return _attribute(code=found, referee=referee, channel=channel, source=source.strip(),
                      actor=actor, clock=clock)


def referral_attribute_checkout(
    *,
    program: Program,
    code: str,
    member: str = "",
    external_id: str = "",
    card_id: str = "",
    source: str = "",
    actor: str,
    clock: Clock = system_clock,
) -> Attribution:
    """Attribution in one call at checkout: the buyer by member id, card id or external id.

    An unknown external id enrols a new member when the program auto-enrols, as an order
    would, but only for a code that can attribute, and in the attribution's transaction: a
    refused attribution enrols nobody.
    """
    found, reason = _resolve(program, code)
    if found is None:
        return Attribution.refused(reason)
    with transaction.atomic():
        try:
            referee = member_find(
                program=program, member_id=member or None, external_id=external_id or None,
                card_id=card_id or None,
            )
        except MemberNotFound:
            if not (external_id and program.auto_enrol) or member or card_id:
                raise
            referee, _ = member_get_or_enrol(program=program, external_id=external_id,
                                             clock=clock)
        return _attribute(code=found, referee=referee, channel=Referral.Channel.CHECKOUT,
                          source=source.strip(), actor=actor, clock=clock)


def on_member_enrolled(member: Member, context: Mapping[str, Any]) -> None:
    """Enrolment hook: attribute a new member to ``context["referral_code"]``.

    Nothing a referral guard says fails the enrolment: the customer joins either way, and the
    outcome goes back to the caller in ``context["referral"]`` when the context is a dict.
    """
    code = context.get("referral_code")
    if not code:
        return
    channel = context.get("referral_channel") or Referral.Channel.ENROLMENT
    try:
        outcome = referral_attribute(
            program=member.program, code=str(code), referee=member, channel=channel,
            actor=str(context.get("actor") or "system:enrolment"),
        )
    except LoyaltyError as error:
        outcome = Attribution(None, error.code.lower(), error.detail)
    if isinstance(context, MutableMapping):
        context["referral"] = outcome.as_dict()


__all__ = [
    "Attribution", "normalize_email", "on_member_enrolled", "referral_attribute",
    "referral_attribute_checkout", "self_referral_rule",
]
