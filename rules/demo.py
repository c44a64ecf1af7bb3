"""Demo data: earning rules of every kind and a month of orders, events and refunds.

Idempotent: rules are matched by name, the history is written only when the program has no
demo order yet. Everything goes through the services, at past times (a moved clock).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from ledger import services as ledger
from loyaltysite.clock import Clock, FrozenClock
from members.models import Member, Merchant, Program

from . import services
from .models import EarningRule, Order
from .services import Customer

ACTOR = "system:demo"
RULES = [
    {"name": "Double points on orders of 50 or more", "kind": "order",
     "config": {"multiplier": "2", "min_amount": "50"}, "priority": 10},
    {"name": "Coffee lovers: 3x on coffee", "kind": "category",
     "config": {"categories": ["coffee"], "multiplier": "3"}},
    {"name": "Beans bonus", "kind": "sku", "config": {"skus": ["BEANS-1KG"], "points_per_item": 25},
     "max_per_member": 10},
    {"name": "Approved product review", "kind": "event", "cooldown_hours": 24,
     "config": {"event_type": "review", "points": 50, "conditions": {"outcome": "approved"}}},
    {"name": "Check in with the app", "kind": "event", "cooldown_hours": 20,
     "config": {"event_type": "check-in", "points": 5,
                "conditions": {"metadata.device.os": ["ios", "android"]}}},
    {"name": "Welcome gift", "kind": "welcome", "config": {"points": 100}},
    {"name": "Birthday treat", "kind": "birthday", "config": {"points": 50}},
    {"name": "Launch month bonus", "kind": "order", "config": {"points": 20},
     "budget_points": 200, "stackable": False, "max_per_member": 1},
]
BEANS = {"sku": "BEANS-1KG", "category": "beans", "quantity": 1, "price": "24.00"}
LATTE = {"sku": "LATTE", "category": "coffee", "quantity": 2, "price": "4.50"}
CAKE = {"sku": "CAKE", "category": "food", "quantity": 1, "price": "3.50"}
MUG = {"sku": "MUG", "category": "merch", "quantity": 1, "price": "18.00"}
BASKETS = [[LATTE, CAKE], [BEANS, LATTE], [MUG, BEANS, BEANS], [LATTE], [BEANS, MUG, CAKE]]


def _rules(program: Program) -> None:
    for spec in RULES:
        if not EarningRule.objects.filter(program=program, name=spec["name"],
                                          deleted_at__isnull=True).exists():
            services.rule_create(program=program, **spec)
    from tiers.models import Tier

    top = Tier.objects.filter(program=program).order_by("-rank").first()
    name = f"{top.name} members earn 1.5x" if top else ""
    if top and not EarningRule.objects.filter(program=program, name=name).exists():
        services.rule_create(program=program, name=name, kind="tier_bonus",
                             config={"tier": top.pk, "multiplier": "1.5"})


def _total(items: list[dict]) -> Decimal:
    return sum((i["quantity"] * Decimal(i["price"]) for i in items), Decimal(0))


def prepare_demo(*, merchant: Merchant, program: Program) -> None:
    """The rules, before the members join: the welcome gift is paid as they enrol."""
    _rules(program)


def seed_demo(*, merchant: Merchant, program: Program, members: list[Member],
              clock: Clock) -> None:
    _rules(program)
    if Order.objects.filter(program=program, order_id__startswith="demo-order-").exists():
        return
    past = FrozenClock(clock.now() - timedelta(days=30))
    for member in members:
        services.award_welcome(member=member, clock=past)
    for week in range(4):
        for index, member in enumerate(members[:6]):
            past.set(clock.now() - timedelta(days=28 - 7 * week, hours=index))
            items = BASKETS[(index + week) % len(BASKETS)]
            services.order_record(
                program=program, order_id=f"demo-order-{week}-{index}", amount=_total(items),
                currency=program.currency, items=items,
                customer=Customer(member=str(member.pk)), actor=ACTOR, clock=past,
            )
            os = ("ios", "android", "web")[(index + week) % 3]
            services.event_record(
                program=program, type="check-in", event_id=f"demo-checkin-{week}-{index}",
                metadata={"device": {"os": os}}, customer=Customer(member=str(member.pk)),
                actor=ACTOR, clock=past,
            )
            if (index + week) % 4 == 0:
                services.event_record(
                    program=program, type="review", event_id=f"demo-review-{week}-{index}",
                    outcome="approved" if week % 2 == 0 else "rejected",
                    metadata={"stars": 3 + index % 3}, customer=Customer(member=str(member.pk)),
                    actor=ACTOR, clock=past,
                )
    past.set(clock.now() - timedelta(days=2))
    services.order_refund(program=program, order_id="demo-order-0-1", amount=Decimal("5.00"),
                          reason="One latte returned", actor=ACTOR, clock=past)
    services.order_refund(program=program, order_id="demo-order-0-2",
                          items=[{"sku": "MUG", "quantity": 1}], reason="Mug arrived broken",
                          actor=ACTOR, clock=past)
    for member in members:
        ledger.points_make_available(member=member, clock=clock)
