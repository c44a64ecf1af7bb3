"""The figures on the known data set (tests/analytics/conftest.py), counted live before the
rollup job has run and from the rollups after it: both must agree with the hand count."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics.jobs import rollup
from analytics.selectors import program_analytics
from analytics.services import rollup_program
from analytics.tables import analytics_tables, csv_cell
from ledger.services import points_credit
from members.models import Member

from ..factories import MemberFactory
from .conftest import at, award, order

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["live", "rolled up"])
def figures(request, known, clock):
    """The program's 90-day analytics, live or from the job's rollups."""
    if request.param == "rolled up":
        rollup(clock=clock, batch_size=500)
    return program_analytics(program=known.program, days=90)


def test_points_issued_redeemed_and_expired_per_month(figures):
    months = {m["month"]: (m["issued"], m["redeemed"], m["expired"]) for m in figures.months()}

    assert months == {
        date(2025, 10, 1): (0, 0, 0),
        date(2025, 11, 1): (0, 0, 0),
        date(2025, 12, 1): (1580, 200, 0),
        date(2026, 1, 1): (300, 0, 80),
    }
    assert (figures.total("issued"), figures.total("redeemed"), figures.total("expired")) == (
        1880, 200, 80)


def test_liability_is_split_spendable_pending_reserved_in_money(figures):
    standing = figures.standing

    assert (standing.spendable, standing.pending, standing.reserved) == (1150, 300, 100)
    assert standing.outstanding == 1550
    assert standing.liability == Decimal("15.50")


def test_redemption_rate_is_points_redeemed_per_point_issued(figures):
    assert figures.redemption_rate == Decimal("10.6")  # 200 / 1,880


def test_members_enrolled_and_active(figures):
    standing = figures.standing

    assert standing.members == 5  # the other merchant's member is not counted
    assert figures.total("enrolled") == 5
    assert (standing.active_30, standing.active_90) == (2, 3)


def test_tier_distribution_counts_every_member_once(figures, known):
    mix = [(line["name"], line["members"], line["share"]) for line in figures.standing.tiers]

    assert mix == [("Silver", 1, Decimal("20.0")), ("Gold", 1, Decimal("20.0")),
                   (None, 3, Decimal("60.0"))]


def test_top_rules_and_rewards(figures):
    assert [(r["name"], r["awards"], r["points"]) for r in figures.rules] == [
        ("Double points", 2, 150), ("Welcome", 1, 20)]
    assert [(r["name"], r["redemptions"], r["points"]) for r in figures.rewards] == [
        ("Free coffee", 1, 200)]


def test_referral_funnel(figures):
    assert (figures.total("codes_shared"), figures.total("referred"),
            figures.total("converted")) == (3, 2, 1)


def test_roi_revenue_and_repeat_purchases_against_points_redeemed(figures):
    assert figures.revenue == Decimal("170.00")
    assert (figures.total("orders"), figures.total("repeat_orders")) == (3, 1)
    assert figures.repeat_rate == Decimal("33.3")
    assert figures.redeemed_value == Decimal("2.00")
    assert figures.roi == Decimal("85.00")


def test_a_shorter_period_counts_only_its_days(known, clock):
    rollup(clock=clock, batch_size=500)

    figures = program_analytics(program=known.program, days=30)  # from 2025-12-17

    assert (figures.total("issued"), figures.total("redeemed"), figures.total("expired")) == (
        300, 200, 80)
    assert figures.total("enrolled") == 2
    assert figures.total("codes_shared") == 0
    assert figures.revenue == Decimal("70.00")  # 30.00 + 50.00 - 10.00


def test_the_other_merchants_rows_are_never_counted(known, clock):
    rollup(clock=clock, batch_size=500)

    rival = program_analytics(program=known.other_program, days=90)
    ours = program_analytics(program=known.program, days=90)

    assert (rival.total("issued"), rival.total("redeemed")) == (9000, 900)
    assert rival.revenue == Decimal("999.00")
    assert [r["name"] for r in rival.rules] == ["Rival rule"]
    assert rival.standing.members == 1
    assert (ours.total("issued"), ours.revenue) == (1880, Decimal("170.00"))


def test_todays_postings_after_the_rollup_count_live(known, clock):
    rollup(clock=clock, batch_size=500)
    clock.set(at("2026-01-15", 15))

    # given: what happens after the job ran (above its watermarks)
    points_credit(member=known.b, points=40, actor="test")
    newcomer = MemberFactory(program=known.program, enrolled_at=clock.now())
    points_credit(member=newcomer, points=10, actor="test")
    order(known.b, "B-1", "20.00", clock.now())
    award(known.welcome, newcomer, 10, clock.now())

    # when
    figures = program_analytics(program=known.program, days=90)

    # then
    assert figures.total("issued") == 1880 + 50
    assert figures.flows[date(2026, 1, 15)]["issued"] == 50
    assert figures.standing.spendable == 1150 + 50
    assert figures.standing.members == 6
    assert figures.total("enrolled") == 6
    assert figures.revenue == Decimal("190.00")
    assert (figures.total("orders"), figures.total("repeat_orders")) == (4, 1)
    assert [(r["name"], r["awards"], r["points"]) for r in figures.rules] == [
        ("Double points", 2, 150), ("Welcome", 2, 30)]


def test_days_follow_the_programs_time_zone(program, clock):
    program.time_zone = "Europe/Berlin"
    program.save(update_fields=["time_zone"])
    member = MemberFactory(program=program, enrolled_at=at("2025-12-01"))
    clock.set(at("2025-12-31", 23))  # already 1 January in Berlin
    points_credit(member=member, points=70, actor="test")
    clock.set(at("2026-01-15"))

    snapshot = rollup_program(program=program)
    figures = program_analytics(program=program, days=90)

    assert snapshot.day == at("2026-01-15").astimezone(ZoneInfo("Europe/Berlin")).date()
    assert set(figures.flows) == {date(2025, 12, 1), date(2026, 1, 1)}  # not 31 December
    assert figures.flows[date(2026, 1, 1)]["issued"] == 70
    assert figures.total("enrolled") == 1


def test_every_table_exports_its_figures(known, clock):
    rollup(clock=clock, batch_size=500)
    tables = analytics_tables(program_analytics(program=known.program, days=90))

    rows = {name: [[csv_cell(c) for c in row] for row in t.rows] for name, t in tables.items()}

    assert set(rows) == {"members", "liability", "months", "tiers", "rules", "rewards",
                         "referrals", "roi"}
    assert rows["liability"][-1] == ["Total", "1550", "15.50"]
    assert rows["months"][2] == ["2025-12", "1580", "200", "0", "12.7"]
    assert rows["months"][-1] == ["Period", "1880", "200", "80", "10.6"]
    assert rows["roi"][0][1] == "170.00"
    assert rows["roi"][-1][1] == "85.00"
    assert rows["referrals"][1][1:] == ["2", "0.67", ""]  # 2 friends from 3 codes
    assert rows["referrals"][2][1:] == ["1", "0.33", "50.0"]


def test_a_member_status_change_is_not_a_flow(known, clock):
    rollup(clock=clock, batch_size=500)
    Member.objects.filter(pk=known.e.pk).update(status=Member.Status.SUSPENDED)

    figures = program_analytics(program=known.program, days=90)

    assert figures.total("issued") == 1880
    assert figures.standing.members == 5
