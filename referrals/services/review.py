"""The review gate (approve, reject), the conversion window's end, and the program's terms."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import InvalidTransition, InvalidValue, ValidationFailed
from members.models import Program

from ..models import Referral, ReferralSettings
from ..selectors import OPEN
from .common import emit_referral, lock_parties
from .conversion import reward_locked

REVIEWABLE = (Referral.Status.PENDING, Referral.Status.APPROVED, Referral.Status.CONVERTED)


def _decide(referral: Referral, decision: str, actor: str, reason: str, now: Any) -> None:
    referral.decision = decision
    referral.decided_at = now
    referral.decided_by = actor[:128]
    referral.decision_reason = reason[:255]


@transaction.atomic
def referral_approve(
    *, referral: Referral, actor: str, reason: str = "", clock: Clock = system_clock
) -> Referral:
    """Approve a referral: a pending one waits for its order (``approved``); a converted one is
    rewarded now. Approving an approved referral answers it again."""
    referral, referee, referrer = lock_parties(referral.pk)
    if referral.decision == Referral.Decision.APPROVED:
        return referral
    if referral.status not in REVIEWABLE:
        raise InvalidTransition(
            f"A {referral.get_status_display().lower()} referral cannot be approved.",
            field="status", referral_status=referral.status,
        )
    _decide(referral, Referral.Decision.APPROVED, actor, reason.strip(), clock.now())
    converted = referral.status == Referral.Status.CONVERTED
    if not converted:
        referral.status = Referral.Status.APPROVED
    referral.save(update_fields=[
        "status", "decision", "decided_at", "decided_by", "decision_reason",
    ])
    if converted:
        reward_locked(referral=referral, referee=referee, referrer=referrer, clock=clock)
    return referral


@transaction.atomic
def referral_reject(
    *, referral: Referral, actor: str, reason: str, clock: Clock = system_clock
) -> Referral:
    """Reject a referral before anyone is rewarded; it then rewards nobody, whatever the
    referee buys. A reason is required. Rejecting a rejected referral answers it again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required to reject a referral.", field="reason")
    referral, _referee, referrer = lock_parties(referral.pk)
    if referral.decision == Referral.Decision.REJECTED:
        return referral
    if referral.status not in REVIEWABLE:
        raise InvalidTransition(
            f"A {referral.get_status_display().lower()} referral cannot be rejected.",
            field="status", referral_status=referral.status,
        )
    _decide(referral, Referral.Decision.REJECTED, actor, reason, clock.now())
    referral.status = Referral.Status.REJECTED
    referral.save(update_fields=[
        "status", "decision", "decided_at", "decided_by", "decision_reason",
    ])
    emit_referral("referral.rejected", referral, member_id=referrer.pk, clock=clock,
                  reason=referral.decision_reason, decided_by=referral.decided_by)
    return referral


def referrals_expire_due(*, clock: Clock = system_clock, batch_size: int = 500) -> int:
    """Close open referrals whose conversion window has passed (``expired``), in batches.

    The status guard in the update keeps a referral that converted or was reviewed in the
    meantime as it is.
    """
    now = clock.now()
    done = 0
    while True:
        ids = list(
            Referral._base_manager.filter(status__in=OPEN, expires_at__lt=now)
            .order_by("expires_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return done
        done += Referral._base_manager.filter(pk__in=ids, status__in=OPEN).update(
            status=Referral.Status.EXPIRED
        )


# ---------------------------------------------------------------------------------------------
# Settings

SETTINGS_FIELDS = {
    "is_enabled", "referrer_reward_kind", "referrer_points", "referrer_reward",
    "referee_reward_kind", "referee_points", "referee_reward", "min_order_amount",
    "conversion_window_days", "requires_approval", "new_customers_only", "limit_count",
    "limit_period_days",
}


def referral_settings_update(*, program: Program, **fields: Any) -> ReferralSettings:
    """Change a program's referral terms (the row is created on the first change).

    Checked like the console's form (``ReferralSettings.clean``): a catalog reward of this
    program for a reward kind, points for a points kind, an amount in the currency's units.
    Terms apply from now on; referrals keep the deadline they were attributed with.
    """
    unknown = sorted(set(fields) - SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field {unknown[0]}.", field=unknown[0])
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _settings_save(program, fields)
        except IntegrityError:
            continue  # another request created the row first: change that one
    raise ValidationFailed("The settings are being changed by another request.")


def _settings_save(program: Program, fields: dict[str, Any]) -> ReferralSettings:
    row = (
        ReferralSettings._base_manager.select_for_update()
        .filter(merchant_id=program.merchant_id, program_id=program.pk)
        .first()
    ) or ReferralSettings(merchant_id=program.merchant_id, program=program)
    row.program = program
    for name, value in fields.items():
        setattr(row, name, value)
    try:
        row.full_clean(exclude=["merchant", "program"], validate_unique=False)
    except DjangoValidationError as error:
        # Well-formed values that do not fit together (a reward kind without its reward).
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidValue(
            messages[0], field=None if field == NON_FIELD_ERRORS else field
        ) from None
    row.save()
    return row
