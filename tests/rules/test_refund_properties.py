"""Property: no sequence of partial refunds reverses more points than the order earned, and a
full refund reverses exactly what it earned."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import services

from .conftest import fresh

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=1, max_value=100_000)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=cents, multiplier=st.sampled_from(["1.5", "2", "3.3"]),
       parts=st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=6),
       finish=st.booleans())
def test_partial_refunds_never_reverse_more_than_was_earned(
    program, member, order, clock, make_rule, amount, multiplier, parts, finish
):
    if not program.rules.exists():
        make_rule("order", {"multiplier": multiplier})
    total = Decimal(amount) / 100
    placed = order(total)
    earned, order_id = placed.order.points_earned, placed.order.order_id
    # split the amount in proportion to parts, in cents, never beyond it
    weights = sum(parts) + (0 if finish else 1)
    refunds = [amount * p // weights for p in parts]
    if finish:
        refunds[-1] += amount - sum(refunds)
    reversed_total = 0
    refunded = 0
    for cents_back in refunds:
        if cents_back == 0:
            continue
        refunded += cents_back
        result = services.order_refund(program=program, order_id=order_id,
                                       amount=Decimal(cents_back) / 100, actor="t", clock=clock)
        reversed_total += result.refund.points_reversed
        assert reversed_total == earned * refunded // amount
    assert reversed_total <= earned
    if refunded == amount:
        assert reversed_total == earned
    assert fresh(member).balance >= 0
