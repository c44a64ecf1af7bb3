"""Streaks: consecutive active cycles, fair pauses, milestone rewards (seed 003, SPEC 7).

A cycle is a day, a week (Monday to Sunday) or a calendar month in the program's time zone.
The first activity in a cycle counts it: the streak goes on when it falls by the member's due
date (the last day of the cycle after the last one counted), and restarts at 1 otherwise. A
missed cycle without a pause breaks the streak (the upkeep job, or the next activity if it
comes first).

Pauses, at most ``pauses_per_year`` started in any 12 months, each up to ``max_pause_days``:
on resumption a pause of 15 days or less keeps the count, 16 to 45 days resets it to 0 (the
tier stays), more than 45 days resets it and lowers the tier by one. Activity during a pause
ends it (the same rules apply to the days it lasted).

Milestones: every ``milestone_every`` cycles the member earns ``count x milestone_points``
points, times their tier's ``streak_multiplier``, plus its ``streak_bonus_points``: the
count decides how much, the tier which policy. A ``StreakReward`` row, unique per member and
cycle, is claimed before the points are credited in the same transaction: whoever races to
pay a milestone, it pays once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from events.outbox import emit, emit_many
from ledger.locking import lock_member
from ledger.services import points_credit
from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import InvalidValue
from members.models import Member

from .. import ladder as cache
from ..errors import (
    StreakAlreadyPaused,
    StreakNotActive,
    StreakNotPaused,
    StreakPauseLimit,
    StreaksDisabled,
)
from ..ladder import Ladder, cycle_end, cycle_start, next_cycle
from ..models import PAUSE_FREEZE_DAYS, PAUSE_RESET_DAYS, StreakPause, StreakReward, Tier
from .standing import tier_step_down_for_pause

ACTIVE, PAUSED, BROKEN = "active", "paused", "broken"
STREAK_FIELDS = ["streak", "streak_state", "streak_cycle", "streak_due", "streak_paused_until"]
# The member columns the streak and tier jobs read (events add the member's figures themselves).
FIGURES = ["id", "merchant_id", "program_id", "card_id", "status", "balance", "pending_points",
           "reserved_points", "lifetime_points", "tier_id", "tier_value", "tier_offset",
           *STREAK_FIELDS]


def milestone_points(ladder: Ladder, tier: Tier | None, count: int) -> int:
    """What reaching ``count`` pays at ``tier`` (0 when it is not a milestone)."""
    settings = ladder.settings
    if not settings.milestone_every or count <= 0 or count % settings.milestone_every:
        return 0
    base = Decimal(count * settings.milestone_points)
    if tier is not None:
        base = base * tier.streak_multiplier + tier.streak_bonus_points
    return int(base.to_integral_value(rounding=ROUND_DOWN))


def next_milestone(ladder: Ladder, tier: Tier | None, count: int) -> tuple[int, int] | None:
    """``(count, points)`` of the member's next milestone, or ``None`` without rewards."""
    every = ladder.settings.milestone_every
    if not every or not ladder.settings.milestone_points:
        return None
    target = (count // every + 1) * every
    return target, milestone_points(ladder, tier, target)


def broken_data(member: Member, *, previous: int, reason: str) -> dict[str, Any]:
    """What ``streak.broken`` says: the member, the count lost and why (``missed_cycle``,
    ``pause_reset``, ``pause_lowered``)."""
    return {"previous_count": previous, "reason": reason}


def _broken_event(member: Member, *, previous: int, reason: str, clock: Clock) -> None:
    emit("streak.broken", merchant_id=member.merchant_id, program_id=member.program_id,
         member_id=member.pk, clock=clock,
         data=broken_data(member, previous=previous, reason=reason))


_COUNT_SQL = """
WITH old AS (
    SELECT id, streak, streak_state, streak_due FROM {table} WHERE id = %(member)s
)
UPDATE {table} m SET
    streak = CASE WHEN old.streak_state = 'active' AND old.streak_due >= %(today)s
                  THEN old.streak + 1 ELSE 1 END,
    streak_state = 'active', streak_cycle = %(start)s, streak_due = %(due)s,
    streak_paused_until = NULL
FROM old
WHERE m.id = old.id AND old.streak_state <> 'paused'
  AND (m.streak_cycle IS NULL OR m.streak_cycle < %(start)s)
RETURNING old.streak, old.streak_state, old.streak_due, {columns}
"""


def _count_in_one_statement(member_id: int, *, today: date, start: date,
                            due: date) -> tuple[Member, int, str, date | None] | None:
    """PostgreSQL: count the cycle in one round trip, reading the streak as it was in the
    same statement. ``None`` when it changed nothing (paused, or counted already)."""
    table = connection.ops.quote_name(Member._meta.db_table)
    columns = [Member._meta.get_field(name).column for name in FIGURES]
    sql = _COUNT_SQL.format(table=table, columns=", ".join(f"m.{c}" for c in columns))
    with connection.cursor() as cursor:
        cursor.execute(sql, {"member": member_id, "today": today, "start": start, "due": due})
        row = cursor.fetchone()
    if row is None:
        return None
    previous, state, previous_due, *values = row
    member = Member(**{Member._meta.get_field(n).attname: v for n, v in zip(FIGURES, values,
                                                                          strict=True)})
    member._state.adding = False
    member._state.db = connection.alias
    return member, previous, state, previous_due


def streak_record_activity(
    *, member_id: int, ladder: Ladder, at: datetime, actor: str, clock: Clock = system_clock,
) -> dict[str, Any] | None:
    """Count the member's activity at ``at`` (the caller holds the member lock).

    Returns the member columns it changed (``None`` when the cycle was counted already), so
    the caller's member instance can show them without reading the row again. On PostgreSQL
    the usual case is one statement; a paused member takes the longer way.
    """
    cycle = ladder.settings.streak_cycle
    today = ladder.today(at)
    start = cycle_start(today, cycle)
    if cache.counted(member_id, start):
        return None
    due = cycle_end(next_cycle(start, cycle), cycle)
    counted = None
    if connection.vendor == "postgresql":
        counted = _count_in_one_statement(member_id, today=today, start=start, due=due)
    updates: dict[str, Any] = {}
    if counted is not None:
        member, previous, state, previous_due = counted
    else:
        member = Member._base_manager.get(pk=member_id)
        if member.streak_state == PAUSED:
            updates.update(_resume(member, ladder, day=today, actor=actor, clock=clock)[0])
        if member.streak_cycle is not None and member.streak_cycle >= start:
            cache.remember_counted(member_id, start)
            return updates or None
        previous, state, previous_due = member.streak, member.streak_state, member.streak_due
    going_on = state == ACTIVE and previous_due is not None and today <= previous_due
    if counted is None:
        member.streak = previous + 1 if going_on else 1
        member.streak_state = ACTIVE
        member.streak_cycle = start
        member.streak_due = due
        member.streak_paused_until = None
        Member._base_manager.filter(pk=member_id).update(
            **{name: getattr(member, name) for name in STREAK_FIELDS}
        )
    if not going_on and state == ACTIVE and previous > 0:
        # Missed a cycle before the upkeep job noticed: the break is reported all the same.
        _broken_event(member, previous=previous, reason="missed_cycle", clock=clock)
    updates.update({name: getattr(member, name) for name in STREAK_FIELDS})
    cache.remember_counted(member_id, start)
    tier = ladder.by_id.get(member.tier_id) if member.tier_id else None
    if milestone_points(ladder, tier, member.streak):
        paid = streak_milestone_pay(member=member, ladder=ladder, cycle=start, actor=actor,
                                    clock=clock)
        if paid is not None and paid.entry_id:
            fresh = Member._base_manager.select_related("tier").get(pk=member_id)
            updates.update({
                "balance": fresh.balance, "pending_points": fresh.pending_points,
                "lifetime_points": fresh.lifetime_points, "tier": fresh.tier,
                "tier_value": fresh.tier_value, "last_activity_at": fresh.last_activity_at,
            })
    return updates


def _claim(member: Member, cycle: date, count: int, points: int, tier: Tier | None,
           now: datetime) -> int | None:
    """Insert the milestone's row, or ``None`` when it exists (the unique constraint decides,
    waiting for a concurrent claimant's commit or rollback)."""
    table = connection.ops.quote_name(StreakReward._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (merchant_id, program_id, member_id, cycle, count, points,"
            " tier_name, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (merchant_id, member_id, cycle) DO NOTHING RETURNING id",
            [member.merchant_id, member.program_id, member.pk, cycle, count, points,
             tier.name if tier else "", now],
        )  # only the table name is formatted in
        row = cursor.fetchone()
    return row[0] if row else None


def streak_milestone_pay(
    *, member: Member, ladder: Ladder, cycle: date, actor: str, clock: Clock = system_clock,
) -> StreakReward | None:
    """Pay the milestone ``member.streak`` reached in ``cycle``, once: ``None`` when it is not
    a milestone, pays nothing, or was paid already."""
    tier = ladder.by_id.get(member.tier_id) if member.tier_id else None
    points = milestone_points(ladder, tier, member.streak)
    if not points:
        return None
    now = clock.now()
    # The caller's transaction (the posting's, or the job's around the member lock): the claim
    # and the credit commit or roll back together, without a savepoint of their own.
    with transaction.atomic(savepoint=False):
        reward_id = _claim(member, cycle, member.streak, points, tier, now)
        if reward_id is None:
            return None
        unit = ladder.settings.get_streak_cycle_display().lower()
        entry = points_credit(
            member=member, points=points, actor=actor, pending_days=0,
            reason=f"Streak of {member.streak} ({unit}s)",
            reference=f"streak:{member.pk}:{cycle.isoformat()}",
            metadata={"streak_milestone": member.streak, "cycle": cycle.isoformat()},
            clock=clock,
        )
        StreakReward._base_manager.filter(pk=reward_id).update(entry=entry)
        emit(
            "streak.milestone", merchant_id=member.merchant_id, program_id=member.program_id,
            member_id=member.pk, clock=clock,
            data={
                "count": member.streak,
                "cycle": ladder.settings.streak_cycle, "cycle_start": cycle.isoformat(),
                "points": points, "tier": tier.name if tier else None, "entry_id": entry.pk,
            },
        )
    reward = StreakReward(
        id=reward_id, merchant_id=member.merchant_id, program_id=member.program_id,
        member_id=member.pk, cycle=cycle, count=member.streak, points=points,
        tier_name=tier.name if tier else "", entry=entry, created_at=now,
    )
    reward._state.adding = False
    return reward


# ---------------------------------------------------------------------------------------------
# Pause and resume


def _ladder_with_streaks(member: Member) -> Ladder:
    ladder = cache.ladder_for(member.program_id)
    if not ladder.settings.streaks_on:
        raise StreaksDisabled("This program has no streaks.", field="member")
    return ladder


def pauses_used(*, member_id: int, today: date) -> int:
    """Pauses started in the 12 months up to ``today``."""
    return StreakPause._base_manager.filter(
        member_id=member_id, started_on__gt=today - timedelta(days=365)
    ).count()


@transaction.atomic
def streak_pause(
    *, member: Member, actor: str, days: int | None = None, reason: str = "",
    clock: Clock = system_clock,
) -> StreakPause:
    """Pause the member's streak for ``days`` (default: the longest the program allows)."""
    ladder = _ladder_with_streaks(member)
    settings = ladder.settings
    if days is None:
        days = settings.max_pause_days
    if isinstance(days, bool) or not isinstance(days, int) or not (
        1 <= days <= settings.max_pause_days
    ):
        raise InvalidValue(
            f"days must be between 1 and {settings.max_pause_days}.", field="days"
        )
    locked = lock_member(member.pk)
    if locked.streak_state == PAUSED:
        raise StreakAlreadyPaused(
            f"The streak is paused until {locked.streak_paused_until}.", field="member"
        )
    if locked.streak_state != ACTIVE:
        raise StreakNotActive("A broken streak starts again with the next activity.",
                              field="member")
    now = clock.now()
    today = ladder.today(now)
    used = pauses_used(member_id=locked.pk, today=today)
    if used >= settings.pauses_per_year:
        raise StreakPauseLimit(
            f"{settings.pauses_per_year} pause(s) in any 12 months; all are used.",
            field="member", pauses_per_year=settings.pauses_per_year, pauses_used=used,
        )
    pause = StreakPause._base_manager.create(
        merchant_id=locked.merchant_id, program_id=locked.program_id, member_id=locked.pk,
        started_on=today, until=today + timedelta(days=days), reason=(reason or "")[:255],
        actor=actor[:128], created_at=now,
    )
    Member._base_manager.filter(pk=locked.pk).update(
        streak_state=PAUSED, streak_paused_until=pause.until
    )
    cache.forget_counted(locked.pk)
    return pause


def pause_outcome(days: int) -> str:
    if days <= PAUSE_FREEZE_DAYS:
        return StreakPause.Outcome.FROZEN
    if days <= PAUSE_RESET_DAYS:
        return StreakPause.Outcome.RESET
    return StreakPause.Outcome.RESET_AND_LOWERED


def resumed_due(ladder: Ladder, now: datetime) -> date:
    """A resumed streak is due by the end of the cycle after the current one."""
    cycle = ladder.settings.streak_cycle
    return cycle_end(next_cycle(cycle_start(ladder.today(now), cycle), cycle), cycle)


def _after_resume(member: Member, outcome: str, *, previous: int, ladder: Ladder, actor: str,
                  clock: Clock, report: bool = True) -> Tier | None:
    """What a resumption's outcome sets off once the member row is written: ``streak.broken``
    for a reset count (unless the caller reports it), one tier down for a pause longer than
    45 days (the tier it returns)."""
    cache.forget_counted(member.pk)
    if report and outcome != StreakPause.Outcome.FROZEN and previous > 0:
        _broken_event(member, previous=previous, reason=f"pause_{outcome}", clock=clock)
    if outcome == StreakPause.Outcome.RESET_AND_LOWERED:
        return tier_step_down_for_pause(member_id=member.pk, ladder=ladder, actor=actor,
                                        clock=clock)
    return None


def _resume(member: Member, ladder: Ladder, *, day: date, actor: str,
            clock: Clock) -> tuple[dict[str, Any], str]:
    """End the member's open pause on ``day`` (the lock is held); ``member`` is updated in
    place. Returns the changed columns and the outcome."""
    pause = StreakPause._base_manager.filter(member_id=member.pk, resumed_on__isnull=True).first()
    outcome = StreakPause.Outcome.FROZEN
    if pause is not None:
        ended = min(day, pause.until)
        outcome = pause_outcome((ended - pause.started_on).days)
        StreakPause._base_manager.filter(pk=pause.pk).update(
            resumed_on=ended, resumed_by=actor[:128], outcome=outcome
        )
    previous = member.streak
    if outcome != StreakPause.Outcome.FROZEN:
        member.streak = 0
    member.streak_state = ACTIVE
    member.streak_paused_until = None
    member.streak_due = resumed_due(ladder, clock.now())
    updates = {name: getattr(member, name) for name in STREAK_FIELDS}
    Member._base_manager.filter(pk=member.pk).update(**updates)
    lowered = _after_resume(member, outcome, previous=previous, ladder=ladder, actor=actor,
                            clock=clock)
    if lowered is not None:
        member.tier = lowered
        updates["tier"] = lowered
    return updates, outcome


def streaks_resume_ended(*, ladder: Ladder, clock: Clock, batch_size: int) -> int:
    """Resume every pause of the program that reached its end, in batches: members locked in
    primary-key order, one statement per outcome for the members and for the pauses, then the
    events and tier steps. Returns how many resumed."""
    today = ladder.today(clock.now())
    due_on = resumed_due(ladder, clock.now())
    ended = StreakPause._base_manager.filter(
        program_id=ladder.program_id, resumed_on__isnull=True, until__lte=today
    )
    actor = "system:streaks"
    resumed = 0
    last = 0
    while True:
        batch = list(ended.filter(pk__gt=last).order_by("pk")
                     .values_list("pk", "member_id", "started_on", "until")[:batch_size])
        if not batch:
            return resumed
        last = batch[-1][0]
        with transaction.atomic():
            members = {m.pk: m for m in Member._base_manager.select_for_update(of=("self",))
                       .filter(pk__in=[b[1] for b in batch]).order_by("pk").only(*FIGURES)}
            still_open = set(StreakPause._base_manager.filter(
                pk__in=[b[0] for b in batch], resumed_on__isnull=True
            ).values_list("pk", flat=True))
            groups: dict[str, list[tuple[int, Member]]] = {}
            for pause_id, member_id, started_on, until in batch:
                member = members.get(member_id)
                if pause_id not in still_open or member is None:
                    continue
                outcome = (pause_outcome((until - started_on).days)
                           if member.streak_state == PAUSED else "")
                groups.setdefault(outcome, []).append((pause_id, member))
            for outcome, rows in groups.items():
                StreakPause._base_manager.filter(pk__in=[p for p, _ in rows]).update(
                    resumed_on=F("until"), resumed_by=actor, outcome=outcome
                )
                if not outcome:  # an open pause of a member who is not paused: just closed
                    continue
                fields: dict[str, Any] = {"streak_state": ACTIVE, "streak_paused_until": None,
                                          "streak_due": due_on}
                if outcome != StreakPause.Outcome.FROZEN:
                    fields["streak"] = 0
                Member._base_manager.filter(pk__in=[m.pk for _, m in rows]).update(**fields)
                counts = {member.pk: member.streak for _, member in rows}
                for _, member in rows:
                    for name, value in fields.items():
                        setattr(member, name, value)
                if outcome != StreakPause.Outcome.FROZEN:
                    emit_many("streak.broken", merchant_id=ladder.merchant_id,
                              program_id=ladder.program_id, clock=clock, members=[
                                  (m.pk, broken_data(m, previous=counts[m.pk],
                                                     reason=f"pause_{outcome}"))
                                  for _, m in rows if counts[m.pk] > 0])
                for _, member in rows:
                    _after_resume(member, outcome, previous=counts[member.pk], ladder=ladder,
                                  actor=actor, clock=clock, report=False)
                resumed += len(rows)


@transaction.atomic
def streak_resume(
    *, member: Member, actor: str, clock: Clock = system_clock, on: date | None = None,
) -> tuple[Member, str]:
    """Resume a paused streak (``on``: the day the pause ended, for the upkeep job); applies
    the pause rules. Returns the member as written and the outcome."""
    ladder = _ladder_with_streaks(member)
    locked = lock_member(member.pk)
    if locked.streak_state != PAUSED:
        raise StreakNotPaused(field="member")
    _, outcome = _resume(locked, ladder, day=on or ladder.today(clock.now()), actor=actor,
                         clock=clock)
    return Member._base_manager.select_related("customer", "tier").get(pk=locked.pk), outcome
