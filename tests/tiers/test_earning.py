"""The tier's earn multiplier, applied by the rules engine at earn time exactly once; the
restrictions that follow a tier (rewards, tier_bonus rules); and what the hook costs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger
from members.models import Member
from rules import services as rules
from rules.services import Customer
from tiers import services

from .conftest import fresh

pytestmark = pytest.mark.django_db


def awards(result) -> dict[str, int]:
    return {a.kind: a.points for a in result.evaluation.awards}


def test_the_tier_multiplier_is_applied_once_per_order(program, ladder, member, earn, order):
    earn(member, 3000)
    assert fresh(member).tier.name == "Gold"

    result = order(member, "10.00")

    assert awards(result) == {"base": 10, "tier": 5}
    assert result.order.points_earned == 15
    assert Member.objects.get(pk=member.pk).lifetime_points == 3015
    assert [a["name"] for a in result.order.awards] == ["Base rate", "Gold tier x1.500"]


def test_the_order_that_lifts_a_member_earns_at_the_tier_they_had(program, ladder, member, earn,
                                                                  order):
    earn(member, 995)

    result = order(member, "10.00")  # crosses Silver's 1000 with these very points

    assert awards(result) == {"base": 10}
    assert result.member.tier.name == "Silver"
    assert awards(order(member, "10.00")) == {"base": 10, "tier": 2}  # 1.25 x 10, rounded down


def test_preview_shows_the_same_tier_benefit(program, ladder, member, earn, clock):
    earn(member, 1000)
    preview = rules.order_preview(program=program, amount=Decimal("40.00"), currency="EUR",
                                  customer=Customer(member=str(member.pk)), clock=clock)
    assert {a.kind: a.points for a in preview.evaluation.awards} == {"base": 40, "tier": 10}


def test_tier_bonus_rules_stack_beside_the_multiplier_and_a_refund_takes_both_back(
    program, ladder, member, earn, order, clock
):
    _, _, gold = ladder
    earn(member, 3000)
    rules.rule_create(program=program, kind="tier_bonus", name="Gold week",
                      config={"tier": gold.pk, "multiplier": "2"})

    result = order(member, "10.00", order_id="gold-1")
    assert awards(result) == {"base": 10, "tier": 5, "tier_bonus": 10}

    rules.order_refund(program=program, order_id="gold-1", amount=Decimal("10.00"), actor="t",
                       clock=clock)
    assert fresh(member).balance == 3000


def test_a_reward_with_a_minimum_tier_opens_once_the_member_reaches_it(program, ladder, member,
                                                                       earn, clock):
    from loyaltysite.errors import RewardUnavailable
    from rewards import services as rewards

    _, silver, _ = ladder
    reward = rewards.reward_create(program=program, name="Oat latte", points_cost=100,
                                   min_tier=silver)
    earn(member, 500)
    with pytest.raises(RewardUnavailable):
        rewards.redemption_reserve(member=member, reward=reward, actor="t", clock=clock)

    earn(member, 500)

    assert rewards.redemption_reserve(member=member, reward=reward, actor="t", clock=clock)


def test_the_member_representation_carries_tier_progress_and_streak(program, ladder, weekly,
                                                                     member, earn, order):
    from members.api.serializers import MemberOut

    earn(member, 2180)
    order(member, "10.00")
    body = MemberOut(fresh(member)).data

    assert body["tier"] == "Silver"
    assert body["tier_id"] == ladder[1].pk
    assert body["tier_progress"] == {"next_tier": {"id": ladder[2].pk, "name": "Gold"},
                                     "points_needed": 320 - 12, "amount_needed": None}
    assert body["streak"] == {"count": 1, "state": "active", "cycle": "week",
                              "next_due": "2026-01-25", "paused_until": None}


def test_rendering_a_member_reads_nothing_more(program, ladder, weekly, member, earn):
    from loyaltysite.api.prototypes import render
    from members.api.serializers import MemberOut

    earn(member, 1500)
    loaded = Member.objects.select_related("customer", "tier").get(pk=member.pk)
    render(MemberOut, loaded)  # the ladder is cached now

    with CaptureQueriesContext(connection) as queries:
        render(MemberOut, loaded)

    assert len(queries) == 0


def _queries_of_an_earn(member) -> int:
    with CaptureQueriesContext(connection) as queries:
        ledger.points_credit(member=member, points=10, actor="t")
    return len(queries)


def test_the_hook_costs_no_query_when_an_earn_crosses_no_threshold(program, member, clock):
    ledger.points_credit(member=member, points=10, actor="t")  # warm the caches
    without = _queries_of_an_earn(member)
    services.tier_create(program=program, name="Silver", rank=1, threshold_points=100_000)
    ledger.points_credit(member=member, points=10, actor="t")

    assert _queries_of_an_earn(member) == without


def test_the_hook_counts_a_streak_in_one_statement_on_postgresql(program, member, clock):
    services.tier_settings_update(program=program, streak_cycle="day", streak_activity="any")
    ledger.points_credit(member=member, points=10, actor="t", metadata={"kind": "welcome"})
    without = _queries_of_an_earn_not_counted(member)

    counted = _queries_of_an_earn(member)

    assert counted == without + (1 if connection.vendor == "postgresql" else 2)
    assert fresh(member).streak == 1


def _queries_of_an_earn_not_counted(member) -> int:
    with CaptureQueriesContext(connection) as queries:
        ledger.points_credit(member=member, points=10, actor="t", metadata={"kind": "birthday"})
    return len(queries)
