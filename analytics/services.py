"""Builds the analytics rollups from the source tables and stores them (the only writer).

Every figure is one aggregate query per source and program, grouped by day in the program's
time zone (``TruncDate``), so the database does the counting; Python only files the grouped
rows. The builders take id bounds per insert-only source: the job builds a day's figures from
the rows up to the snapshot's watermarks, and the dashboard builds what came after them (the
tail, a primary-key range) the same way, so the two add up without counting a row twice.

``rollup_program`` rewrites whole days: what it writes for a day depends only on the source
rows, so running it twice, or re-running a day, changes nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from ledger.models import Entry
from loyaltysite.clock import Clock, system_clock
from members.models import Member, Program
from referrals.models import Referral, ReferralCode
from rewards.models import Redemption
from rules.models import Award, Order, Refund

from .models import ProgramDay, ProgramSnapshot, RewardDay, RuleDay

FLOW_FIELDS = (
    "issued", "redeemed", "expired", "reversed", "adjusted_out", "enrolled", "orders",
    "repeat_orders", "revenue", "refunded", "codes_shared", "referred", "converted",
)
MONEY_FIELDS = ("revenue", "refunded")
# Sources whose rows are only ever inserted: the dashboard adds their rows after the
# snapshot's watermark. Redemptions and referrals change status later, so they are counted
# as of the last run.
TAILED_SOURCES = {"entry": Entry, "member": Member, "order": Order, "award": Award}
ACTIVE_WINDOWS = (30, 90)
# The job rewrites the day before its last run too: rows committed late land in it.
REWRITE_DAYS = 1

Bounds = dict[str, int] | None
Flows = dict[date, dict[str, Any]]


def local_today(program: Program, now: datetime) -> date:
    return now.astimezone(program.tz).date()


def day_start(program: Program, day: date) -> datetime:
    """The first instant of ``day`` in the program's time zone."""
    return datetime.combine(day, time.min, tzinfo=program.tz)


def _window(qs: QuerySet, source: str, *, after: Bounds, upto: Bounds) -> QuerySet:
    if after is not None:
        qs = qs.filter(id__gt=after.get(source, 0))
    if upto is not None:
        qs = qs.filter(id__lte=upto.get(source, 0))
    return qs


def _by_day(qs: QuerySet, field: str, program: Program, since: date | None) -> QuerySet:
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": day_start(program, since)})
    return qs.annotate(day=TruncDate(field, tzinfo=program.tz)).values("day").order_by()


def _empty_day() -> dict[str, Any]:
    return {name: Decimal(0) if name in MONEY_FIELDS else 0 for name in FLOW_FIELDS}


def days_build(*, program: Program, since: date | None, after: Bounds = None,
               upto: Bounds = None) -> Flows:
    """The program's flows per day from ``since`` (all history when ``None``). With ``after``
    only the insert-only sources' rows above those ids are counted (the live tail)."""
    flows: Flows = defaultdict(_empty_day)
    kind = Entry.Kind
    entries = _window(Entry.objects.filter(program=program), "entry", after=after, upto=upto)
    for row in _by_day(entries, "created_at", program, since).annotate(
        issued=Sum("points", filter=Q(kind=kind.EARN) | Q(kind=kind.ADJUST, points__gt=0)),
        redeemed=Sum("points", filter=Q(kind=kind.REDEEM)),
        expired=Sum("points", filter=Q(kind=kind.EXPIRE)),
        reversed=Sum("points", filter=Q(kind=kind.REVERSE)),
        adjusted_out=Sum("points", filter=Q(kind=kind.ADJUST, points__lt=0)),
    ):
        day = flows[row["day"]]
        day["issued"] += row["issued"] or 0
        for name in ("redeemed", "expired", "reversed", "adjusted_out"):
            day[name] -= row[name] or 0

    members = _window(Member.objects.filter(program=program), "member", after=after, upto=upto)
    for row in _by_day(members, "enrolled_at", program, since).annotate(n=Count("id")):
        flows[row["day"]]["enrolled"] += row["n"]

    orders = _window(Order.objects.filter(program=program), "order", after=after, upto=upto)
    earlier = Order.objects.filter(member_id=OuterRef("member_id"), id__lt=OuterRef("id"))
    for row in _by_day(orders.alias(repeat=Exists(earlier)), "created_at", program,
                       since).annotate(n=Count("id"), repeat_n=Count("id", filter=Q(repeat=True)),
                                       revenue=Sum("amount")):
        day = flows[row["day"]]
        day["orders"] += row["n"]
        day["repeat_orders"] += row["repeat_n"]
        day["revenue"] += row["revenue"] or 0

    if after is None:
        # Refunds change no earlier row, but their order decides the program: counted with
        # the status-bearing sources, as of the last run.
        refunds = Refund.objects.filter(order__program=program)
        for row in _by_day(refunds, "created_at", program, since).annotate(total=Sum("amount")):
            flows[row["day"]]["refunded"] += row["total"] or 0
        codes = ReferralCode.objects.filter(program=program)
        for row in _by_day(codes, "created_at", program, since).annotate(n=Count("id")):
            flows[row["day"]]["codes_shared"] += row["n"]
        referrals = Referral.objects.filter(program=program)
        for row in _by_day(referrals, "created_at", program, since).annotate(n=Count("id")):
            flows[row["day"]]["referred"] += row["n"]
        converted = referrals.filter(converted_at__isnull=False)
        for row in _by_day(converted, "converted_at", program, since).annotate(n=Count("id")):
            flows[row["day"]]["converted"] += row["n"]
    return dict(flows)


def rules_build(*, program: Program, since: date | None, after: Bounds = None,
                upto: Bounds = None) -> dict[tuple[date, int], list[int]]:
    """``(day, rule id) -> [awards, points]``."""
    awards = _window(Award.objects.filter(program=program), "award", after=after, upto=upto)
    return {
        (row["day"], row["rule_id"]): [row["n"], row["points"] or 0]
        for row in _by_day(awards, "created_at", program, since)
        .values("day", "rule_id").annotate(n=Count("id"), points=Sum("points"))
    }


def rewards_build(*, program: Program, since: date | None) -> dict[tuple[date, int], list[int]]:
    """``(day, reward id) -> [redemptions, points]`` of confirmed reward redemptions."""
    confirmed = Redemption.objects.filter(
        program=program, kind=Redemption.Kind.REWARD, status=Redemption.Status.CONFIRMED,
    )
    return {
        (row["day"], row["reward_id"]): [row["n"], row["points"] or 0]
        for row in _by_day(confirmed, "confirmed_at", program, since)
        .values("day", "reward_id").annotate(n=Count("id"), points=Sum("points"))
    }


def watermarks_read(*, program: Program) -> dict[str, int]:
    """The highest id of each insert-only source in the program (primary-key lookups)."""
    return {
        source: model.objects.filter(program=program).aggregate(top=Max("id"))["top"] or 0
        for source, model in TAILED_SOURCES.items()
    }


def snapshot_build(*, program: Program, now: datetime) -> ProgramSnapshot:
    """The program's standing now (unsaved): members, activity, points outstanding, tiers."""
    watermarks = watermarks_read(program=program)
    members = Member.objects.filter(program=program)
    figures = members.aggregate(
        members=Count("id"),
        active_status=Count("id", filter=Q(status=Member.Status.ACTIVE)),
        **{
            f"active_{days}": Count(
                "id", filter=Q(last_activity_at__gte=now - timedelta(days=days))
            )
            for days in ACTIVE_WINDOWS
        },
        spendable=Sum("balance"),
        pending=Sum("pending_points"),
        reserved=Sum("reserved_points"),
    )
    tiers = [
        {"tier": row["tier_id"], "members": row["n"]}
        for row in members.values("tier_id").annotate(n=Count("id")).order_by("tier_id")
    ]
    return ProgramSnapshot(
        merchant_id=program.merchant_id, program=program, day=local_today(program, now),
        taken_at=now, tiers=tiers, watermarks=watermarks,
        **{name: value or 0 for name, value in figures.items()},
    )


@contextmanager
def _consistent_read() -> Iterator[None]:
    """One transaction; on PostgreSQL a repeatable-read one, so the watermarks, the member
    figures and the day totals all come from one snapshot of the database."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def rollup_program(*, program: Program, since: date | None = None,
                   clock: Clock = system_clock) -> ProgramSnapshot:
    """Rewrite the program's rollups from ``since`` (every day when ``None``) to today, and
    store today's snapshot. Idempotent: the rows written depend only on the source rows."""
    now = clock.now()
    with _consistent_read():
        snapshot = snapshot_build(program=program, now=now)
        marks = snapshot.watermarks
        flows = days_build(program=program, since=since, upto=marks)
        rules = rules_build(program=program, since=since, upto=marks)
        rewards = rewards_build(program=program, since=since)

        scope = {"merchant_id": program.merchant_id, "program": program}
        later = {"day__gte": since} if since is not None else {}
        for model in (ProgramDay, RuleDay, RewardDay):
            model.objects.filter(**scope, **later).delete()
        ProgramDay.objects.bulk_create(
            ProgramDay(**scope, day=day, computed_at=now, **figures)
            for day, figures in sorted(flows.items())
            if since is None or day >= since
        )
        RuleDay.objects.bulk_create(
            RuleDay(**scope, day=day, rule_id=rule_id, awards=n, points=points)
            for (day, rule_id), (n, points) in rules.items()
            if since is None or day >= since
        )
        RewardDay.objects.bulk_create(
            RewardDay(**scope, day=day, reward_id=reward_id, redemptions=n, points=points)
            for (day, reward_id), (n, points) in rewards.items()
            if since is None or day >= since
        )
        ProgramSnapshot.objects.filter(**scope, day=snapshot.day).delete()
        snapshot.save()
    return snapshot


def rollup_since(*, program: Program) -> date | None:
    """Where the job starts for ``program``: the day before its last run (every day at first)."""
    last = (ProgramSnapshot.objects.filter(program=program).order_by("-day")
            .values_list("day", flat=True).first())
    return None if last is None else last - timedelta(days=REWRITE_DAYS)
