"""Read paths for referrals: settings, codes, the API's lists, the console's funnel, the portal.

API and console reads go through the scoped managers (the request's merchant scope); the portal
and the services read with ``_base_manager`` and filter explicitly by the rows they were given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from loyaltysite.ids import parse_id
from members.models import Member, Merchant, Program

from .errors import ReferralNotFound
from .models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Referral,
    ReferralCode,
    ReferralReward,
    ReferralSettings,
)

CODE_CHARACTERS = frozenset(CODE_ALPHABET)
# States in which a referral still waits for its qualifying order.
OPEN = (Referral.Status.PENDING, Referral.Status.APPROVED)
# States a referral reaches once converted (the funnel counts them all as converted).
CONVERTED_OR_LATER = (
    Referral.Status.CONVERTED, Referral.Status.REWARDED, Referral.Status.CLAWED_BACK,
)


def settings_for(*, program: Program) -> ReferralSettings:
    """The program's referral settings; an unsaved row of defaults when it has none."""
    found = (
        ReferralSettings._base_manager.select_related("referrer_reward", "referee_reward")
        .filter(merchant_id=program.merchant_id, program_id=program.pk)
        .first()
    )
    if found is None:
        found = ReferralSettings(merchant_id=program.merchant_id, program=program)
    found.program = program
    return found


def code_for_member(*, member: Member) -> ReferralCode | None:
    """The member's current code: the active one, else the latest deactivated one."""
    return (
        ReferralCode._base_manager.filter(merchant_id=member.merchant_id, member_id=member.pk)
        .order_by("-is_active", "-id")
        .first()
    )


def code_lookup(*, code: str, program: Program | None = None) -> ReferralCode | None:
    """The code (already normalized), across the platform or in ``program``, with its member
    and program. Codes are unique platform-wide: the share link carries nothing else."""
    if not code or len(code) > CODE_LENGTH or not set(code) <= CODE_CHARACTERS:
        return None  # no such code can exist: no query (and nothing odd reaches the database)
    qs = ReferralCode._base_manager.select_related("member__customer", "program", "merchant")
    if program is not None:
        qs = qs.filter(merchant_id=program.merchant_id, program_id=program.pk)
    return qs.filter(code=code).first()


def referral_list(*, program: Program) -> QuerySet[Referral]:
    return (
        Referral.objects.filter(merchant_id=program.merchant_id, program=program)
        .select_related("referrer__customer", "referee__customer", "code", "order")
        .prefetch_related("rewards__voucher")
        .order_by("-id")
    )


def referral_get(*, program: Program, referral_id: int | str) -> Referral:
    pk = parse_id(referral_id)
    if pk is None:
        raise ReferralNotFound(field="referral")
    try:
        return referral_list(program=program).get(pk=pk)
    except Referral.DoesNotExist:
        raise ReferralNotFound(field="referral") from None


# ---------------------------------------------------------------------------------------------
# The console's funnel and leaders (also for the dashboard)


def _window(qs: QuerySet, field: str, since: datetime | None, until: datetime | None):
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field}__lt": until})
    return qs


def referral_funnel(
    *,
    merchant: Merchant | int,
    program: Program | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, int]:
    """How far referrals got: codes handed out, referrals attributed, converted, rewarded,
    rejected (and clawed back, expired, waiting for review). Codes count by when they were
    created; referrals by when they were attributed, so each figure is of that cohort."""
    merchant_id = merchant.pk if isinstance(merchant, Merchant) else merchant
    codes = ReferralCode.objects.filter(merchant_id=merchant_id)
    referrals = Referral.objects.filter(merchant_id=merchant_id)
    if program is not None:
        program_id = program.pk if isinstance(program, Program) else program
        codes, referrals = codes.filter(program_id=program_id), referrals.filter(
            program_id=program_id
        )
    codes = _window(codes, "created_at", since, until)
    referrals = _window(referrals, "created_at", since, until)
    Status = Referral.Status
    figures = referrals.aggregate(
        attributed=Count("id"),
        converted=Count("id", filter=Q(converted_at__isnull=False)),
        rewarded=Count("id", filter=Q(rewarded_at__isnull=False)),
        rejected=Count("id", filter=Q(status=Status.REJECTED)),
        clawed_back=Count("id", filter=Q(status=Status.CLAWED_BACK)),
        expired=Count("id", filter=Q(status=Status.EXPIRED)),
        awaiting_review=Count(
            "id", filter=Q(decision="") & Q(status__in=[Status.PENDING, Status.CONVERTED])
        ),
    )
    return {"codes": codes.count(), **figures}


def top_referrers(
    *,
    merchant: Merchant | int,
    program: Program | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """The members who brought the most customers who bought: per referrer, referrals
    attributed, converted and rewarded, and the points their referrals earned them."""
    merchant_id = merchant.pk if isinstance(merchant, Merchant) else merchant
    referrals = Referral.objects.filter(merchant_id=merchant_id)
    if program is not None:
        program_id = program.pk if isinstance(program, Program) else program
        referrals = referrals.filter(program_id=program_id)
    referrals = _window(referrals, "created_at", since, until)
    rows = list(
        referrals.values("referrer_id")
        .annotate(
            attributed=Count("id"),
            converted=Count("id", filter=Q(converted_at__isnull=False)),
            rewarded=Count("id", filter=Q(status=Referral.Status.REWARDED)),
        )
        .order_by("-converted", "-attributed", "referrer_id")[:limit]
    )
    ids = [row["referrer_id"] for row in rows]
    members = Member.objects.select_related("customer").in_bulk(ids)
    points = dict(
        ReferralReward.objects.filter(
            member_id__in=ids, side=ReferralReward.Side.REFERRER, referral__in=referrals
        )
        .values_list("member_id")
        .annotate(net=Coalesce(Sum("points"), 0) - Coalesce(Sum("points_reversed"), 0))
    )
    return [
        {**row, "member": members.get(row["referrer_id"]),
         "points": points.get(row["referrer_id"], 0)}
        for row in rows
    ]


# ---------------------------------------------------------------------------------------------
# The portal (the caller passes a member already checked to be the signed-in user's)


def portal_referrals(*, member: Member) -> list[Referral]:
    """The friends ``member`` referred, newest first."""
    return list(
        Referral._base_manager.filter(merchant_id=member.merchant_id, referrer_id=member.pk)
        .select_related("referee__customer")
        .order_by("-created_at", "-id")[:100]
    )


def referral_points_earned(*, member: Member) -> int:
    """Points ``member`` kept from referrals (as referrer or referred friend), net of
    clawbacks."""
    totals = ReferralReward._base_manager.filter(
        merchant_id=member.merchant_id, member_id=member.pk, kind=ReferralReward.Kind.POINTS
    ).exclude(status=ReferralReward.Status.SKIPPED).aggregate(
        points=Coalesce(Sum("points"), 0), reversed=Coalesce(Sum("points_reversed"), 0)
    )
    return totals["points"] - totals["reversed"]
