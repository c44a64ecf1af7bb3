"""Each rule kind, through the order and event services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from rules import services
from rules.models import Award
from rules.services import Customer as Who
from tiers.models import Tier

from .conftest import fresh

pytestmark = pytest.mark.django_db

COFFEE = {"sku": "ESP-1", "category": "coffee", "quantity": 2, "price": "3.00"}
MUG = {"sku": "MUG-1", "category": "merch", "quantity": 1, "price": "14.00"}


def points_by_kind(result) -> dict[str, int]:
    out: dict[str, int] = {}
    for award in result.evaluation.awards:
        out[award.kind] = out.get(award.kind, 0) + award.points
    return out


def test_an_order_without_rules_earns_the_base_rate(order, member):
    result = order("12.50")

    assert result.order.points_earned == 12
    assert points_by_kind(result) == {"base": 12}
    assert fresh(member).balance == 12
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_order_multiplier_awards_the_extra_over_the_base(order, make_rule):
    make_rule("order", {"multiplier": "3"})

    result = order("10.00")

    assert points_by_kind(result) == {"base": 10, "order": 20}
    assert result.order.points_earned == 30


def test_order_rule_below_its_minimum_amount_does_not_fire(order, make_rule):
    make_rule("order", {"points": 50, "min_amount": "20.00"})

    assert points_by_kind(order("19.99")) == {"base": 19}
    assert points_by_kind(order("20.00")) == {"base": 20, "order": 50}


def test_order_points_per_unit_adds_points_per_currency_unit(order, make_rule):
    make_rule("order", {"points_per_unit": "0.5"})

    assert points_by_kind(order("9.00")) == {"base": 9, "order": 4}


def test_category_multiplier_applies_only_to_matching_lines(order, make_rule):
    make_rule("category", {"categories": ["coffee"], "multiplier": "2"})

    result = order("20.00", items=[COFFEE, MUG])

    assert points_by_kind(result) == {"base": 20, "category": 6}


def test_category_rule_uses_the_money_share_when_part_was_paid_with_points(order, make_rule):
    make_rule("category", {"categories": ["coffee"], "points_per_unit": "10"})

    # 20.00 of goods, 5.00 paid with points: each line earns on three quarters of its value
    result = order("15.00", items=[COFFEE, MUG], points_discount=Decimal("5.00"))

    assert points_by_kind(result) == {"base": 15, "category": 45}


def test_sku_points_per_item_counts_quantity(order, make_rule):
    make_rule("sku", {"skus": ["ESP-1"], "points_per_item": 7})

    assert points_by_kind(order("20.00", items=[COFFEE, MUG])) == {"base": 20, "sku": 14}


def test_sku_rule_does_not_fire_for_other_products(order, make_rule):
    make_rule("sku", {"skus": ["TEA-9"], "multiplier": "5"})

    assert points_by_kind(order("20.00", items=[COFFEE, MUG])) == {"base": 20}


def test_tier_bonus_applies_to_no_one_without_the_tier(order, make_rule, program):
    gold = Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=3)
    make_rule("tier_bonus", {"tier": gold.pk, "multiplier": "1.5"})

    assert points_by_kind(order("10.00")) == {"base": 10}


def test_tier_bonus_multiplies_the_base_for_members_of_the_tier(order, make_rule, program,
                                                                member):
    gold = Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=3)
    make_rule("tier_bonus", {"tier": gold.pk, "multiplier": "1.5"})
    member.tier = gold
    member.save(update_fields=["tier"])

    assert points_by_kind(order("10.00")) == {"base": 10, "tier_bonus": 5}


def test_welcome_points_are_awarded_once_on_enrolment(program, make_rule, clock):
    make_rule("welcome", {"points": 100})

    member, created = services.order_record(
        program=program, order_id="first", amount=Decimal("5"), currency="EUR",
        customer=Who(external_id="new-1"), actor="t", clock=clock,
    ).member, True
    services.award_welcome(member=member, clock=clock)  # asking again gives nothing more

    assert created
    assert fresh(member).balance == 100 + 5
    assert Award.objects.filter(member=member, rule__kind="welcome").count() == 1
    assert Entry.objects.filter(member=member, reference="welcome").count() == 1


def test_birthday_points_come_once_a_year(program, member, make_rule, clock):
    make_rule("birthday", {"points": 30})

    assert services.award_birthday(member=member, clock=clock) == 30
    assert services.award_birthday(member=member, clock=clock) == 0
    clock.advance(days=365)
    assert services.award_birthday(member=member, clock=clock) == 30


def test_event_rule_awards_its_fixed_points(program, member, make_rule, clock):
    make_rule("event", {"event_type": "review", "points": 50})

    result = services.event_record(program=program, type="review", event_id="e1",
                                   customer=Who(member=str(member.pk)), actor="t", clock=clock)

    assert result.event.points_earned == 50
    assert fresh(member).balance == 50  # actions are not pending
