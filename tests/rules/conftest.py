"""Fixtures of the earning tests: rule makers, an order poster, a snapshot of everything."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.models import Entry, IdempotencyKey, Lot
from members.models import Customer, Member
from rules import services
from rules.models import Award, EarningRule, Event, Order, Refund
from rules.services import Customer as Who


@pytest.fixture
def make_rule(program, clock):
    """``make_rule(kind, config, **fields)`` through the service (validated like the API)."""

    def make(kind: str = "order", config: dict | None = None, *, target=None, **fields):
        return services.rule_create(
            program=target or program, kind=kind, config=config or {"multiplier": "2"},
            name=fields.pop("name", f"{kind} rule"), clock=clock, **fields,
        )

    return make


@pytest.fixture
def order(program, member, clock):
    """``order(amount, order_id=..., items=..., **kw)``: record an order for ``member``."""
    counter = iter(range(1, 10_000))

    def record(amount: str | Decimal = "10.00", *, who=None, target=None, **kwargs):
        target = target or program
        kwargs.setdefault("order_id", f"o-{next(counter)}")
        kwargs.setdefault("currency", target.currency)
        return services.order_record(
            program=target, amount=Decimal(str(amount)),
            customer=who or Who(member=str(member.pk)), actor="test", clock=clock, **kwargs,
        )

    return record


@pytest.fixture
def snapshot():
    """Everything an earning write could change; compare before and after a refused call."""

    def take() -> tuple:
        return (
            list(Entry.objects.values_list("id", flat=True)),
            list(Lot.objects.values_list("id", "remaining", "pending")),
            list(Member.objects.values_list("id", "balance", "pending_points", "lifetime_points")),
            list(Customer.objects.values_list("id", flat=True)),
            list(Order.objects.values_list("id", "amount_refunded", "points_reversed")),
            list(Refund.objects.values_list("id", flat=True)),
            list(Event.objects.values_list("id", flat=True)),
            list(Award.objects.values_list("id", flat=True)),
            list(EarningRule.objects.values_list("id", "config", "budget_spent", "deleted_at")),
            list(IdempotencyKey.objects.values_list("id", flat=True)),
        )

    return take


def fresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)
