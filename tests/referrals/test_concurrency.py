"""Referrals under real concurrency (PostgreSQL): one code however many ask at once, one
referral however many attribute at once, one reward however many orders race, and a rate
limit that holds.

Real threads, each with its own connection, released together on a barrier.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import DuplicateReferral, LoyaltyError, ReferralLimitExceeded
from members.models import Member
from referrals import services
from referrals.models import Referral, ReferralCode, ReferralReward
from referrals.services import attribution
from rules import services as rules
from rules.services import Customer as Who
from tests.concurrency import in_threads
from tests.factories import MemberFactory

from .conftest import terms

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

THREADS = 16


def test_sixteen_requests_for_a_code_get_one_code(referrer, clock):
    codes = in_threads(
        THREADS, lambda i: services.referral_code_get_or_create(member=referrer, clock=clock)
    )

    assert len({code.pk for code, _created in codes}) == 1
    assert sum(created for _code, created in codes) == 1
    assert ReferralCode.objects.filter(member=referrer).count() == 1


def _attempt(work) -> str:
    try:
        outcome = work()
    except (DuplicateReferral, ReferralLimitExceeded) as error:
        return error.code
    return "ok" if outcome.attributed else outcome.reason


def test_sixteen_attributions_of_one_referee_one_wins(program, code, clock):
    # given: sixteen referrers, each with a code, and one newcomer they all claim at once
    codes = [code.code] + [
        services.referral_code_get_or_create(member=MemberFactory(program=program),
                                             clock=clock)[0].code
        for _ in range(THREADS - 1)
    ]
    newcomer = MemberFactory(program=program)

    outcomes = in_threads(THREADS, lambda i: _attempt(lambda: services.referral_attribute(
        program=program, code=codes[i], referee=newcomer, channel="checkout", actor="race",
        clock=clock,
    )))

    assert outcomes.count("ok") == 1
    assert outcomes.count("DUPLICATE_REFERRAL") == THREADS - 1
    assert Referral.objects.filter(referee=newcomer).count() == 1


def test_sixteen_attributions_with_one_code_and_one_source_one_wins(program, code, clock):
    buyers = [MemberFactory(program=program) for _ in range(THREADS)]

    outcomes = in_threads(THREADS, lambda i: _attempt(lambda: services.referral_attribute(
        program=program, code=code.code, referee=buyers[i], channel="checkout",
        source="order-1", actor="race", clock=clock,
    )))

    assert outcomes.count("ok") == 1
    assert outcomes.count("DUPLICATE_REFERRAL") == THREADS - 1


def test_the_rate_limit_holds_under_concurrency(program, code, clock):
    terms(program, limit_count=5)
    buyers = [MemberFactory(program=program) for _ in range(THREADS)]

    outcomes = in_threads(THREADS, lambda i: _attempt(lambda: services.referral_attribute(
        program=program, code=code.code, referee=buyers[i], channel="checkout", actor="race",
        clock=clock,
    )))

    assert outcomes.count("ok") == 5
    assert outcomes.count("REFERRAL_LIMIT_EXCEEDED") == THREADS - 5
    assert Referral.objects.count() == 5


def test_two_orders_racing_to_convert_reward_once(program, referrer, friend, clock):
    def order(i: int):
        return rules.order_record(
            program=program, order_id=f"race-{i}", amount=Decimal("25.00"), currency="EUR",
            customer=Who(member=str(friend.pk)), actor="race", clock=clock,
        )

    in_threads(2, order)

    referral = Referral.objects.get(referee=friend)
    assert referral.status == "rewarded"
    assert ReferralReward.objects.filter(referral=referral).count() == 2
    assert Member.objects.get(pk=referrer.pk).pending_points == 200
    assert Member.objects.get(pk=friend.pk).pending_points == 100 + 25 + 25
    for member in (referrer, friend):
        assert member_ledger_discrepancies(member_id=member.pk) == []


def test_an_approval_racing_an_order_rewards_once_without_deadlock(program, referrer, join,
                                                                   clock):
    terms(program, requires_approval=True)
    friends = [join(f"F-{i}")[0] for i in range(4)]

    def work(i: int):
        member = friends[i // 2]
        if i % 2:
            referral = Referral.objects.get(referee=member)
            return services.referral_approve(referral=referral, actor="staff", clock=clock)
        return rules.order_record(
            program=program, order_id=f"o-{i}", amount=Decimal("25.00"), currency="EUR",
            customer=Who(member=str(member.pk)), actor="race", clock=clock,
        )

    in_threads(8, work)

    assert set(Referral.objects.values_list("status", flat=True)) == {"rewarded"}
    assert ReferralReward.objects.count() == 8
    assert Member.objects.get(pk=referrer.pk).pending_points == 4 * 200
    assert member_ledger_discrepancies(member_id=referrer.pk) == []


def test_crosswise_attributions_at_once_one_wins_and_the_other_is_a_conflict(
    program, referrer, code, clock, monkeypatch
):
    # given: A's code for B and B's code for A, each attribution holding its first lock when
    # the other asks for it (a deadlock PostgreSQL breaks by refusing one)
    other = MemberFactory(program=program)
    other_code, _ = services.referral_code_get_or_create(member=other, clock=clock)
    barrier = threading.Barrier(2)
    real_lock = attribution.lock_member
    calls = threading.local()

    def lock_then_wait(member_id: int):
        locked = real_lock(member_id)
        calls.n = getattr(calls, "n", 0) + 1
        if calls.n == 1:
            barrier.wait(timeout=10)
        return locked

    monkeypatch.setattr(attribution, "lock_member", lock_then_wait)
    pairs = [(code.code, other), (other_code.code, referrer)]

    def attempt(i: int) -> str:
        try:
            services.referral_attribute(program=program, code=pairs[i][0], referee=pairs[i][1],
                                        channel="checkout", actor="race", clock=clock)
        except LoyaltyError as error:
            return error.code
        return "ok"

    outcomes = in_threads(2, attempt)

    assert sorted(outcomes) == ["CONFLICT", "ok"]
    assert Referral.objects.count() == 1
