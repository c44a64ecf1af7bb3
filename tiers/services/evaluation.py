"""The scheduled work on ladders and streaks, one program at a time, set-based and batched.

Tier evaluation of a program:

1. *Window ageing* (rolling-window bases): buckets that left the window are subtracted from
   their members' window figure and deleted, ``batch_size`` buckets at a time.
2. *Overrides that ended* give their members back to evaluation.
3. *Recovered members* (back at their tier's threshold) stop being watched.
4. *Candidates*: one query over the program's members, in the database, finds those whose
   qualifying tier differs from the tier they hold (a ``CASE`` over the ladder's thresholds),
   ``batch_size`` at a time in id order; only they are read into Python, under their row locks,
   and decided: up at once; down only after ``grace_days`` below the threshold and at most one
   rung per ``evaluation_days``.

Streak upkeep: pauses that reached their end resume (with the pause rules), streaks whose due
date passed break, and any milestone the earn-time path did not pay is paid.

Everything is idempotent: a second run finds nothing left to do. Memory is bounded by the
batch. Rows are locked member first, in primary-key order, like every other writer, so two
workers (or a worker and a request) serialise instead of deadlocking.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Mod

from events.outbox import emit_many
from loyaltysite.clock import Clock
from members.models import Member, Program

from .. import ladder as cache
from ..ladder import Ladder, cycle_start
from ..models import (
    Qualifying,
    Standing,
    StreakReward,
    TierChange,
    TierOverride,
    TierSettings,
)
from . import standing, streaks
from .streaks import FIGURES

logger = logging.getLogger(__name__)
def programs_with_tiers() -> Iterator[int]:
    """Live programs that have a ladder, merchant by merchant."""
    yield from (
        Program._base_manager.filter(deleted_at__isnull=True, tiers__isnull=False)
        .order_by("merchant_id", "id").values_list("id", flat=True).distinct()
    )


def programs_with_streaks() -> Iterator[int]:
    yield from (
        TierSettings._base_manager.filter(program__deleted_at__isnull=True)
        .exclude(streak_cycle=TierSettings.Cycle.OFF)
        .order_by("merchant_id", "program_id").values_list("program_id", flat=True)
    )


def fresh_ladder(program_id: int) -> Ladder:
    cache.invalidate(program_id)
    return cache.ladder_for(program_id)


# ---------------------------------------------------------------------------------------------
# Tier evaluation


def tiers_evaluate(*, program_id: int, clock: Clock, batch_size: int) -> int:
    """Evaluate one program's members; returns the number of tier changes made."""
    ladder = fresh_ladder(program_id)
    if not ladder.tiers:
        return 0
    now = clock.now()
    if ladder.windowed:
        _age_window(ladder, now, batch_size)
        _clamp_offsets(ladder, batch_size)
    changes = _end_overrides(ladder, clock, batch_size)
    _forget_recovered(ladder, now, batch_size)
    return changes + _evaluate_candidates(ladder, now, clock, batch_size)


def _age_window(ladder: Ladder, now: datetime, batch_size: int) -> int:
    """Subtract buckets that left the window from their members' figure; delete them."""
    cutoff = standing.window_cutoff(ladder, now)
    column = "spend" if ladder.spend else "points"
    old = Qualifying._base_manager.filter(program_id=ladder.program_id, day__lte=cutoff)
    aged = 0
    while True:
        with transaction.atomic():
            head = list(old.order_by("id").values_list("id", "member_id")[:batch_size])
            if not head:
                return aged
            member_ids = sorted({m for _, m in head})
            list(Member._base_manager.select_for_update().filter(pk__in=member_ids)
                 .order_by("pk").values_list("pk", flat=True))  # member first, as everyone
            rows = list(Qualifying._base_manager.filter(pk__in=[i for i, _ in head])
                        .values_list("member_id", column))
            totals: dict[int, Decimal] = defaultdict(Decimal)
            for member_id, amount in rows:
                totals[member_id] += Decimal(amount)
            changed = {m: t for m, t in totals.items() if t}
            if changed:
                Member._base_manager.filter(pk__in=list(changed)).update(
                    tier_value=F("tier_value") - Case(
                        *[When(pk=m, then=Value(t)) for m, t in changed.items()],
                        default=Value(Decimal(0)), output_field=DecimalField(),
                    )
                )
            Qualifying._base_manager.filter(pk__in=[i for i, _ in head]).delete()
            aged += len(head)


def _clamp_offsets(ladder: Ladder, batch_size: int) -> None:
    """A window figure that fell lowers what a pause held back from it, so a member is never
    held below their own tier's threshold by both at once."""
    last = 0
    while True:
        rows = list(
            Member._base_manager.filter(program_id=ladder.program_id, tier_offset__gt=0,
                                        pk__gt=last)
            .order_by("pk").values_list("pk", "tier_id", "tier_value", "tier_offset")[:batch_size]
        )
        if not rows:
            return
        last = rows[-1][0]
        for pk, tier_id, value, offset in rows:
            tier = ladder.by_id.get(tier_id) if tier_id else None
            floor = ladder.threshold(tier) if tier is not None else Decimal(0)
            clamped = min(offset, max(Decimal(0), Decimal(value) - floor))
            if clamped != offset:
                Member._base_manager.filter(pk=pk, tier_offset=offset).update(tier_offset=clamped)


def _end_overrides(ladder: Ladder, clock: Clock, batch_size: int) -> int:
    now = clock.now()
    ended = 0
    last = 0
    due = TierOverride._base_manager.filter(
        member__program_id=ladder.program_id, ended_at__isnull=True, ends_at__lte=now
    )
    while True:
        batch = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", "member_id")
                     [:batch_size])
        if not batch:
            return ended
        last = batch[-1][0]
        with transaction.atomic():  # one commit per batch; members locked first, in order
            _lock([member_id for _, member_id in batch])
            still_open = {o.pk: o for o in TierOverride._base_manager.filter(
                pk__in=[pk for pk, _ in batch], ended_at__isnull=True)}
            for override_id, member_id in batch:
                if override_id in still_open:
                    standing.override_end(member_id=member_id, override=still_open[override_id],
                                          actor="system:tiers", clock=clock)
                    ended += 1


def _lock(member_ids: list[int]) -> list[Member]:
    """Lock the members in primary-key order (the order every multi-member writer uses)."""
    return list(Member._base_manager.select_for_update(of=("self",))
                .filter(pk__in=member_ids).order_by("pk"))


def _value_expression(ladder: Ladder) -> ExpressionWrapper:
    raw = F("tier_value") if ladder.windowed else F("lifetime_points")
    return ExpressionWrapper(raw - F("tier_offset"), output_field=DecimalField())


def _ranked(ladder: Ladder, queryset: QuerySet) -> QuerySet:
    """``queryset`` with ``crank`` (rank held) and ``qrank`` (rank qualified for)."""
    return queryset.annotate(
        qvalue=_value_expression(ladder),
        crank=Case(
            *[When(tier_id=t.pk, then=Value(t.rank)) for t in ladder.tiers],
            default=Value(-1), output_field=IntegerField(),
        ),
    ).annotate(
        qrank=Case(
            *[When(qvalue__gte=ladder.threshold(t), then=Value(t.rank))
              for t in reversed(ladder.tiers)],
            default=Value(-1), output_field=IntegerField(),
        ),
    )


def _forget_recovered(ladder: Ladder, now: datetime, batch_size: int) -> None:
    """Stop watching members who are back at their tier's threshold, and drop rows that no
    longer hold anything (not below, last step down longer ago than the period)."""
    period = timedelta(days=ladder.settings.evaluation_days)
    watched = Standing._base_manager.filter(program_id=ladder.program_id)
    last = 0
    while True:
        ids = list(watched.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)
                   [:batch_size])
        if not ids:
            break
        last = ids[-1]
        fine = list(
            _ranked(ladder, Member._base_manager.filter(pk__in=ids))
            .filter(qrank__gte=F("crank")).values_list("pk", flat=True)
        )
        Standing._base_manager.filter(pk__in=fine).update(below_since=None)
    watched.filter(below_since__isnull=True).filter(
        Q(stepped_down_at__isnull=True) | Q(stepped_down_at__lte=now - period)
    ).delete()


def _evaluate_candidates(ladder: Ladder, now: datetime, clock: Clock, batch_size: int) -> int:
    overridden = TierOverride._base_manager.filter(member_id=OuterRef("pk"), ended_at__isnull=True)
    # Below their tier but still within the grace period or the evaluation period: nothing to
    # decide today, so they are not read (or locked) at all.
    waiting = Standing._base_manager.filter(
        member_id=OuterRef("pk"), below_since__isnull=False
    ).filter(
        Q(below_since__gt=now - timedelta(days=ladder.settings.grace_days))
        | Q(stepped_down_at__gt=now - timedelta(days=ladder.settings.evaluation_days))
    )
    candidates = (
        _ranked(ladder, Member._base_manager.filter(program_id=ladder.program_id))
        .exclude(qrank=F("crank"))
        .exclude(Exists(overridden))
        .exclude(Q(qrank__lt=F("crank")) & Exists(waiting))
    )
    changes = 0
    last = 0
    while True:
        ids = list(candidates.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)
                   [:batch_size])
        if not ids:
            return changes
        last = ids[-1]
        changes += _decide(ladder, ids, now, clock)


def _decide(ladder: Ladder, ids: list[int], now: datetime, clock: Clock) -> int:
    """Decide the candidates under their row locks: lift, watch, or step down one rung."""
    grace = timedelta(days=ladder.settings.grace_days)
    period = timedelta(days=ladder.settings.evaluation_days)
    with transaction.atomic():
        members = list(
            Member._base_manager.select_for_update(of=("self",)).filter(pk__in=ids)
            .order_by("pk").only(*FIGURES)
        )
        watched = {s.member_id: s for s in Standing._base_manager.filter(member_id__in=ids)}
        pinned = set(TierOverride._base_manager.filter(
            member_id__in=ids, ended_at__isnull=True).values_list("member_id", flat=True))
        moves: list[tuple[Member, Any, Any]] = []
        watch: list[Standing] = []
        for member in members:
            if member.pk in pinned:
                continue
            target = ladder.qualified(ladder.value_of(member))
            held = ladder.rank(member.tier_id)
            target_rank = target.rank if target is not None else -1
            if target_rank > held:
                moves.append((member, target, None))
                continue
            if target_rank == held:
                continue
            seen = watched.get(member.pk)
            if seen is None or seen.below_since is None:
                watch.append(Standing(
                    member_id=member.pk, merchant_id=member.merchant_id,
                    program_id=member.program_id, below_since=now,
                    stepped_down_at=seen.stepped_down_at if seen else None,
                ))
                continue
            rested = seen.stepped_down_at is None or seen.stepped_down_at + period <= now
            if seen.below_since + grace <= now and rested:
                lower = ladder.below(member.tier_id)
                moves.append((member, lower, seen))
                watch.append(Standing(
                    member_id=member.pk, merchant_id=member.merchant_id,
                    program_id=member.program_id, stepped_down_at=now,
                    below_since=now if (lower is not None and target_rank < lower.rank) else None,
                ))
        if watch:
            Standing._base_manager.bulk_create(
                watch, update_conflicts=True, unique_fields=["member"],
                update_fields=["below_since", "stepped_down_at"],
            )
        lifted = [member.pk for member, _, down in moves if down is None]
        Standing._base_manager.filter(member_id__in=lifted).delete()
        by_target: dict[Any, list[int]] = defaultdict(list)
        for member, target, _ in moves:
            by_target[target.pk if target is not None else None].append(member.pk)
        for target_id, member_ids in by_target.items():
            Member._base_manager.filter(pk__in=member_ids).update(tier_id=target_id)
        history = []
        events = []
        for member, target, _ in moves:
            before = ladder.by_id.get(member.tier_id) if member.tier_id else None
            member.tier_id = target.pk if target is not None else None
            history.append(TierChange(
                merchant_id=member.merchant_id, program_id=member.program_id,
                member_id=member.pk, from_tier=before, to_tier=target,
                from_name=before.name if before else "", to_name=target.name if target else "",
                reason=TierChange.Reason.EVALUATED, actor="system:tiers", created_at=now,
            ))
            events.append((member.pk, {
                "from": standing.tier_ref(before),
                "to": standing.tier_ref(target), "reason": TierChange.Reason.EVALUATED,
                "actor": "system:tiers", "note": "",
            }))
        TierChange._base_manager.bulk_create(history)
        emit_many("tier.changed", merchant_id=ladder.merchant_id, program_id=ladder.program_id,
                  members=events, clock=clock)
    return len(moves)


# ---------------------------------------------------------------------------------------------
# Streak upkeep


def streaks_upkeep(*, program_id: int, clock: Clock, batch_size: int) -> int:
    """Resume pauses that ended, break missed streaks, pay missed milestones. Returns how many
    members it changed."""
    ladder = fresh_ladder(program_id)
    if not ladder.settings.streaks_on:
        return 0
    today = ladder.today(clock.now())
    return (
        streaks.streaks_resume_ended(ladder=ladder, clock=clock, batch_size=batch_size)
        + _break_missed(ladder, today, clock, batch_size)
        + _pay_missed_milestones(ladder, today, clock, batch_size)
    )


def _break_missed(ladder: Ladder, today: Any, clock: Clock, batch_size: int) -> int:
    missed = Member._base_manager.filter(
        program_id=ladder.program_id, streak_state=streaks.ACTIVE, streak_due__lt=today
    )
    broken = 0
    while True:
        with transaction.atomic():
            rows = list(missed.select_for_update(of=("self",)).order_by("pk")
                        .only(*FIGURES)[:batch_size])
            if not rows:
                return broken
            Member._base_manager.filter(pk__in=[m.pk for m in rows]).update(
                streak=0, streak_state=streaks.BROKEN, streak_due=None
            )
            emit_many(
                "streak.broken", merchant_id=ladder.merchant_id, program_id=ladder.program_id,
                clock=clock, members=[
                    (m.pk, streaks.broken_data(m, previous=m.streak, reason="missed_cycle"))
                    for m in rows if m.streak > 0
                ],
            )
            broken += len(rows)


def _pay_missed_milestones(ladder: Ladder, today: Any, clock: Clock, batch_size: int) -> int:
    settings = ladder.settings
    if not settings.milestone_every or not settings.milestone_points:
        return 0
    cycle = settings.streak_cycle
    this = cycle_start(today, cycle)
    previous = cycle_start(this - timedelta(days=1), cycle)
    paid = StreakReward._base_manager.filter(
        member_id=OuterRef("pk"), cycle=OuterRef("streak_cycle")
    )
    due = (
        Member._base_manager.filter(
            program_id=ladder.program_id, status=Member.Status.ACTIVE,
            streak_state=streaks.ACTIVE, streak__gt=0, streak_cycle__gte=previous,
        )
        .annotate(step=Mod("streak", settings.milestone_every)).filter(step=0)
        .exclude(Exists(paid))
    )
    count = 0
    last = 0
    while True:
        ids = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)
                   [:batch_size])
        if not ids:
            return count
        last = ids[-1]
        with transaction.atomic():  # one commit per batch; members locked first, in order
            for member in _lock(ids):
                if member.streak_cycle is None or member.streak_state != streaks.ACTIVE:
                    continue
                count += streaks.streak_milestone_pay(
                    member=member, ladder=ladder, cycle=member.streak_cycle,
                    actor="system:streaks", clock=clock,
                ) is not None


def each_program(program_ids: Iterator[int], work, *, job: str, clock: Clock,
                 batch_size: int) -> int:
    """Run ``work`` for every program; one failing program is logged and the others go on."""
    done = failed = 0
    for program_id in program_ids:
        try:
            done += work(program_id=program_id, clock=clock, batch_size=batch_size)
        except Exception:
            failed += 1
            logger.exception("%s: program %s failed", job, program_id)
    if failed:
        raise RuntimeError(f"{job}: {failed} program(s) failed, {done} changes (see the log)")
    return done


__all__ = ["each_program", "programs_with_streaks", "programs_with_tiers",
           "streaks_upkeep", "tiers_evaluate"]
