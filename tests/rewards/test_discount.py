"""Points as a discount on an order: minimum points, maximum percent, money rounding, refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import CurrencyMismatch, InsufficientPoints, InvalidValue
from members.models import Member
from rewards import services
from rewards.errors import RedeemAboveMaximum, RedeemBelowMinimum
from rewards.models import Redemption
from tests.factories import MemberFactory, ProgramFactory

from .conftest import fund

pytestmark = pytest.mark.django_db


def _program(merchant, **fields):
    defaults = {"currency": "EUR", "point_value": Decimal("0.01"), "min_redeem_points": 0,
                "max_redeem_percent": 100}
    return ProgramFactory(merchant=merchant, **{**defaults, **fields})


def _member(program, points=100_000) -> Member:
    return fund(MemberFactory(program=program), points)


def _check(member, points, order_amount, **kwargs):
    return services.redemption_check(
        member=member, points=points, order_amount=Decimal(order_amount), **kwargs
    )


def _reserve(member, points, order_amount, **kwargs) -> Redemption:
    return services.redemption_reserve(
        member=member, points=points, order_amount=Decimal(order_amount), actor="shop", **kwargs
    )


def test_points_become_money_off_the_order(merchant, clock):
    member = _member(_program(merchant))

    plan = _check(member, 500, "20.00")

    assert plan.discount_amount == Decimal("5.00")
    assert plan.max_points == 2000
    assert plan.min_points == 0


def test_fewer_points_than_the_minimum_are_refused(merchant, clock):
    member = _member(_program(merchant, min_redeem_points=200))

    with pytest.raises(RedeemBelowMinimum) as excinfo:
        _check(member, 199, "50.00")
    assert excinfo.value.extra["min_points"] == 200
    assert _check(member, 200, "50.00").discount_amount == Decimal("2.00")


def test_more_than_the_maximum_percent_of_the_order_is_refused(merchant, clock):
    member = _member(_program(merchant, max_redeem_percent=30))

    with pytest.raises(RedeemAboveMaximum) as excinfo:
        _check(member, 301, "10.00")
    assert excinfo.value.extra["max_points"] == 300
    assert _check(member, 300, "10.00").discount_amount == Decimal("3.00")


def test_the_discount_never_exceeds_the_order_even_at_100_percent(merchant, clock):
    member = _member(_program(merchant, point_value=Decimal("0.03")))

    assert _check(member, 333, "10.00").discount_amount == Decimal("9.99")
    with pytest.raises(RedeemAboveMaximum):
        _check(member, 334, "10.00")


def test_max_points_is_capped_by_the_balance(merchant, clock):
    member = _member(_program(merchant), points=150)

    assert _check(member, 100, "20.00").max_points == 150
    with pytest.raises(InsufficientPoints):
        _check(member, 151, "20.00")


@pytest.mark.parametrize(
    ("currency", "point_value", "points", "order", "discount"),
    [
        ("EUR", "0.01", 1, "1.00", "0.01"),
        ("EUR", "0.015", 3, "1.00", "0.04"),  # 0.045 rounds DOWN, never up
        ("EUR", "0.0199", 100, "5.00", "1.99"),
        ("JPY", "0.5", 3, "100", "1"),  # 1.5 yen: no fractions of a yen
        ("JPY", "1", 250, "1000", "250"),
        ("KWD", "0.0015", 3, "1.000", "0.004"),  # 0.0045 dinar, 3 decimals, down
        ("KWD", "0.001", 1234, "10.000", "1.234"),
    ],
)
def test_the_discount_is_rounded_down_to_the_currency_minor_unit(
    merchant, clock, currency, point_value, points, order, discount
):
    program = _program(merchant, currency=currency, point_value=Decimal(point_value))
    member = _member(program)

    redemption = _reserve(member, points, order)

    assert redemption.discount_amount == Decimal(discount)
    assert redemption.currency == currency


def test_points_worth_less_than_the_smallest_coin_are_refused(merchant, clock):
    member = _member(_program(merchant, currency="JPY", point_value=Decimal("0.4")))

    with pytest.raises(RedeemBelowMinimum):
        _check(member, 2, "100")


@pytest.mark.parametrize(
    ("currency", "amount"), [("JPY", "100.5"), ("EUR", "10.001"), ("KWD", "1.0001"), ("EUR", "0")]
)
def test_an_order_amount_finer_than_the_currency_is_bad_input(merchant, clock, currency, amount):
    member = _member(_program(merchant, currency=currency))

    with pytest.raises(InvalidValue) as excinfo:
        _check(member, 10, amount)
    assert excinfo.value.field == "order_amount"


def test_another_currency_is_a_mismatch(merchant, clock):
    member = _member(_program(merchant))

    with pytest.raises(CurrencyMismatch):
        _check(member, 10, "10.00", currency="USD")
    assert _check(member, 10, "10.00", currency="EUR").discount_amount == Decimal("0.10")


def test_confirming_a_discount_needs_the_order_id(merchant, clock):
    member = _member(_program(merchant))
    redemption = _reserve(member, 500, "20.00")

    with pytest.raises(InvalidValue):
        services.redemption_confirm(redemption=redemption, actor="shop")
    confirmed = services.redemption_confirm(redemption=redemption, actor="shop", order_id="o-1")
    assert (confirmed.status, confirmed.order_id) == ("confirmed", "o-1")


def test_confirm_with_another_order_id_than_reserved_is_refused(merchant, clock):
    member = _member(_program(merchant))
    redemption = _reserve(member, 500, "20.00", order_id="o-1")

    with pytest.raises(InvalidValue):
        services.redemption_confirm(redemption=redemption, actor="shop", order_id="o-2")
    assert services.redemption_confirm(redemption=redemption, actor="shop").order_id == "o-1"


# --- refunds ---------------------------------------------------------------------------------


def _paid_with_points(member, points=1000, order="100.00", order_id="o-1") -> Redemption:
    redemption = _reserve(member, points, order, order_id=order_id)
    return services.redemption_confirm(redemption=redemption, actor="shop")


def _refund(program, amount, order="100.00", order_id="o-1") -> int:
    return services.redemption_refund_for_order(
        program=program, order_id=order_id, refund_amount=Decimal(amount),
        order_amount=Decimal(order), actor="shop",
    )


def test_a_full_refund_gives_every_point_back_spendable_at_once(merchant, clock):
    program = _program(merchant, pending_days=14)  # refunded points are not pending again
    member = _member(program, points=5000)
    _paid_with_points(member)
    lifetime = Member.objects.get(pk=member.pk).lifetime_points

    assert _refund(program, "100.00") == 1000

    member = Member.objects.get(pk=member.pk)
    assert member.balance == 5000
    assert member.lifetime_points == lifetime  # given back, not earned again
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_partial_refunds_add_up_and_never_give_back_more_than_was_spent(merchant, clock):
    program = _program(merchant)
    member = _member(program, points=1000)
    _paid_with_points(member, points=999)

    given = [_refund(program, a) for a in ("33.33", "33.33", "33.33", "0.01", "50.00")]

    assert given == [332, 333, 333, 1, 0]
    assert sum(given) == 999
    assert Member.objects.get(pk=member.pk).balance == 1000
    assert Redemption.objects.get().refunded_points == 999
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_refund_gives_nothing_for_orders_without_confirmed_points(merchant, clock):
    program = _program(merchant)
    member = _member(program)
    _reserve(member, 1000, "100.00", order_id="o-1")  # reserved, never confirmed

    assert _refund(program, "100.00") == 0
    assert _refund(program, "10.00", order_id="unknown") == 0
    assert not Entry.objects.filter(reason__startswith="Points paid on refunded").exists()


def test_a_refund_reaches_a_suspended_member_too(merchant, clock):
    from members.services import member_set_status

    program = _program(merchant)
    member = _member(program, points=1000)
    _paid_with_points(member)
    member_set_status(member=member, status=Member.Status.SUSPENDED)

    assert _refund(program, "50.00") == 500


def test_points_given_back_expire_when_the_points_spent_would_have(merchant, clock):
    from datetime import timedelta

    from ledger.models import Lot
    from members.models import Program

    program = _program(merchant, expiry_policy=Program.ExpiryPolicy.AFTER_EARN, expiry_months=12)
    member = _member(program, points=1000)
    earned_lot = Lot.objects.get(member=member)
    clock.advance(days=200)
    _paid_with_points(member)

    _refund(program, "100.00")

    returned = Lot.objects.filter(member=member).exclude(pk=earned_lot.pk).get()
    assert returned.expires_at == earned_lot.expires_at
    assert returned.expires_at < clock.now() + timedelta(days=200)
