"""The ledger's scheduled work: expire points, make pending points spendable, purge old keys.

Each job finds the members with something due by keyset pagination over member ids
(``batch_size`` ids at a time, ordered by id, so memory stays constant at any table size), and
hands each member to the transaction manager, which locks that member in its own transaction
and decides, under the lock, what is really due. A second run finds nothing left to do, and
two workers running the same job at once serialise on the member lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce

from loyaltysite.clock import Clock
from members.models import Member, Program

from . import services
from .idempotency import purge_expired_keys
from .models import Entry, Lot

logger = logging.getLogger(__name__)

# add_months clamps to the end of a shorter month (Jan 31 + 1 month = Feb 28), so "inactive
# since add_months(now, -n)" is not its exact inverse; the margin keeps the candidate set a
# superset and the service makes the exact decision under the lock.
_MONTH_END_MARGIN = timedelta(days=4)


def _member_ids(queryset: QuerySet, field: str, batch_size: int) -> Iterator[list[int]]:
    """Distinct ``field`` values of ``queryset``, ascending, ``batch_size`` at a time."""
    last = 0
    while True:
        batch = list(
            queryset.filter(**{f"{field}__gt": last})
            .order_by(field)
            .values_list(field, flat=True)
            .distinct()[:batch_size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1]


def _each_member(
    batches: Iterator[list[int]], apply: Callable[[Member], Entry | int | None], job: str
) -> int:
    """Apply a per-member service to every id; count the entries it posted (or the number it
    answers).

    One member that fails is logged and skipped so it cannot hold up everyone after it; the
    job still fails at the end, so the operator hears about it.
    """
    posted = failed = 0
    for batch in batches:
        for member_id in batch:
            try:
                entry = apply(Member(pk=member_id))
            except Exception:
                failed += 1
                logger.exception("%s: member %s failed", job, member_id)
                continue
            posted += entry if isinstance(entry, int) else entry is not None
    if failed:
        raise RuntimeError(f"{job}: {failed} member(s) failed, {posted} handled (see the log)")
    return posted


def _inactive_members(now: datetime) -> QuerySet:
    """Members of inactivity-expiry programs who may have been inactive long enough."""
    condition = Q(pk__in=[])
    programs = (
        Program._base_manager.filter(expiry_policy=Program.ExpiryPolicy.INACTIVITY)
        .order_by("expiry_months")
        .values_list("expiry_months", flat=True)
        .distinct()
    )
    for months in programs:
        cutoff = services.add_months(now, -months) + _MONTH_END_MARGIN
        condition |= Q(program__expiry_months=months, last_active__lte=cutoff)
    return (
        Member._base_manager.filter(program__expiry_policy=Program.ExpiryPolicy.INACTIVITY)
        .filter(Q(balance__gt=0) | Q(pending_points__gt=0))
        .alias(last_active=Coalesce("last_activity_at", "enrolled_at"))
        .filter(condition)
    )


def expire_points(*, clock: Clock, batch_size: int) -> int:
    """Expire what remains of lots past ``expires_at``, and the points of members inactive
    for their program's expiry period. Returns the number of ``expire`` entries posted."""
    now = clock.now()

    def expire(member: Member) -> Entry | None:
        return services.points_expire_due(member=member, clock=clock)

    due_lots = Lot._base_manager.filter(remaining__gt=0, expires_at__lte=now)
    posted = _each_member(_member_ids(due_lots, "member_id", batch_size), expire, "expire-points")
    inactive = _member_ids(_inactive_members(now), "id", batch_size)
    return posted + _each_member(inactive, expire, "expire-points")


def make_pending_spendable(*, clock: Clock, batch_size: int) -> int:
    """Turn pending lots whose ``available_at`` has passed spendable. Returns the number of
    ``available`` entries posted."""
    now = clock.now()

    def make_available(member: Member) -> Entry | None:
        return services.points_make_available(member=member, clock=clock)

    due = Lot._base_manager.filter(pending=True, available_at__lte=now)
    return _each_member(
        _member_ids(due, "member_id", batch_size), make_available, "make-pending-spendable"
    )


def _warning_candidates(now: datetime) -> QuerySet:
    """Members who may have points expiring within their program's warning days: lots due in
    that window, or (inactivity programs) a last activity old enough. A superset: the service
    decides under the lock."""
    programs = Program._base_manager.exclude(expiry_policy=Program.ExpiryPolicy.NONE)
    lots = Q(pk__in=[])
    inactive = Q(pk__in=[])
    for policy, months, days in (
        programs.order_by().values_list("expiry_policy", "expiry_months", "expiry_warning_days")
        .distinct()
    ):
        horizon = now + timedelta(days=days)
        scope = Q(program__expiry_policy=policy, program__expiry_months=months,
                  program__expiry_warning_days=days)
        if policy == Program.ExpiryPolicy.AFTER_EARN:
            lots |= scope & Q(lots__remaining__gt=0, lots__expires_at__gt=now,
                              lots__expires_at__lte=horizon)
        else:
            cutoff = services.add_months(horizon, -months) + _MONTH_END_MARGIN
            inactive |= scope & Q(last_active__lte=cutoff) & (
                Q(balance__gt=0) | Q(pending_points__gt=0))
    return (
        Member._base_manager.exclude(status=Member.Status.INACTIVE)
        .alias(last_active=Coalesce("last_activity_at", "enrolled_at"))
        .filter(lots | inactive)
    )


def warn_expiring_points(*, clock: Clock, batch_size: int) -> int:
    """Emit ``points.expiring`` for points expiring within each program's warning days, once
    per member and expiry day. Returns the number of warnings sent."""
    now = clock.now()

    def warn(member: Member) -> int:
        return services.points_expiry_warn(member=member, clock=clock)

    return _each_member(
        _member_ids(_warning_candidates(now), "id", batch_size), warn, "warn-expiring-points"
    )


def purge_idempotency_keys(*, clock: Clock, batch_size: int) -> int:
    """Delete idempotency keys past the retention period. Returns how many were deleted."""
    return purge_expired_keys(clock=clock, batch_size=batch_size)


# Pending first: points whose return window closed count as earned (lifetime) even when they
# expire in the same run.
JOBS = [
    ("make-pending-spendable", make_pending_spendable),
    ("expire-points", expire_points),
    ("warn-expiring-points", warn_expiring_points),
    ("purge-idempotency-keys", purge_idempotency_keys),
]
