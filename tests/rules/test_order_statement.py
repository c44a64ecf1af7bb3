"""An order's row, its awards and its ``order.recorded`` event: one statement on PostgreSQL,
three writes on SQLite, the same rows either way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from events.models import OutboxEvent
from rules import services
from rules.models import Award, Order
from rules.outbox import order_payload
from rules.services import Customer

pytestmark = pytest.mark.django_db

ITEMS = [{"sku": "ESP", "category": "coffee", "quantity": 2, "price": "3.50"}]


def record(program, member, clock, order_id="A-1"):
    return services.order_record(
        program=program, order_id=order_id, amount=Decimal("7.00"), currency="EUR",
        items=ITEMS, customer=Customer(member=str(member.pk)), actor="t", clock=clock,
    )


def test_the_order_its_awards_and_its_event_are_written_together(program, member, make_rule,
                                                                  clock):
    double = make_rule("order", {"multiplier": "2"})
    coffee = make_rule("category", {"categories": ["coffee"], "multiplier": "3"})

    result = record(program, member, clock)

    order = Order.objects.get(pk=result.order.pk)
    assert order.order_id == "A-1"
    assert order.entry_id == result.order.entry_id is not None
    awards = Award.objects.filter(order=order)
    assert {a.rule_id: a.points for a in awards} == {
        a.rule.pk: a.points for a in result.evaluation.rule_awards}
    assert {a.rule_id for a in awards} == {double.pk, coffee.pk}
    assert {(a.entry_id, a.member_id, a.event_id) for a in awards} == {
        (order.entry_id, member.pk, None)}
    assert all(a.created_at == order.created_at for a in awards)
    earned, recorded = OutboxEvent.objects.filter(member=member).order_by("sequence")
    assert (earned.type, recorded.type) == ("points.earned", "order.recorded")
    assert recorded.sequence == earned.sequence + 1
    assert recorded.data["order"]["order_id"] == "A-1"
    assert recorded.data["order"]["points_earned"] == order.points_earned
    assert recorded.data["order"]["entry"] == order.entry_id
    assert recorded.data["order"]["amount"] == order_payload(order)["amount"]
    assert recorded.data["member"]["balance"] + recorded.data["member"]["pending_points"] == \
        order.points_earned


def test_an_order_without_rule_awards_writes_no_award(program, member, clock):
    result = record(program, member, clock)

    assert Order.objects.filter(pk=result.order.pk).exists()
    assert not Award.objects.exists()
    assert OutboxEvent.objects.filter(type="order.recorded", member=member).count() == 1


def test_a_refused_order_statement_writes_none_of_its_parts(program, member, make_rule, clock):
    make_rule("order", {"multiplier": "2"})
    record(program, member, clock, order_id="A-1")
    awards, events = Award.objects.count(), OutboxEvent.objects.count()

    # the same order id again (the API would replay it): the unique key refuses the statement
    with pytest.raises(IntegrityError), transaction.atomic():
        record(program, member, clock, order_id="A-1")

    assert Order.objects.count() == 1
    assert Award.objects.count() == awards
    assert OutboxEvent.objects.count() == events
