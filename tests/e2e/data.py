"""The browser tests' data: one small shop, built through the services in well under a second
(the full demo takes several, and a transactional test flushes the database after itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django_scopes import scopes_disabled

from ledger import services as ledger
from loyaltysite.clock import FrozenClock, system_clock, use_clock
from members.models import Member, Merchant, Program, StaffMembership
from members.services import customer_get_or_create, member_enrol, merchant_create, staff_attach
from rewards.models import Reward
from rewards.services import reward_create
from rules.models import EarningRule
from rules.services import rule_create

PASSWORD = "e2e-pass-2026"
OWNER = "owner@e2e.test"
MANAGER = "manager@e2e.test"
CUSTOMER = "customer@e2e.test"
RULE = "Double points on orders of 50 or more"
REWARD = "Free coffee"


@dataclass
class Shop:
    merchant: Merchant
    program: Program
    owner: Any
    manager: Any
    customer: Any
    member: Member
    rule: EarningRule
    reward: Reward


def _user(username: str) -> Any:
    return get_user_model().objects.create_user(username=username, email=username,
                                                password=PASSWORD)


def build_shop() -> Shop:
    with scopes_disabled():
        merchant, owner = merchant_create(slug="e2e", name="E2E Coffee", owner_email=OWNER,
                                          owner_password=PASSWORD)
        manager = _user(MANAGER)
        staff_attach(user=manager, merchant=merchant, role=StaffMembership.Role.MANAGER)
        program = Program.objects.create(
            merchant=merchant, name="E2E Rewards", currency="EUR", earn_rate=Decimal("1"),
            point_value=Decimal("0.01"), pending_days=14, min_redeem_points=100,
        )
        rule = rule_create(program=program, name=RULE, kind="order",
                           config={"multiplier": "2", "min_amount": "50"}, priority=10)
        reward = reward_create(program=program, name=REWARD, points_cost=150,
                               kind=Reward.Kind.FREE_PRODUCT,
                               description="Any coffee, any size.")
        user = _user(CUSTOMER)
        customer = customer_get_or_create(merchant=merchant, external_id="e2e-1",
                                          email=CUSTOMER, name="Dana Browser", user=user)
        member = member_enrol(program=program, customer=customer)
        _history(member)
        member.refresh_from_db()
    return Shop(merchant=merchant, program=program, owner=owner, manager=manager,
                customer=user, member=member, rule=rule, reward=reward)


def _history(member: Member) -> None:
    """Six weekly purchases, a redemption and a goodwill adjustment; the last purchase is
    still pending."""
    clock = FrozenClock(system_clock.now() - timedelta(days=45))
    with use_clock(clock):
        for week, points in enumerate([120, 80, 95, 60, 140, 75]):
            clock.advance(days=7)
            ledger.points_make_available(member=member)
            ledger.points_credit(member=member, points=points, actor="system:e2e",
                                 reason="In-store purchase", reference=f"e2e-{week}",
                                 pending_days=14)
            if week == 3:
                ledger.points_debit(member=member, points=100, actor="system:e2e",
                                    reason="Free croissant", reference="e2e-redeem-1")
        ledger.points_adjust(member=member, points=50, actor="system:e2e",
                             reason="Goodwill: order arrived late")
    ledger.points_make_available(member=member)
