"""Refunds reverse an order's points in proportion, never more than it earned."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import services as ledger
from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from rules import services
from rules.errors import RefundExceedsOrder
from rules.models import Order

from .conftest import fresh

pytestmark = pytest.mark.django_db


def refund(program, order_id, clock, amount=None, items=None):
    return services.order_refund(
        program=program, order_id=order_id, amount=Decimal(amount) if amount else None,
        items=items, actor="test", clock=clock,
    )


def test_a_full_refund_reverses_every_point(program, member, order, clock):
    order("40.00", order_id="A")

    result = refund(program, "A", clock, "40.00")

    assert result.order.status == Order.Status.REFUNDED
    assert result.refund.points_reversed == 40
    assert fresh(member).balance == 0
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_partial_refund_reverses_in_proportion_rounding_down(program, member, order, clock,
                                                               make_rule):
    make_rule("order", {"multiplier": "2"})
    order("9.99", order_id="A")  # 9 base + 9 bonus = 18

    result = refund(program, "A", clock, "5.00")

    assert result.refund.points_reversed == 9  # floor(18 * 5.00 / 9.99) = floor(9.009)
    assert result.order.status == Order.Status.PARTIALLY_REFUNDED
    assert fresh(member).balance == 9


def test_several_partial_refunds_add_up_to_exactly_what_was_earned(program, member, order,
                                                                   clock):
    order("9.99", order_id="A")  # 9 points

    taken = [refund(program, "A", clock, "3.33").refund.points_reversed for _ in range(3)]

    assert taken == [3, 3, 3]
    assert sum(taken) == 9
    assert fresh(member).balance == 0
    with pytest.raises(RefundExceedsOrder):
        refund(program, "A", clock, "0.01")


def test_rounding_never_creates_or_loses_a_point_over_many_partial_refunds(program, member,
                                                                          order, clock):
    order("10.00", order_id="A")  # 10 points
    taken = [refund(program, "A", clock, "0.70").refund.points_reversed for _ in range(14)]
    taken.append(refund(program, "A", clock, "0.20").refund.points_reversed)

    # after each refund exactly floor(10 * refunded / 10.00) points have been taken back
    running = 0
    for index, points in enumerate(taken[:-1], start=1):
        running += points
        assert running == (10 * 70 * index) // 1000
    assert sum(taken) == 10


def test_a_refund_larger_than_what_is_left_is_refused_and_writes_nothing(
    program, order, clock, snapshot
):
    order("10.00", order_id="A")
    refund(program, "A", clock, "6.00")
    before = snapshot()

    with pytest.raises(RefundExceedsOrder) as refused:
        refund(program, "A", clock, "4.01")

    assert refused.value.field == "amount"
    assert snapshot() == before


def test_a_refund_after_the_points_were_spent_records_the_shortfall(program, member, order,
                                                                   clock):
    order("100.00", order_id="A")
    ledger.points_debit(member=member, points=80, actor="t", clock=clock)

    result = refund(program, "A", clock, "100.00")

    assert (result.refund.points_reversed, result.refund.points_shortfall) == (20, 80)
    assert fresh(member).balance == 0
    assert result.order.points_shortfall == 80
    entry = Entry.objects.get(pk=result.refund.entry_id)
    assert entry.metadata["shortfall"] == 80
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_pending_points_are_reversed_before_spendable_ones(program, member, order, clock):
    program.pending_days = 14
    program.save()
    ledger.points_credit(member=member, points=50, actor="t", clock=clock)  # spendable
    order("30.00", order_id="A")  # 30 pending

    refund(program, "A", clock, "15.00")

    member = fresh(member)
    assert (member.balance, member.pending_points) == (50, 15)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_refund_of_an_order_whose_points_became_spendable_takes_from_the_balance(
    program, member, order, clock
):
    program.pending_days = 7
    program.save()
    order("30.00", order_id="A")
    clock.advance(days=8)
    ledger.points_make_available(member=member, clock=clock)

    refund(program, "A", clock, "30.00")

    member = fresh(member)
    assert (member.balance, member.pending_points) == (0, 0)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_refund_by_items_refunds_their_share_of_the_money(program, member, order, clock):
    items = [
        {"sku": "A", "category": "", "quantity": 2, "price": "10.00"},
        {"sku": "B", "category": "", "quantity": 1, "price": "20.00"},
    ]
    order("30.00", order_id="O", items=items, points_discount=Decimal("10.00"))  # 30 points

    first = refund(program, "O", clock, items=[{"sku": "A", "quantity": 1}])
    rest = refund(program, "O", clock, items=[{"sku": "A", "quantity": 1},
                                              {"sku": "B", "quantity": 1}])

    assert first.refund.amount == Decimal("7.50")  # 10.00 of 40.00 goods, paid 30.00
    assert first.refund.points_reversed == 7
    assert rest.refund.amount == Decimal("22.50")
    assert rest.order.status == Order.Status.REFUNDED
    assert first.refund.points_reversed + rest.refund.points_reversed == 30
    with pytest.raises(RefundExceedsOrder):
        refund(program, "O", clock, items=[{"sku": "B", "quantity": 1}])


def test_a_refund_gives_back_points_that_paid_part_of_the_order(program, member, order, clock,
                                                                monkeypatch):
    import rewards.services

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return 12

    monkeypatch.setattr(rewards.services, "redemption_refund_for_order", fake)
    order("30.00", order_id="A", points_discount=Decimal("10.00"))

    result = refund(program, "A", clock, "15.00")

    assert result.refund.points_returned == 12
    assert calls[0]["order_id"] == "A"
    assert calls[0]["refund_amount"] == Decimal("15.00")
    assert calls[0]["order_amount"] == Decimal("30.00")


def test_refunding_an_order_paid_partly_with_points_gives_those_points_back_in_proportion(
    program, member, order, clock
):
    from rewards import services as rewards

    ledger.points_credit(member=member, points=2000, actor="t", clock=clock)
    redemption = rewards.redemption_reserve(
        member=member, points=1000, order_amount=Decimal("40.00"), order_id="A", actor="t",
        clock=clock,
    )
    rewards.redemption_confirm(redemption=redemption, actor="t", clock=clock)
    order("30.00", order_id="A", points_discount=Decimal("10.00"))  # 10.00 paid with points

    half = refund(program, "A", clock, "15.00")
    rest = refund(program, "A", clock, "15.00")

    assert (half.refund.points_returned, rest.refund.points_returned) == (500, 500)
    assert (half.refund.points_reversed, rest.refund.points_reversed) == (15, 15)
    assert fresh(member).balance == 2000
    assert member_ledger_discrepancies(member_id=member.pk) == []
