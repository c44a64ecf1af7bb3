"""Fixtures of the tiers suites: a Bronze / Silver / Gold ladder, a weekly streak, helpers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger import services as ledger
from members.models import Member
from rules import services as rules
from rules.services import Customer
from tiers import services
from tiers.models import TierChange


def fresh(member: Member) -> Member:
    return Member.objects.select_related("tier").get(pk=member.pk)


@pytest.fixture
def ladder(program, clock):
    """Bronze (0), Silver (1000), Gold (2500) on lifetime points."""
    bronze = services.tier_create(program=program, name="Bronze", rank=1, threshold_points=0,
                                  colour="#B07A3B")
    silver = services.tier_create(program=program, name="Silver", rank=2,
                                  threshold_points=1000, earn_multiplier=Decimal("1.25"),
                                  streak_multiplier=Decimal("1.5"), colour="#8D99A6",
                                  perks="Free oat milk")
    gold = services.tier_create(program=program, name="Gold", rank=3, threshold_points=2500,
                                earn_multiplier=Decimal("1.5"), streak_multiplier=Decimal("2"),
                                streak_bonus_points=50, colour="#C9A227",
                                perks="Priority pickup\nFree drink every month")
    return bronze, silver, gold


@pytest.fixture
def weekly(program, clock):
    """A weekly streak counting orders, a reward of 4 x 10 points every 4 weeks, 2 pauses."""
    return services.tier_settings_update(
        program=program, streak_cycle="week", streak_activity="orders", pauses_per_year=2,
        max_pause_days=90, milestone_every=4, milestone_points=10, grace_days=30,
        evaluation_days=30,
    )


@pytest.fixture
def earn(clock):
    """``earn(member, points)``: spendable points through the ledger (lifetime counts)."""

    def credit(member: Member, points: int, **kwargs):
        return ledger.points_credit(member=member, points=points, actor="test", **kwargs)

    return credit


@pytest.fixture
def order(program, clock):
    """``order(member, amount)``: a recorded order (the program earns 1 point per EUR)."""
    counter = iter(range(1, 100_000))

    def record(member: Member, amount: str = "10.00", **kwargs):
        return rules.order_record(
            program=program, order_id=kwargs.pop("order_id", f"t-{next(counter)}"),
            amount=Decimal(amount), currency="EUR", customer=Customer(member=str(member.pk)),
            actor="test", clock=clock, **kwargs,
        )

    return record


@pytest.fixture
def weeks(clock):
    """``weeks(n)``: move the clock on by ``n`` weeks."""

    def advance(n: float = 1):
        clock.advance(timedelta(weeks=n))

    return advance


def history(member: Member) -> list[tuple[str, str, str]]:
    return [
        (c.from_name, c.to_name, c.reason)
        for c in TierChange.objects.filter(member=member).order_by("created_at", "id")
    ]
