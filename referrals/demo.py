"""Demo data: the demo customer's referral link and friends referred in every state.

The program reviews referrals (the approval gate) so that each state shows: pending, approved,
converted (waiting for review), rewarded, rejected, clawed back and expired. Everything goes
through the services, as it would happen. Idempotent: nothing is added when the program has
referrals already.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from loyaltysite.clock import Clock, FrozenClock, use_clock
from members.models import Member, Merchant, Program
from members.services import member_enrol_customer
from rules.services import Customer, order_record, order_refund

from . import services
from .models import Referral

ACTOR = "system:demo"
# (external id, email, name, what happens to the referral)
FRIENDS = [
    ("ref-2001", "hana@example.com", "Hana Sato", "rewarded"),
    ("ref-2002", "ivan@example.com", "Ivan Petrov", "pending"),
    ("ref-2003", "jo@example.com", "Jo Okafor", "approved"),
    ("ref-2004", "kim@example.com", "Kim Larsen", "converted"),
    ("ref-2005", "lea@example.com", "Lea Moreau", "rejected"),
    ("ref-2006", "max@example.com", "Max Braun", "clawed_back"),
    ("ref-2007", "noor@example.com", "Noor Haddad", "expired"),
]


def _order(program: Program, member: Member, order_id: str, amount: str, clock: Clock) -> None:
    order_record(
        program=program, order_id=order_id, amount=Decimal(amount), currency=program.currency,
        customer=Customer(member=str(member.pk)), actor=ACTOR, clock=clock,
    )


def seed_demo(*, merchant: Merchant, program: Program, members: list[Member],
              clock: Clock) -> None:
    if not members or Referral.objects.filter(program=program).exists():
        return
    services.referral_settings_update(
        program=program, referrer_points=300, referee_points=150,
        min_order_amount=Decimal("10.00"), conversion_window_days=30, requires_approval=True,
    )
    referrer = members[0]  # the demo customer: their portal shows the friends
    code, _ = services.referral_code_get_or_create(member=referrer, clock=clock)
    for member in members[1:4]:
        services.referral_code_get_or_create(member=member, clock=clock)
    for external_id, email, name, fate in FRIENDS:
        # The expired one joined long ago; the others over the last days.
        at = FrozenClock(clock.now() - timedelta(days=45 if fate == "expired" else 3))
        with use_clock(at):  # the enrolment hook reads the time from the installed clock
            friend = member_enrol_customer(
                program=program, external_id=external_id, email=email, name=name,
                context={"referral_code": code.code, "actor": ACTOR},
            )
        referral = Referral.objects.get(referee=friend)
        if fate in ("approved", "rewarded", "clawed_back"):
            services.referral_approve(referral=referral, actor=ACTOR, reason="Looks genuine",
                                      clock=clock)
        if fate in ("converted", "rewarded", "clawed_back"):
            _order(program, friend, f"demo-ref-{external_id}", "24.00", clock)
        if fate == "clawed_back":
            order_refund(program=program, order_id=f"demo-ref-{external_id}", actor=ACTOR,
                         amount=Decimal("24.00"), reason="Returned", clock=clock)
        if fate == "rejected":
            services.referral_reject(referral=referral, actor=ACTOR,
                                     reason="Same delivery address as the referrer",
                                     clock=clock)
    services.referrals_expire_due(clock=clock)
