"""Moving members on the ladder: lifts at earn time, overrides, the pause penalty, windows.

Every function here that changes a member runs under the member's row lock (the ledger's hook
holds it already; the others take it first, ``ledger.locking``), writes the member row with a
guarded ``UPDATE ... WHERE tier_id = <the tier read under the lock>``, appends a ``TierChange``
and emits ``tier.changed`` in the same transaction. So two earns crossing one threshold at once
lift the member once: the second finds the member already there.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from events.outbox import emit
from ledger.locking import lock_member
from ledger.models import Entry
from ledger.services import add_months
from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import InvalidValue, TierNotFound
from members.models import Member, Program

from .. import ladder as cache
from ..errors import TierOverrideNotFound
from ..models import Qualifying, Standing, Tier, TierChange, TierOverride, TierSettings

Reason = TierChange.Reason
CENT = Decimal("0.01")


def tier_ref(tier: Tier | None) -> dict[str, Any] | None:
    return {"id": tier.pk, "name": tier.name} if tier is not None else None


def record_change(
    *, member: Member, from_tier: Tier | None, to_tier: Tier | None, reason: str, actor: str,
    now: datetime, note: str = "", clock: Clock = system_clock,
) -> TierChange:
    """The history row and the ``tier.changed`` event of a change already on ``member``."""
    change = TierChange._base_manager.create(
        merchant_id=member.merchant_id, program_id=member.program_id, member_id=member.pk,
        from_tier=from_tier, to_tier=to_tier,
        from_name=from_tier.name if from_tier else "", to_name=to_tier.name if to_tier else "",
        reason=reason, actor=actor[:128], note=note[:255], created_at=now,
    )
    emit(
        "tier.changed", merchant_id=member.merchant_id, program_id=member.program_id,
        member_id=member.pk, clock=clock,
        data={
            "from": tier_ref(from_tier), "to": tier_ref(to_tier),
            "reason": reason, "actor": actor, "note": note,
        },
    )
    return change


def move(
    *, member_id: int, ladder: cache.Ladder, from_id: int | None, to_tier: Tier | None,
    reason: str, actor: str, now: datetime, note: str = "", clock: Clock = system_clock,
    extra: dict[str, Any] | None = None,
) -> Member | None:
    """Put the member on ``to_tier`` if they are still on ``from_id``; history and event.

    Returns the member as written (``None`` when someone moved them first). ``extra`` are
    further member columns to write in the same statement.
    """
    updated = Member._base_manager.filter(pk=member_id, tier_id=from_id).update(
        tier=to_tier, **(extra or {})
    )
    if not updated:
        return None
    member = Member._base_manager.select_related("tier").get(pk=member_id)
    record_change(
        member=member, from_tier=ladder.by_id.get(from_id) if from_id else None,
        to_tier=to_tier, reason=reason, actor=actor, now=now, note=note, clock=clock,
    )
    return member


def open_override(member_id: int) -> TierOverride | None:
    return TierOverride._base_manager.filter(member_id=member_id, ended_at__isnull=True).first()


def _standing_clear(member_id: int) -> None:
    Standing._base_manager.filter(member_id=member_id).delete()


def tier_lift(
    *, member_id: int, ladder: cache.Ladder, actor: str, clock: Clock = system_clock,
    reason: str = Reason.EARNED,
) -> Tier | None:
    """Move the member up to the highest tier they now qualify for (several rungs at once if
    they crossed several). The caller holds the member lock. ``None`` when nothing changed:
    already there, pinned by an override, or not qualified."""
    row = Member._base_manager.filter(pk=member_id).values(
        "tier_id", "lifetime_points", "tier_value", "tier_offset"
    ).get()
    value = ladder.raw_value(
        lifetime_points=row["lifetime_points"], tier_value=row["tier_value"]
    ) - row["tier_offset"]
    target = ladder.qualified(value)
    if target is None or target.rank <= ladder.rank(row["tier_id"]):
        return None
    if open_override(member_id) is not None:
        return None
    if move(member_id=member_id, ladder=ladder, from_id=row["tier_id"], to_tier=target,
            reason=reason, actor=actor, now=clock.now(), clock=clock) is None:
        return None
    _standing_clear(member_id)
    return target


def tier_place_new_member(*, member: Member, clock: Clock = system_clock) -> Tier | None:
    """A new member starts on the lowest tier when its threshold is zero."""
    ladder = cache.ladder_for(member.program_id)
    target = ladder.qualified(Decimal(0))
    if target is None or member.tier_id is not None:
        return None
    moved = move(member_id=member.pk, ladder=ladder, from_id=None, to_tier=target,
                 reason=Reason.ENROLLED, actor="system:enrol", now=member.enrolled_at,
                 clock=clock)
    if moved is not None:
        member.tier = target
    return target if moved is not None else None


def tier_step_down_for_pause(
    *, member_id: int, ladder: cache.Ladder, actor: str, clock: Clock = system_clock,
) -> Tier | None:
    """A pause of more than 45 days lowers the tier by one (never below the lowest, never
    against an override). The member keeps their points; their progress restarts from the
    lower tier's threshold: the qualifying figure above it is held back (``tier_offset``)."""
    if open_override(member_id) is not None:
        return None
    row = Member._base_manager.filter(pk=member_id).values(
        "tier_id", "lifetime_points", "tier_value", "tier_offset"
    ).get()
    if row["tier_id"] is None:
        return None
    lower = ladder.below(row["tier_id"])
    if lower is None:
        return None
    value = ladder.raw_value(
        lifetime_points=row["lifetime_points"], tier_value=row["tier_value"]
    ) - row["tier_offset"]
    held_back = max(Decimal(0), value - ladder.threshold(lower))
    moved = move(
        member_id=member_id, ladder=ladder, from_id=row["tier_id"], to_tier=lower,
        reason=Reason.STREAK_PAUSE, actor=actor, now=clock.now(), clock=clock,
        note="Paused for more than 45 days",
        extra={"tier_offset": F("tier_offset") + held_back},
    )
    if moved is None:
        return None
    _standing_clear(member_id)
    return lower


# ---------------------------------------------------------------------------------------------
# Overrides


def _check_override(member: Member, tier: Tier, ends_at: datetime | None, reason: str,
                    now: datetime) -> str:
    if tier.program_id != member.program_id:
        raise TierNotFound(field="tier")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidValue("A reason is required.", field="reason")
    if ends_at is not None and ends_at <= now:
        raise InvalidValue("ends_at must be in the future.", field="ends_at")
    return reason


@transaction.atomic
def tier_override_set(
    *, member: Member, tier: Tier, reason: str, actor: str, ends_at: datetime | None = None,
    clock: Clock = system_clock,
) -> TierOverride:
    """Pin the member to ``tier`` (until ``ends_at``, or until cleared). Evaluation leaves them
    there meanwhile; when it ends they return to the better of the tier they qualify for and
    the one they had before the override."""
    now = clock.now()
    reason = _check_override(member, tier, ends_at, reason, now)
    locked = lock_member(member.pk)
    ladder = cache.ladder_for(locked.program_id)
    previous = open_override(locked.pk)
    if previous is not None:
        TierOverride._base_manager.filter(pk=previous.pk).update(ended_at=now, ended_by=actor)
    override = TierOverride._base_manager.create(
        merchant_id=locked.merchant_id, member_id=locked.pk, tier=tier,
        previous_tier_id=previous.previous_tier_id if previous else locked.tier_id,
        reason=reason[:255], actor=actor[:128], ends_at=ends_at, created_at=now,
    )
    if locked.tier_id != tier.pk:
        move(member_id=locked.pk, ladder=ladder, from_id=locked.tier_id, to_tier=tier,
             reason=Reason.OVERRIDE, actor=actor, now=now, note=reason, clock=clock)
    _standing_clear(locked.pk)
    return override


def override_end(
    *, member_id: int, override: TierOverride, actor: str, clock: Clock = system_clock,
) -> Tier | None:
    """End an override (the member lock is held): back to the better of the tier the member
    qualifies for and the one they had before it. Returns the tier they are on."""
    now = clock.now()
    TierOverride._base_manager.filter(pk=override.pk).update(ended_at=now, ended_by=actor[:128])
    member = Member._base_manager.get(pk=member_id)
    ladder = cache.ladder_for(member.program_id)
    qualified = ladder.qualified(ladder.value_of(member))
    before = ladder.by_id.get(override.previous_tier_id) if override.previous_tier_id else None
    target = max((t for t in (qualified, before) if t is not None), key=lambda t: t.rank,
                 default=None)
    current = ladder.by_id.get(member.tier_id) if member.tier_id else None
    if target is not None and target != current:
        move(member_id=member_id, ladder=ladder, from_id=member.tier_id, to_tier=target,
             reason=Reason.OVERRIDE_ENDED, actor=actor, now=now, clock=clock)
        _standing_clear(member_id)
        return target
    return current  # nothing moved: the override's own row tells that it ended


@transaction.atomic
def tier_override_clear(
    *, member: Member, actor: str, clock: Clock = system_clock,
) -> TierOverride:
    """End the member's override now (``TIER_OVERRIDE_NOT_FOUND`` without one); returns it."""
    locked = lock_member(member.pk)
    override = open_override(locked.pk)
    if override is None:
        raise TierOverrideNotFound(field="member")
    override_end(member_id=locked.pk, override=override, actor=actor, clock=clock)
    return TierOverride._base_manager.select_related("tier", "previous_tier").get(pk=override.pk)


# ---------------------------------------------------------------------------------------------
# Rolling windows: daily buckets per member; ``Member.tier_value`` is always their sum.


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def qualifying_add(
    *, ladder: cache.Ladder, member_id: int, day: date, points: int = 0,
    spend: Decimal = Decimal(0),
) -> tuple[Decimal, Decimal, int | None]:
    """Add to the member's bucket for ``day`` and to their window figure, in two statements.

    Returns ``(tier_value, tier_offset, tier_id)`` after it. The caller holds the member lock.
    """
    amount = Decimal(points) if not ladder.spend else spend
    table = connection.ops.quote_name(Qualifying._meta.db_table)
    members = connection.ops.quote_name(Member._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (merchant_id, program_id, member_id, day, points, spend)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (member_id, day) DO UPDATE"
            f" SET points = {table}.points + EXCLUDED.points,"
            f" spend = {table}.spend + EXCLUDED.spend",
            [ladder.merchant_id, ladder.program_id, member_id, day, points, spend],
        )
        cursor.execute(
            f"UPDATE {members} SET tier_value = tier_value + %s WHERE id = %s"
            " RETURNING tier_value, tier_offset, tier_id",
            [amount, member_id],
        )  # only table names are formatted in
        value, offset, tier_id = cursor.fetchone()
    return _decimal(value), _decimal(offset), tier_id


def qualifying_remove_spend(
    *, ladder: cache.Ladder, member_id: int, day: date, amount: Decimal
) -> None:
    """A refund takes its money out of the order's day, while that day is in the window."""
    if not ladder.spend or amount <= 0:
        return
    taken = Qualifying._base_manager.filter(member_id=member_id, day=day).update(
        spend=F("spend") - amount
    )
    if taken:
        Member._base_manager.filter(pk=member_id).update(tier_value=F("tier_value") - amount)


def window_cutoff(ladder: cache.Ladder, now: datetime) -> date:
    """Days after this one are in the rolling window."""
    return add_months(now.astimezone(ladder.tz), -ladder.settings.window_months).date()


def qualifying_rebuild(
    *, program: Program, settings: TierSettings, clock: Clock = system_clock,
    batch_size: int = 2000,
) -> int:
    """Rebuild the program's buckets and window figures from the ledger (points) or the orders
    (spend) of the window: what a switch to a window basis needs. Returns the buckets written.

    Points count as they count towards lifetime points: spendable earns (not points given back
    from a refunded redemption), pending points when they become spendable, positive
    adjustments.
    """
    cache.invalidate(program.pk)
    ladder = cache.ladder_for(program.pk)
    now = clock.now()
    cutoff = window_cutoff(ladder, now)
    since = datetime.combine(cutoff, datetime.min.time(), tzinfo=ladder.tz)
    Qualifying._base_manager.filter(program_id=program.pk).delete()
    if settings.basis == TierSettings.Basis.WINDOW_SPEND:
        from rules.selectors import order_list

        rows = (
            order_list(program=program).filter(occurred_at__gte=since)
            .annotate(day=TruncDate("occurred_at", tzinfo=ladder.tz))
            .values("member_id", "day")
            .annotate(total=Sum(F("amount") - F("amount_refunded")))
            .order_by()
            .values_list("member_id", "day", "total")
        )
    else:
        rows = (
            Entry._base_manager.filter(program_id=program.pk, created_at__gte=since)
            .filter(
                Q(kind__in=[Entry.Kind.EARN, Entry.Kind.AVAILABLE], balance_delta__gt=0)
                | Q(kind=Entry.Kind.ADJUST, points__gt=0)
            )
            .exclude(metadata__has_key="redemption")
            .annotate(day=TruncDate("created_at", tzinfo=ladder.tz))
            .values("member_id", "day")
            .annotate(total=Sum("balance_delta"))
            .order_by()
            .values_list("member_id", "day", "total")
        )
    written = 0
    batch: list[Qualifying] = []
    spend = settings.basis == TierSettings.Basis.WINDOW_SPEND
    for member_id, day, total in rows.iterator(chunk_size=batch_size):
        if day is None or day <= cutoff or not total:
            continue
        batch.append(Qualifying(
            merchant_id=program.merchant_id, program_id=program.pk, member_id=member_id,
            day=day, points=0 if spend else int(total), spend=_decimal(total) if spend else 0,
        ))
        if len(batch) >= batch_size:
            written += len(Qualifying._base_manager.bulk_create(batch))
            batch = []
    if batch:
        written += len(Qualifying._base_manager.bulk_create(batch))
    column = "spend" if spend else "points"
    sums = (
        Qualifying._base_manager.filter(member_id=OuterRef("pk"))
        .order_by().values("member_id").annotate(s=Sum(column)).values("s")[:1]
    )
    Member._base_manager.filter(program_id=program.pk).update(
        tier_value=Coalesce(Subquery(sums, output_field=DecimalField()), Decimal(0))
    )
    return written
