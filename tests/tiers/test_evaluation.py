"""Tiers move up at once and down slowly: the earn-time lift and the scheduled evaluation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from events.models import OutboxEvent
from members.models import Member
from members.services import customer_get_or_create, member_enrol
from rules import services as rules
from tiers import jobs, services
from tiers.models import Standing, TierChange, TierSettings

from .conftest import fresh, history

pytestmark = pytest.mark.django_db


def evaluate(clock) -> int:
    return jobs.evaluate_tiers(clock=clock, batch_size=50)


@pytest.fixture
def enrolled(program, ladder, clock):
    """A member enrolled through the service: placed on Bronze, the zero-threshold tier."""
    customer = customer_get_or_create(merchant=program.merchant, external_id="kim")
    return member_enrol(program=program, customer=customer, clock=clock)


def test_a_new_member_starts_on_the_zero_threshold_tier(enrolled):
    assert fresh(enrolled).tier.name == "Bronze"
    assert history(enrolled) == [("", "Bronze", "enrolled")]


def test_an_earn_that_crosses_a_threshold_lifts_the_member_in_the_same_transaction(
    enrolled, earn
):
    earn(enrolled, 999)
    assert fresh(enrolled).tier.name == "Bronze"

    earn(enrolled, 1)

    assert fresh(enrolled).tier.name == "Silver"
    assert history(enrolled)[-1] == ("Bronze", "Silver", "earned")
    event = OutboxEvent.objects.filter(type="tier.changed").latest("id")
    assert (event.data["from"]["name"], event.data["to"]["name"]) == ("Bronze", "Silver")
    assert event.data["member"]["tier_id"] == fresh(enrolled).tier_id


def test_one_earn_crossing_two_thresholds_jumps_two_tiers_in_one_change(enrolled, earn):
    earn(enrolled, 3000)

    assert fresh(enrolled).tier.name == "Gold"
    assert history(enrolled) == [("", "Bronze", "enrolled"), ("Bronze", "Gold", "earned")]


def test_pending_points_lift_the_member_when_they_become_spendable(enrolled, earn, clock):
    from ledger import services as ledger

    earn(enrolled, 1500, pending_days=14)
    assert fresh(enrolled).tier.name == "Bronze"

    clock.advance(days=14)
    ledger.points_make_available(member=enrolled, clock=clock)

    assert fresh(enrolled).tier.name == "Silver"


def test_spending_points_never_lowers_a_lifetime_tier(enrolled, earn, clock):
    from ledger import services as ledger

    earn(enrolled, 1200)
    ledger.points_debit(member=enrolled, points=1200, actor="t")
    clock.advance(days=400)
    evaluate(clock)

    assert fresh(enrolled).tier.name == "Silver"


@pytest.fixture
def windowed(program, ladder, clock):
    """Points earned in a rolling window of 3 months, 10 days of grace, one step per 30."""
    return services.tier_settings_update(program=program, basis="window_points",
                                         window_months=3, grace_days=10, evaluation_days=30)


def test_a_window_basis_requalifies_as_earnings_age_out_one_step_after_the_grace_period(
    windowed, enrolled, earn, clock
):
    # given: Gold on 3000 points earned today
    earn(enrolled, 3000)
    assert fresh(enrolled).tier.name == "Gold"
    # when: the points leave the window (3 months), the member is watched, not lowered
    clock.advance(days=93)
    evaluate(clock)
    member = fresh(enrolled)
    assert (member.tier.name, member.tier_value) == ("Gold", Decimal(0))
    assert Standing.objects.get(member=enrolled).below_since == clock.now()
    # then: after the grace period, one step down only
    clock.advance(days=9)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Gold"
    clock.advance(days=1)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Silver"
    # and the next step waits for the evaluation period, not only the grace period
    clock.advance(days=29)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Silver"
    clock.advance(days=1)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Bronze"
    assert [h[2] for h in history(enrolled)] == ["enrolled", "earned", "evaluated", "evaluated"]


def test_earning_back_during_the_grace_period_keeps_the_tier(windowed, enrolled, earn, clock):
    earn(enrolled, 1200)
    clock.advance(days=93)
    evaluate(clock)
    assert Standing.objects.filter(member=enrolled, below_since__isnull=False).exists()

    earn(enrolled, 1000)
    evaluate(clock)
    clock.advance(days=30)
    evaluate(clock)

    assert fresh(enrolled).tier.name == "Silver"
    assert not Standing.objects.filter(member=enrolled, below_since__isnull=False).exists()


@pytest.mark.parametrize(("days_below", "tier"), [
    (0, "Silver"), (9, "Silver"), (10, "Bronze"), (11, "Bronze"),
])
def test_the_grace_period_boundary(windowed, enrolled, earn, clock, days_below, tier):
    earn(enrolled, 1500)
    clock.advance(days=93)
    evaluate(clock)  # first seen below the threshold
    clock.advance(days=days_below)

    evaluate(clock)

    assert fresh(enrolled).tier.name == tier


def test_the_window_figure_is_always_the_sum_of_the_days_in_the_window(
    windowed, enrolled, earn, clock
):
    from tiers.models import Qualifying

    for _ in range(5):
        earn(enrolled, 100)
        clock.advance(days=30)
    evaluate(clock)

    member = fresh(enrolled)
    in_window = sum(q.points for q in Qualifying.objects.filter(member=enrolled))
    assert member.tier_value == in_window == 300  # the first two months aged out


def test_evaluation_is_idempotent(windowed, enrolled, earn, clock):
    earn(enrolled, 3000)
    clock.advance(days=93)
    evaluate(clock)
    clock.advance(days=10)
    first = evaluate(clock)
    snapshot = (list(TierChange.objects.values_list("id", flat=True)),
                list(Member.objects.values_list("tier_id", "tier_value")),
                list(Standing.objects.values_list("member_id", "below_since", "stepped_down_at")))

    second = evaluate(clock)

    assert (first, second) == (1, 0)
    assert snapshot == (list(TierChange.objects.values_list("id", flat=True)),
                        list(Member.objects.values_list("tier_id", "tier_value")),
                        list(Standing.objects.values_list(
                            "member_id", "below_since", "stepped_down_at")))


def test_evaluation_places_members_who_earned_before_the_ladder_existed(program, member, earn,
                                                                         clock):
    earn(member, 1200)
    services.tier_create(program=program, name="Bronze", rank=1, threshold_points=0)
    services.tier_create(program=program, name="Silver", rank=2, threshold_points=1000)

    assert evaluate(clock) == 1

    assert fresh(member).tier.name == "Silver"
    assert history(member) == [("", "Silver", "evaluated")]


def test_a_lowered_threshold_lifts_members_at_the_next_evaluation(ladder, enrolled, earn, clock):
    _, silver, _ = ladder
    earn(enrolled, 800)
    services.tier_update(tier=silver, threshold_points=700)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Silver"


def test_spend_in_a_window_counts_orders_and_refunds(program, ladder, enrolled, order, clock):
    # given: a spend basis, Silver at 100 EUR
    bronze, silver, gold = ladder
    services.tier_update(tier=silver, threshold_amount=Decimal("100"))
    services.tier_update(tier=gold, threshold_amount=Decimal("500"))
    services.tier_settings_update(program=program, basis="window_spend", window_months=12)
    # when
    order(enrolled, "60.00", order_id="a")
    order(enrolled, "45.50", order_id="b")
    # then: lifted by the order that crossed 100 EUR
    member = fresh(enrolled)
    assert (member.tier.name, member.tier_value) == ("Silver", Decimal("105.50"))
    rules.order_refund(program=program, order_id="b", amount=Decimal("20.00"), actor="t",
                       clock=clock)
    assert fresh(enrolled).tier_value == Decimal("85.50")
    assert fresh(enrolled).tier.name == "Silver"  # lowered only by the evaluation, after grace


def test_switching_to_a_window_basis_rebuilds_the_figures_from_the_ledger(
    program, ladder, enrolled, earn, clock
):
    earn(enrolled, 500)
    clock.advance(days=200)
    earn(enrolled, 700)

    services.tier_settings_update(program=program, basis="window_points", window_months=3)

    assert fresh(enrolled).tier_value == 700


def test_a_basis_that_does_not_fit_the_ladder_is_refused(program, ladder):
    from loyaltysite.errors import InvalidValue

    with pytest.raises(InvalidValue) as refused:
        services.tier_settings_update(program=program, basis="window_spend")
    assert refused.value.field == "threshold_amount"
    assert not TierSettings.objects.filter(program=program, basis="window_spend").exists()


# -- overrides --------------------------------------------------------------------------------


def test_an_override_pins_the_tier_until_it_ends_then_evaluation_resumes(
    ladder, enrolled, earn, clock
):
    bronze, silver, gold = ladder
    earn(enrolled, 1200)
    services.tier_override_set(member=enrolled, tier=gold, reason="Service recovery",
                               ends_at=clock.now() + timedelta(days=30), actor="staff:1")
    assert fresh(enrolled).tier.name == "Gold"

    earn(enrolled, 2000)  # crosses Gold's threshold: the override still decides
    clock.advance(days=29)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Gold"

    clock.advance(days=1)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Gold"  # 3200 points: Gold on its own now
    assert [h[2] for h in history(enrolled)] == ["enrolled", "earned", "override"]


def test_when_an_override_ends_the_member_returns_to_what_they_qualify_for(
    ladder, enrolled, earn, clock
):
    bronze, silver, gold = ladder
    earn(enrolled, 1200)
    services.tier_override_set(member=enrolled, tier=gold, reason="VIP week",
                               ends_at=clock.now() + timedelta(days=7), actor="staff:1")
    clock.advance(days=7)

    evaluate(clock)

    assert fresh(enrolled).tier.name == "Silver"
    assert history(enrolled)[-1] == ("Gold", "Silver", "override_ended")
    assert evaluate(clock) == 0


def test_an_override_can_lower_a_member_and_evaluation_leaves_it(ladder, enrolled, earn, clock):
    bronze, _, _ = ladder
    earn(enrolled, 3000)
    services.tier_override_set(member=enrolled, tier=bronze, reason="Fraud review",
                               actor="staff:1")
    earn(enrolled, 10)
    clock.advance(days=365)
    evaluate(clock)
    assert fresh(enrolled).tier.name == "Bronze"

    services.tier_override_clear(member=enrolled, actor="staff:1")

    assert fresh(enrolled).tier.name == "Gold"


def test_an_override_needs_a_reason_and_a_tier_of_the_program(ladder, enrolled, other_program,
                                                             clock):
    from loyaltysite.errors import InvalidValue, TierNotFound
    from tiers.models import Tier

    with pytest.raises(InvalidValue):
        services.tier_override_set(member=enrolled, tier=ladder[2], reason="  ", actor="x")
    foreign = Tier.objects.create(merchant=other_program.merchant, program=other_program,
                                  name="Gold", rank=3)
    with pytest.raises(TierNotFound):
        services.tier_override_set(member=enrolled, tier=foreign, reason="x", actor="x")


def test_later_earns_never_rewrite_the_tier_history(ladder, enrolled,
                                                                          earn):
    earn(enrolled, 3000)
    rows = list(TierChange.objects.filter(member=enrolled).values_list("id", "to_name"))
    earn(enrolled, 10)
    assert list(TierChange.objects.filter(member=enrolled).values_list("id", "to_name")) == rows
