"""Fixtures of the referral suites: a referrer with a code, friends who join with it, orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from members.models import Member
from members.services import member_enrol_customer
from referrals import services
from referrals.models import Referral, ReferralCode, ReferralReward, ReferralSettings
from rules import services as rules
from rules.models import Order
from rules.services import Customer as Who

from ..factories import CustomerFactory, MemberFactory, ProgramFactory


def fresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)


def terms(program, **fields) -> ReferralSettings:
    """Set the program's referral terms through the service."""
    return services.referral_settings_update(program=program, **fields)


@pytest.fixture
def program(merchant):
    """The program of these suites has a 14-day return window (orders' points pend 14 days)."""
    return ProgramFactory(merchant=merchant, name="Acme Rewards", currency="EUR", pending_days=14)


@pytest.fixture
def referrer(program, clock):
    customer = CustomerFactory(
        merchant=program.merchant, external_id="C-100", email="Dana.Demo+news@Example.com",
        name="Dana Demo",
    )
    return MemberFactory(program=program, customer=customer)


@pytest.fixture
def code(referrer, clock) -> ReferralCode:
    found, _ = services.referral_code_get_or_create(member=referrer, clock=clock)
    return found


@pytest.fixture
def join(program, code, clock):
    """``join(external_id, email=..., with_code=...)``: enrol a friend with the code; returns
    (member, the enrolment context with the hook's outcome)."""
    counter = iter(range(1, 10_000))

    def enrol(external_id: str | None = None, *, email: str = "", name: str = "",
              with_code: str | None = None, target=None):
        context = {"referral_code": code.code if with_code is None else with_code}
        member = member_enrol_customer(
            program=target or program, external_id=external_id or f"friend-{next(counter)}",
            email=email, name=name, context=context, clock=clock,
        )
        return member, context

    return enrol


@pytest.fixture
def friend(join) -> Member:
    """A friend who joined with the referrer's code (a pending referral)."""
    member, context = join("F-1", email="friend@example.com", name="Frank Friend")
    assert context["referral"]["attributed"], context
    return member


@pytest.fixture
def buy(program, clock):
    """``buy(member, amount, order_id=...)``: record an order (``rules.order_record``)."""
    counter = iter(range(1, 10_000))

    def record(member: Member, amount: str = "25.00", *, order_id: str | None = None):
        return rules.order_record(
            program=program, order_id=order_id or f"order-{next(counter)}",
            amount=Decimal(amount), currency=program.currency,
            customer=Who(member=str(member.pk)), actor="test", clock=clock,
        )

    return record


@pytest.fixture
def refund(program, clock):
    def run(order_id: str, amount: str | None = None):
        order = Order.objects.get(program=program, order_id=order_id)
        return rules.order_refund(
            program=program, order_id=order_id, actor="test", clock=clock,
            amount=Decimal(amount) if amount is not None else order.refundable,
        )

    return run


def referral_of(member: Member) -> Referral:
    return Referral.objects.get(referee=member)


def rewards_of(referral: Referral) -> dict[str, ReferralReward]:
    return {r.side: r for r in ReferralReward.objects.filter(referral=referral)}
