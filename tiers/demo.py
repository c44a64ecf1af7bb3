"""Demo data: a Bronze / Silver / Gold ladder, a weekly streak with rewards, and members in
every state (each tier, a streak active, paused and broken, an override).

Runs before the earning demo (``DEMO_APPS``), so the demo's orders lift members and count their
weeks as they are recorded. Idempotent: the ladder is matched by name, every other step checks
first whether it was done.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from loyaltysite.clock import Clock, FrozenClock
from members.models import Member, Merchant, Program

from . import services
from .models import StreakPause, Tier, TierOverride
from .services import evaluation

ACTOR = "system:demo"
TIERS = [
    {"name": "Bronze", "rank": 1, "threshold_points": 0, "colour": "#B07A3B",
     "perks": "Points on every order\nBirthday treat"},
    {"name": "Silver", "rank": 2, "threshold_points": 1600, "colour": "#8D99A6",
     "earn_multiplier": Decimal("1.25"), "streak_multiplier": Decimal("1.5"),
     "perks": "Free oat milk\nEarly access to seasonal drinks"},
    {"name": "Gold", "rank": 3, "threshold_points": 1940, "colour": "#C9A227",
     "earn_multiplier": Decimal("1.5"), "streak_multiplier": Decimal("2"),
     "streak_bonus_points": 50, "perks": "Free drink every month\nPriority pickup"},
]
SETTINGS = {
    "basis": "lifetime_points", "grace_days": 30, "evaluation_days": 30,
    "streak_cycle": "week", "streak_activity": "orders", "pauses_per_year": 2,
    "max_pause_days": 60, "milestone_every": 4, "milestone_points": 10,
}


def prepare_demo(*, merchant: Merchant, program: Program) -> None:
    """The ladder, before the members' history: their points lift them as they earn."""
    if not Tier.objects.filter(program=program).exists():
        services.tier_settings_update(program=program, **SETTINGS)
        for spec in TIERS:
            services.tier_create(program=program, **spec)


def seed_demo(*, merchant: Merchant, program: Program, members: list[Member],
              clock: Clock) -> None:
    prepare_demo(merchant=merchant, program=program)
    # Place the members who earned before the ladder existed (idempotent: a job).
    evaluation.tiers_evaluate(program_id=program.pk, clock=clock, batch_size=500)
    _lapsed_streak(program, members[-1], clock)
    _paused_streak(members[-2], clock)
    _override(program, members[4], clock)


def _lapsed_streak(program: Program, member: Member, clock: Clock) -> None:
    """Three weeks of orders a month ago, then nothing: the upkeep job breaks the streak."""
    from rules import services as rules
    from rules.models import Order

    if Order.objects.filter(program=program, order_id="demo-tiers-lapsed-0").exists():
        return
    past = FrozenClock(clock.now() - timedelta(weeks=6))
    for week in range(3):
        rules.order_record(
            program=program, order_id=f"demo-tiers-lapsed-{week}", amount=Decimal("12.00"),
            currency=program.currency, customer=rules.Customer(member=str(member.pk)),
            actor=ACTOR, clock=past,
        )
        past.advance(weeks=1)
    evaluation.streaks_upkeep(program_id=program.pk, clock=clock, batch_size=500)


def _paused_streak(member: Member, clock: Clock) -> None:
    """A member on holiday: two weeks of orders, then a three-week pause."""
    from rules import services as rules
    from rules.models import Order

    if StreakPause.objects.filter(member=member).exists():
        return
    program = member.program
    past = FrozenClock(clock.now() - timedelta(weeks=2, days=1))
    for week in range(2):
        if not Order.objects.filter(program=program, order_id=f"demo-tiers-away-{week}").exists():
            rules.order_record(
                program=program, order_id=f"demo-tiers-away-{week}", amount=Decimal("9.50"),
                currency=program.currency, customer=rules.Customer(member=str(member.pk)),
                actor=ACTOR, clock=past,
            )
        past.advance(weeks=1)
    services.streak_pause(member=member, days=21, reason="Holiday", actor=ACTOR, clock=clock)


def _override(program: Program, member: Member, clock: Clock) -> None:
    """Gold for a month: a goodwill gesture after a lost order."""
    if TierOverride.objects.filter(member=member).exists():
        return
    gold = Tier.objects.get(program=program, name="Gold")
    services.tier_override_set(
        member=member, tier=gold, ends_at=clock.now() + timedelta(days=30),
        reason="Goodwill: a lost order", actor=ACTOR, clock=clock,
    )
