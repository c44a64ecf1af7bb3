"""Reads for the dashboard and the CSV exports: rollups for history, the tail for today.

``program_analytics`` answers one program's figures over a period of days ending today (the
program's time zone). Days the job rolled up come from ``ProgramDay`` and friends; rows added
since the job's snapshot (ids above its watermarks, a primary-key range) are aggregated live
and added. A program the job has not reached yet is aggregated live in full (small programs:
a new merchant's first day). Every query filters on the program, which the caller took from
the request's merchant scope.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from ledger.models import Entry
from loyaltysite.clock import Clock, system_clock
from members.models import Member, Program
from rewards.models import Reward
from rules.models import EarningRule
from tiers.models import Tier

from .models import ProgramDay, ProgramSnapshot, RewardDay, RuleDay
from .services import (
    FLOW_FIELDS,
    days_build,
    local_today,
    rewards_build,
    rules_build,
    snapshot_build,
)

PERIODS = (30, 90, 365)
TOP = 10


@dataclass
class Standing:
    """Members and points outstanding now: the last snapshot plus what came after it."""

    program: Program
    members: int
    active_status: int
    active_30: int
    active_90: int
    spendable: int
    pending: int
    reserved: int
    tiers: list[dict[str, Any]]
    as_of: datetime | None  # when the tier mix and activity figures were counted
    snapshot: ProgramSnapshot

    @property
    def outstanding(self) -> int:
        return self.spendable + self.pending + self.reserved

    def value(self, points: int) -> Decimal:
        return Decimal(points) * self.program.point_value

    @property
    def liability(self) -> Decimal:
        return self.value(self.outstanding)


def latest_snapshot(program: Program) -> ProgramSnapshot | None:
    return ProgramSnapshot.objects.filter(program=program).order_by("-day").first()


def program_standing(*, program: Program, clock: Clock = system_clock,
                     snapshot: ProgramSnapshot | None = None) -> Standing:
    """The program's members and points outstanding now (snapshot + live tail)."""
    snapshot = snapshot or latest_snapshot(program)
    if snapshot is None:
        snapshot = snapshot_build(program=program, now=clock.now())
        stored = False
    else:
        stored = True
    spendable, pending, reserved = snapshot.spendable, snapshot.pending, snapshot.reserved
    members, active = snapshot.members, snapshot.active_status
    if stored:
        marks = snapshot.watermarks
        moved = Entry.objects.filter(program=program, id__gt=marks.get("entry", 0)).aggregate(
            balance=Sum("balance_delta"), pending=Sum("pending_delta"),
            reserved=Sum("reserved_delta"),
        )
        spendable += moved["balance"] or 0
        pending += moved["pending"] or 0
        reserved += moved["reserved"] or 0
        joined = Member.objects.filter(program=program, id__gt=marks.get("member", 0)).aggregate(
            n=Count("id"), active=Count("id", filter=Q(status=Member.Status.ACTIVE)),
        )
        members += joined["n"]
        active += joined["active"]
    return Standing(
        program=program, members=members, active_status=active,
        active_30=snapshot.active_30, active_90=snapshot.active_90,
        spendable=spendable, pending=pending, reserved=reserved,
        tiers=_tier_mix(program, snapshot.tiers), as_of=snapshot.taken_at if stored else None,
        snapshot=snapshot,
    )


def _tier_mix(program: Program, counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each tier of the ladder (best last) with its members and share, then "no tier"."""
    by_tier = {row["tier"]: row["members"] for row in counts}
    total = sum(by_tier.values())
    mix = []
    for tier in Tier.objects.filter(program=program).order_by("rank"):
        n = by_tier.pop(tier.pk, 0)
        mix.append({"tier": tier, "name": tier.name, "colour": tier.colour, "members": n})
    without = sum(by_tier.values())  # no tier, or a tier deleted since the snapshot
    if without or not mix:
        mix.append({"tier": None, "name": None, "colour": "#C0C4CC", "members": without})
    for line in mix:
        line["share"] = (Decimal(line["members"]) * 100 / total).quantize(Decimal("0.1")) \
            if total else Decimal(0)
    return mix


@dataclass
class Analytics:
    """One program's figures over ``days`` days ending ``today``."""

    standing: Standing
    days: int
    start: date
    today: date
    flows: dict[date, dict[str, Any]]
    rules: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def program(self) -> Program:
        return self.standing.program

    def total(self, name: str) -> Any:
        zero = Decimal(0) if name in ("revenue", "refunded") else 0
        return sum((day[name] for day in self.flows.values()), zero)

    @property
    def redemption_rate(self) -> Decimal | None:
        """Points redeemed per point issued in the period, in per cent."""
        return percent(self.total("redeemed"), self.total("issued"))

    @property
    def revenue(self) -> Decimal:
        """Members' order revenue in the period, net of the period's refunds."""
        return self.total("revenue") - self.total("refunded")

    @property
    def repeat_rate(self) -> Decimal | None:
        """The share of the period's orders placed by members who had ordered before."""
        return percent(self.total("repeat_orders"), self.total("orders"))

    @property
    def redeemed_value(self) -> Decimal:
        return self.standing.value(self.total("redeemed"))

    @property
    def roi(self) -> Decimal | None:
        """Revenue per unit of money given back as redeemed points."""
        cost = self.redeemed_value
        return (self.revenue / cost).quantize(Decimal("0.01")) if cost else None

    def months(self) -> list[dict[str, Any]]:
        """Issued, redeemed and expired per calendar month of the period (oldest first)."""
        months: dict[date, dict[str, int]] = {}
        cursor = self.start.replace(day=1)
        while cursor <= self.today:
            months[cursor] = {"issued": 0, "redeemed": 0, "expired": 0}
            cursor = (cursor + timedelta(days=32)).replace(day=1)
        for day, figures in self.flows.items():
            bucket = months.get(day.replace(day=1))
            if bucket is not None:
                for name in bucket:
                    bucket[name] += figures[name]
        return [{"month": month, **figures} for month, figures in months.items()]


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else None


def _add(flows: dict[date, dict[str, Any]], more: dict[date, dict[str, Any]]) -> None:
    for day, figures in more.items():
        if day in flows:
            for name in FLOW_FIELDS:
                flows[day][name] += figures[name]
        else:
            flows[day] = dict(figures)


def program_analytics(*, program: Program, days: int = 30,
                      clock: Clock = system_clock) -> Analytics:
    """The program's figures over the last ``days`` days (today included)."""
    now = clock.now()
    today = local_today(program, now)
    start = today - timedelta(days=days - 1)
    snapshot = latest_snapshot(program)
    flows: dict[date, dict[str, Any]] = {}
    rules: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rewards: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    if snapshot is None:
        _add(flows, days_build(program=program, since=start))
        live_rules = rules_build(program=program, since=start)
        for (_day, reward_id), (n, points) in rewards_build(program=program,
                                                            since=start).items():
            rewards[reward_id][0] += n
            rewards[reward_id][1] += points
    else:
        stored = ProgramDay.objects.filter(program=program, day__gte=start)
        _add(flows, {row["day"]: row for row in stored.values("day", *FLOW_FIELDS)})
        _add(flows, days_build(program=program, since=start, after=snapshot.watermarks))
        live_rules = rules_build(program=program, since=start, after=snapshot.watermarks)
        for row in (RuleDay.objects.filter(program=program, day__gte=start)
                    .values("rule_id").annotate(n=Sum("awards"), points=Sum("points"))
                    .order_by()):
            rules[row["rule_id"]][0] += row["n"]
            rules[row["rule_id"]][1] += row["points"]
        for row in (RewardDay.objects.filter(program=program, day__gte=start)
                    .values("reward_id").annotate(n=Sum("redemptions"), points=Sum("points"))
                    .order_by()):
            rewards[row["reward_id"]][0] += row["n"]
            rewards[row["reward_id"]][1] += row["points"]
    for (_day, rule_id), (n, points) in live_rules.items():
        rules[rule_id][0] += n
        rules[rule_id][1] += points
    for figures in flows.values():
        figures.pop("day", None)
    return Analytics(
        standing=program_standing(program=program, clock=clock, snapshot=snapshot),
        days=days, start=start, today=today, flows=flows,
        rules=_top(EarningRule, rules, "awards"), rewards=_top(Reward, rewards, "redemptions"),
    )


def _top(model: Any, figures: dict[int, list[int]], count_name: str) -> list[dict[str, Any]]:
    ranked = sorted(figures.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))[:TOP]
    names = dict(model.objects.filter(pk__in=[pk for pk, _ in ranked]).values_list("pk", "name"))
    return [
        {"id": pk, "name": names.get(pk, f"#{pk}"), count_name: n, "points": points}
        for pk, (n, points) in ranked
    ]


def live_programs() -> list[Program]:
    """The programs of the request's merchant scope (every merchant's for the operator)."""
    return list(Program.objects.filter(deleted_at__isnull=True).order_by("name", "id"))
