"""Streaks: weekly activity, missed cycles, fair pauses, milestones (clock-driven)."""

from __future__ import annotations

from datetime import date

import pytest

from events.models import OutboxEvent
from ledger.models import Entry
from loyaltysite.errors import InvalidValue
from members.services import customer_get_or_create, member_enrol
from tiers import jobs, services
from tiers.errors import (
    StreakAlreadyPaused,
    StreakNotPaused,
    StreakPauseLimit,
    StreaksDisabled,
)
from tiers.models import StreakPause, StreakReward

from .conftest import fresh, history

pytestmark = pytest.mark.django_db

# The tests' clock starts on Thursday 15 January 2026, 12:00 UTC (week of Monday 12 January).


def upkeep(clock) -> int:
    return jobs.streak_upkeep(clock=clock, batch_size=50)


@pytest.fixture
def regular(program, ladder, weekly, clock):
    """A Silver member (1200 lifetime points) enrolled through the service."""
    from ledger import services as ledger

    customer = customer_get_or_create(merchant=program.merchant, external_id="ana")
    member = member_enrol(program=program, customer=customer, clock=clock)
    ledger.points_adjust(member=member, points=1200, reason="history", actor="test")
    assert fresh(member).tier.name == "Silver"
    return member


def streak(member) -> tuple[int, str]:
    member = fresh(member)
    return member.streak, member.streak_state


def test_an_order_a_week_grows_the_streak_and_sets_the_next_due_date(regular, order, weeks):
    order(regular)
    member = fresh(regular)
    assert (member.streak, member.streak_cycle, member.streak_due) == (
        1, date(2026, 1, 12), date(2026, 1, 25))

    weeks(1)
    order(regular)
    order(regular)  # a second order in the same week counts once

    assert streak(regular) == (2, "active")
    assert fresh(regular).streak_due == date(2026, 2, 1)


def test_the_order_response_shows_the_streak_without_reading_the_member_again(regular, order):
    result = order(regular)
    assert (result.member.streak, result.member.streak_state) == (1, "active")


def test_a_missed_week_breaks_the_streak_at_upkeep_and_only_once(regular, order, weeks, clock):
    order(regular)
    weeks(1)
    order(regular)
    weeks(1)
    assert upkeep(clock) == 0  # due by Sunday 1 February: not missed yet

    weeks(1)  # Thursday 5 February: the week of 26 January had no order
    assert upkeep(clock) == 1

    assert streak(regular) == (0, "broken")
    event = OutboxEvent.objects.get(type="streak.broken")
    assert (event.data["previous_count"], event.data["reason"]) == (2, "missed_cycle")
    assert upkeep(clock) == 0
    order(regular)
    assert streak(regular) == (1, "active")


def test_an_order_after_a_missed_week_restarts_the_streak_even_before_upkeep(regular, order,
                                                                            weeks):
    order(regular)
    weeks(2)
    order(regular)
    assert streak(regular) == (1, "active")
    assert OutboxEvent.objects.filter(type="streak.broken").count() == 1


def test_cycles_follow_the_program_time_zone(program, regular, order, clock):
    from datetime import UTC, datetime

    program.time_zone = "Pacific/Auckland"  # UTC+13 in January
    program.save(update_fields=["time_zone"])
    from tiers import ladder

    ladder.clear()
    clock.set(datetime(2026, 1, 18, 10, 0, tzinfo=UTC))  # Sunday UTC, Sunday 23:00 Auckland
    order(regular)
    clock.set(datetime(2026, 1, 18, 11, 30, tzinfo=UTC))  # Monday 00:30 in Auckland
    order(regular)

    assert streak(regular) == (2, "active")
    assert fresh(regular).streak_cycle == date(2026, 1, 19)


def test_only_what_the_program_counts_is_activity(program, regular, earn, order, clock):
    earn(regular, 50)  # a manual earn: not an order
    assert streak(regular) == (0, "active")

    services.tier_settings_update(program=program, streak_activity="event_types",
                                  streak_event_types=["check-in"])
    from rules import services as rules
    from rules.services import Customer

    rules.rule_create(program=program, kind="event", name="check in",
                      config={"event_type": "check-in", "points": 5})
    rules.rule_create(program=program, kind="event", name="review",
                      config={"event_type": "review", "points": 5})
    order(regular)
    rules.event_record(program=program, type="review", customer=Customer(member=str(regular.pk)),
                       actor="t", clock=clock)
    assert streak(regular) == (0, "active")

    rules.event_record(program=program, type="check-in",
                       customer=Customer(member=str(regular.pk)), actor="t", clock=clock)
    assert streak(regular) == (1, "active")


def test_any_earn_counts_but_automatic_awards_do_not(program, regular, earn, clock):
    services.tier_settings_update(program=program, streak_activity="any")
    earn(regular, 10, metadata={"kind": "welcome"})
    assert streak(regular) == (0, "active")
    earn(regular, 10)
    assert streak(regular) == (1, "active")


# -- pauses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "outcome", "count", "tier"), [
    (15, "frozen", 3, "Silver"),
    (16, "reset", 0, "Silver"),
    (45, "reset", 0, "Silver"),
    (46, "lowered", 0, "Bronze"),
])
def test_the_pause_rules_at_every_boundary(regular, order, weeks, clock, days, outcome, count,
                                           tier):
    # given: a three-week streak on Silver
    for _ in range(3):
        order(regular)
        weeks(1)
    services.streak_pause(member=regular, days=60, actor="test")
    # when
    clock.advance(days=days)
    member, got = services.streak_resume(member=regular, actor="test")
    # then
    assert (got, member.streak, member.streak_state, member.tier.name) == (
        outcome, count, "active", tier)
    assert StreakPause.objects.get(member=regular).outcome == outcome


@pytest.mark.parametrize(("days", "count", "tier"), [
    (15, 3, "Silver"), (16, 0, "Silver"), (45, 0, "Silver"), (46, 0, "Bronze"),
])
def test_a_pause_that_runs_its_course_is_resumed_by_upkeep_with_the_same_rules(
    regular, order, weeks, clock, days, count, tier
):
    for _ in range(3):
        order(regular)
        weeks(1)
    services.streak_pause(member=regular, days=days, actor="test")
    clock.advance(days=days - 1)
    upkeep(clock)
    assert streak(regular) == (3, "paused")  # not broken while paused, not resumed early

    clock.advance(days=1)
    upkeep(clock)

    member = fresh(regular)
    assert (member.streak, member.streak_state, member.tier.name) == (count, "active", tier)


def test_a_frozen_streak_goes_on_with_the_next_order(regular, order, weeks, clock):
    order(regular)
    weeks(1)
    order(regular)
    services.streak_pause(member=regular, days=10, actor="test")
    clock.advance(days=10)
    upkeep(clock)
    order(regular)
    assert streak(regular) == (3, "active")


def test_an_order_during_a_pause_ends_it(regular, order, weeks, clock):
    order(regular)
    weeks(1)
    services.streak_pause(member=regular, days=30, actor="test")
    clock.advance(days=5)

    order(regular)

    assert streak(regular) == (2, "active")
    pause = StreakPause.objects.get(member=regular)
    assert (pause.resumed_on, pause.outcome) == (date(2026, 1, 27), "frozen")


def test_a_long_pause_lowers_the_tier_and_progress_restarts_from_the_lower_threshold(
    regular, order, weeks, clock, earn
):
    from members.api.serializers import MemberOut

    order(regular)
    services.streak_pause(member=regular, days=60, actor="test")
    clock.advance(days=50)
    services.streak_resume(member=regular, actor="test")
    member = fresh(regular)
    assert member.tier.name == "Bronze"
    assert history(regular)[-1] == ("Silver", "Bronze", "streak_pause")
    # 1210 lifetime points, but progress restarts from Bronze's threshold (0): 1000 to Silver
    progress = MemberOut(member).data["tier_progress"]
    assert progress == {"next_tier": {"id": member.tier.program.tiers.get(name="Silver").pk,
                                      "name": "Silver"},
                        "points_needed": 1000, "amount_needed": None}

    earn(regular, 999)
    jobs.evaluate_tiers(clock=clock, batch_size=50)
    assert fresh(regular).tier.name == "Bronze"
    earn(regular, 1)
    jobs.evaluate_tiers(clock=clock, batch_size=50)
    assert fresh(regular).tier.name == "Silver"


def test_pauses_are_limited_per_twelve_months(regular, clock):
    for _ in range(2):
        services.streak_pause(member=regular, days=3, actor="test")
        clock.advance(days=3)
        services.streak_resume(member=regular, actor="test")

    with pytest.raises(StreakPauseLimit) as refused:
        services.streak_pause(member=regular, days=3, actor="test")
    assert refused.value.extra["pauses_per_year"] == 2

    clock.advance(days=365)
    services.streak_pause(member=regular, days=3, actor="test")
    assert fresh(regular).streak_state == "paused"


def test_pause_and_resume_refusals(program, regular, clock):
    with pytest.raises(StreakNotPaused):
        services.streak_resume(member=regular, actor="t")
    with pytest.raises(InvalidValue) as too_long:
        services.streak_pause(member=regular, days=91, actor="t")
    assert too_long.value.field == "days"
    services.streak_pause(member=regular, actor="t")  # the longest the program allows
    assert fresh(regular).streak_paused_until == date(2026, 4, 15)
    with pytest.raises(StreakAlreadyPaused):
        services.streak_pause(member=regular, days=3, actor="t")
    services.tier_settings_update(program=program, streak_cycle="off")
    with pytest.raises(StreaksDisabled):
        services.streak_resume(member=regular, actor="t")


# -- milestones -------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "reward"), [
    ("Bronze", 40),  # 4 weeks x 10 points
    ("Silver", 60),  # x 1.5
    ("Gold", 130),  # x 2 + 50
])
def test_every_fourth_week_pays_a_reward_the_tier_chooses_the_policy(
    regular, order, weeks, tier, reward
):
    from tiers.models import Tier

    if tier != "Silver":  # the member earned Silver; an override sets the others
        services.tier_override_set(member=regular, tier=Tier.objects.get(name=tier),
                                   reason="test", actor="t")
    for _ in range(3):
        order(regular)
        weeks(1)
    assert not StreakReward.objects.exists()

    result = order(regular, "1.00")

    paid = StreakReward.objects.get(member=regular)
    assert (paid.count, paid.points, paid.tier_name, paid.cycle) == (4, reward, tier,
                                                                     date(2026, 2, 2))
    entry = Entry.objects.get(pk=paid.entry_id)
    assert (entry.points, entry.reference) == (reward, f"streak:{regular.pk}:2026-02-02")
    assert OutboxEvent.objects.get(type="streak.milestone").data["points"] == reward
    assert result.member.balance == fresh(regular).balance  # the response includes the reward


def test_a_milestone_pays_once_whoever_asks(regular, order, weeks, clock):
    from tiers import ladder as cache
    from tiers.services.streaks import streak_milestone_pay

    for _ in range(4):
        order(regular)
        weeks(1)
    member = fresh(regular)
    again = streak_milestone_pay(member=member, ladder=cache.ladder_for(member.program_id),
                                 cycle=member.streak_cycle, actor="t", clock=clock)

    assert again is None
    assert StreakReward.objects.count() == 1
    assert Entry.objects.filter(metadata__has_key="streak_milestone").count() == 1


def test_upkeep_pays_a_milestone_the_earn_did_not(program, regular, order, weeks, clock):
    services.tier_settings_update(program=program, milestone_every=0)
    for _ in range(4):
        order(regular)
        weeks(1)
    services.tier_settings_update(program=program, milestone_every=4)

    assert upkeep(clock) == 1
    assert StreakReward.objects.get(member=regular).count == 4
    assert upkeep(clock) == 0


def test_upkeep_reports_each_break_with_the_members_next_event_number(program, weekly, order,
                                                                      weeks, clock):
    from tests.factories import MemberFactory

    members = [MemberFactory(program=program) for _ in range(3)]
    for member in members:
        order(member)
    weeks(2)

    upkeep(clock)

    events = OutboxEvent.objects.filter(type="streak.broken").order_by("member_id")
    assert [e.member_id for e in events] == [m.pk for m in members]
    assert all(e.sequence == fresh(e.member).event_sequence for e in events)
    assert {e.data["previous_count"] for e in events} == {1}
