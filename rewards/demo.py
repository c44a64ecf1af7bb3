"""Demo data: a small catalog, some rewards redeemed (with vouchers), some reserved.

Idempotent: the catalog is matched by name, and redemptions are only made when the program has
none yet.
"""

from __future__ import annotations

from decimal import Decimal

from ledger import services as ledger
from loyaltysite.clock import Clock
from members.models import Member, Merchant, Program

from . import services
from .models import Redemption, Reward

CATALOG = [
    {"name": "Free coffee", "points_cost": 150, "kind": Reward.Kind.FREE_PRODUCT,
     "description": "Any hot drink, any size."},
    {"name": "5 off your order", "points_cost": 500, "kind": Reward.Kind.FIXED_DISCOUNT,
     "value": Decimal("5.00"), "description": "Five off a purchase of 20 or more."},
    {"name": "10% off a bag of beans", "points_cost": 800,
     "kind": Reward.Kind.PERCENT_DISCOUNT, "value": Decimal("10"), "per_member_limit": 1},
    {"name": "Branded mug", "points_cost": 1200, "kind": Reward.Kind.FREE_PRODUCT,
     "stock": 20},
    {"name": "Barista masterclass", "points_cost": 3000, "kind": Reward.Kind.CUSTOM,
     "stock": 5, "voucher_valid_days": 180,
     "description": "Two hours behind the counter with our head barista."},
]
ACTOR = "system:demo"


def _catalog(program: Program) -> dict[str, Reward]:
    rewards = {}
    for item in CATALOG:
        reward = Reward.objects.filter(
            program=program, name=item["name"], deleted_at__isnull=True
        ).first()
        if reward is None:
            reward = services.reward_create(program=program, **item)
        rewards[reward.name] = reward
    return rewards


def _spendable(member: Member, points: int, clock: Clock) -> Member:
    member = Member.objects.get(pk=member.pk)
    if member.is_active and member.balance < points:
        ledger.points_credit(
            member=member, points=points - member.balance, actor=ACTOR,
            reason="Demo: welcome gift", clock=clock,
        )
    return Member.objects.get(pk=member.pk)


def seed_demo(*, merchant: Merchant, program: Program, members: list[Member],
              clock: Clock) -> None:
    rewards = _catalog(program)
    if Redemption.objects.filter(program=program).exists() or not members:
        return
    coffee, mug = rewards["Free coffee"], rewards["Branded mug"]
    for index, member in enumerate(members[:4]):
        member = _spendable(member, 1600, clock)
        redemption = services.reward_redeem_now(
            member=member, reward=coffee, actor=ACTOR, clock=clock
        )
        if index % 2:
            services.voucher_use(voucher=redemption.voucher, actor=ACTOR,
                                 reference=f"till-{index}", clock=clock)
    # The demo customer also holds a mug for pick-up, and paid part of an order with points.
    first = _spendable(members[0], 1500, clock)
    services.redemption_reserve(member=first, reward=mug, actor=ACTOR, clock=clock)
    discount = services.redemption_reserve(
        member=first, points=200, order_amount=Decimal("24.00"), order_id="demo-order-1",
        actor=ACTOR, clock=clock,
    )
    services.redemption_confirm(redemption=discount, actor=ACTOR, clock=clock)
    for member in members[4:6]:
        member = _spendable(member, 1200, clock)
        services.redemption_reserve(member=member, reward=mug, actor=ACTOR, clock=clock)
