"""A small program whose figures are known by hand (the clock stands at 2026-01-15 12:00 UTC).

Members A, B, C enrolled 2025-12-01; D and E 2026-01-02 (D and E were referred by A).

    2025-12-01  C earns 80, expiring 2026-01-05
    2025-12-10  A earns 1,000; B gets +500 by adjustment
    2025-12-12  A orders 100.00
    2025-12-20  A redeems the reward "Free coffee" (200); B loses 50 by adjustment
    2026-01-05  D orders 30.00 (the referral converts)
    2026-01-10  A earns 300 pending 30 days; B reserves 100; C's 80 expire
    2026-01-11  A orders 50.00 (a repeat order); 2026-01-12 it is refunded 10.00

Issued 1,880 (December 1,580, January 300), redeemed 200 (December), expired 80 (January).
Outstanding: spendable 800 + 350 = 1,150, pending 300, reserved 100; 1,550 points = 15.50 EUR.
Orders 3 (1 repeat), revenue 180.00 - 10.00 = 170.00; redeemed value 2.00 EUR: ROI 85.
Tiers: A Gold, B Silver, C D E none. Referral codes 3, referred 2, converted 1.
Rules: "Double points" 2 awards, 150 points; "Welcome" 1 award, 20 points.
Active: A (2026-01-10) and D (2026-01-05) in 30 days; B (2025-11-01) too in 90 days.

The other merchant has a member with points, an order and an award on the same days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from ledger.services import (
    hold_confirm,
    points_adjust,
    points_credit,
    points_expire_due,
    points_reserve,
)
from members.models import Member
from referrals.models import Referral, ReferralCode
from rewards.models import Reward
from rewards.services import reward_redeem_now
from rules.models import Award, EarningRule, Order, Refund
from tiers.models import Tier

from ..factories import MemberFactory


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def order(member: Member, order_id: str, amount: str, when: datetime) -> Order:
    return Order.objects.create(
        merchant_id=member.merchant_id, program_id=member.program_id, member=member,
        order_id=order_id, currency="EUR", amount=Decimal(amount), occurred_at=when,
        created_at=when,
    )


def award(rule: EarningRule, member: Member, points: int, when: datetime) -> Award:
    return Award.objects.create(merchant_id=member.merchant_id, program_id=member.program_id,
                                member=member, rule=rule, points=points, created_at=when)


def rule(program, name: str) -> EarningRule:
    return EarningRule.objects.create(merchant=program.merchant, program=program, name=name,
                                      kind=EarningRule.Kind.ORDER)


@pytest.fixture
def known(program, other_program, clock):
    """The data set above; answers its members, tiers, reward and rules by name."""
    clock.set(at("2025-12-01"))
    a, b, c = (MemberFactory(program=program, enrolled_at=at("2025-12-01")) for _ in range(3))
    d, e = (MemberFactory(program=program, enrolled_at=at("2026-01-02")) for _ in range(2))
    rival = MemberFactory(program=other_program, enrolled_at=at("2025-12-01"))
    silver = Tier.objects.create(merchant=program.merchant, program=program, name="Silver",
                                 rank=1, colour="#A0A0A0")
    gold = Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=2,
                               colour="#D4AF37")
    Member.objects.filter(pk=a.pk).update(tier=gold)
    Member.objects.filter(pk=b.pk).update(tier=silver)
    coffee = Reward.objects.create(merchant=program.merchant, program=program,
                                   name="Free coffee", points_cost=200,
                                   kind=Reward.Kind.FREE_PRODUCT)

    points_credit(member=c, points=80, actor="test", expires_at=at("2026-01-05"))
    clock.set(at("2025-12-10"))
    points_credit(member=a, points=1000, actor="test")
    points_adjust(member=b, points=500, actor="staff:1", reason="goodwill")
    points_credit(member=rival, points=9000, actor="test")
    order(a, "A-1", "100.00", at("2025-12-12"))
    order(rival, "R-1", "999.00", at("2025-12-12"))
    clock.set(at("2025-12-20"))
    reward_redeem_now(member=a, reward=coffee, actor="test")
    points_adjust(member=b, points=-50, actor="staff:1", reason="correction")
    hold_confirm(hold=points_reserve(member=rival, points=900, actor="test"), actor="test")

    double, welcome = rule(program, "Double points"), rule(program, "Welcome")
    award(double, a, 100, at("2025-12-10"))
    award(double, b, 50, at("2025-12-10"))
    award(welcome, c, 20, at("2025-12-01"))
    award(rule(other_program, "Rival rule"), rival, 5000, at("2025-12-10"))

    codes = [ReferralCode.objects.create(merchant=program.merchant, program=program, member=m,
                                         created_at=at("2025-12-15")) for m in (a, b, c)]
    converting = order(d, "D-1", "30.00", at("2026-01-05"))
    Referral.objects.create(
        merchant=program.merchant, program=program, code=codes[0], referrer=a, referee=d,
        status=Referral.Status.CONVERTED, channel=Referral.Channel.ENROLMENT,
        created_at=at("2026-01-02"), expires_at=at("2026-02-02"), order=converting,
        converted_at=at("2026-01-05"),
    )
    Referral.objects.create(
        merchant=program.merchant, program=program, code=codes[0], referrer=a, referee=e,
        channel=Referral.Channel.ENROLMENT, created_at=at("2026-01-02"),
        expires_at=at("2026-02-02"),
    )

    clock.set(at("2026-01-10"))
    points_credit(member=a, points=300, actor="test", pending_days=30)
    points_reserve(member=b, points=100, actor="test", ttl=timedelta(days=30))
    points_expire_due(member=c)
    repeat = order(a, "A-2", "50.00", at("2026-01-11"))
    Refund.objects.create(merchant=program.merchant, order=repeat, amount=Decimal("10.00"),
                          created_at=at("2026-01-12"))

    for member, when in ((a, at("2026-01-10")), (b, at("2025-11-01")), (c, None),
                         (d, at("2026-01-05")), (e, None)):
        Member.objects.filter(pk=member.pk).update(last_activity_at=when)
    clock.set(at("2026-01-15"))
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, rival=rival, silver=silver, gold=gold,
                           coffee=coffee, double=double, welcome=welcome, program=program,
                           other_program=other_program)
