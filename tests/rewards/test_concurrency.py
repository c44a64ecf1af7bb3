"""Reservations racing for the last unit, the per-member limit and one member's balance.

PostgreSQL only: real row locks, real threads, each with its own connection, released
together on a barrier.
"""

from __future__ import annotations

import pytest

from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import InsufficientPoints, RewardUnavailable
from members.models import Member
from rewards import services
from rewards.models import Redemption, Reward
from tests.concurrency import in_threads
from tests.factories import MemberFactory

from .conftest import fund
from .factories import RewardFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

THREADS = 16


def _attempt(member: Member, reward: Reward) -> str:
    try:
        services.redemption_reserve(member=member, reward=reward, actor="race")
    except (RewardUnavailable, InsufficientPoints) as error:
        return error.code
    return "ok"


def test_sixteen_members_racing_for_the_last_unit_one_gets_it(program, clock):
    reward = RewardFactory(program=program, stock=1, points_cost=50)
    members = [fund(MemberFactory(program=program), 100) for _ in range(THREADS)]

    outcomes = in_threads(THREADS, lambda i: _attempt(members[i], reward))

    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "REWARD_UNAVAILABLE"}
    assert Reward.objects.get(pk=reward.pk).stock == 0
    assert Redemption.objects.count() == 1
    assert sum(Member.objects.get(pk=m.pk).reserved_points for m in members) == 50


def test_the_last_unit_released_under_contention_is_sold_exactly_once_more(program, clock):
    reward = RewardFactory(program=program, stock=1, points_cost=10)
    members = [fund(MemberFactory(program=program), 100) for _ in range(THREADS)]
    first = services.redemption_reserve(member=members[0], reward=reward, actor="t")

    def work(i: int) -> str:
        if i == 0:
            services.redemption_release(redemption=first, actor="t")
            return "released"
        return _attempt(members[i], reward)

    outcomes = in_threads(THREADS, work)

    assert outcomes.count("ok") <= 1
    stock = Reward.objects.get(pk=reward.pk).stock
    live = Redemption.objects.filter(status=Redemption.Status.RESERVED).count()
    assert stock + live == 1


def test_one_member_racing_sixteen_times_gets_the_per_member_limit_once(program, clock):
    reward = RewardFactory(program=program, per_member_limit=1, points_cost=10)
    member = fund(MemberFactory(program=program), 1000)

    outcomes = in_threads(THREADS, lambda i: _attempt(member, reward))

    assert outcomes.count("ok") == 1
    assert Redemption.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 990


def test_many_reservations_on_one_member_never_take_the_balance_below_zero(program, clock):
    reward = RewardFactory(program=program, points_cost=30)
    member = fund(MemberFactory(program=program), 100)

    outcomes = in_threads(THREADS, lambda i: _attempt(member, reward))

    assert outcomes.count("ok") == 3
    assert set(outcomes) == {"ok", "INSUFFICIENT_POINTS"}
    fresh = Member.objects.get(pk=member.pk)
    assert (fresh.balance, fresh.reserved_points) == (10, 90)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_confirm_release_and_the_job_racing_on_one_reservation_settle_it_once(program, clock):
    from rewards import jobs

    reward = RewardFactory(program=program, stock=5, points_cost=40)
    member = fund(MemberFactory(program=program), 100)
    redemptions = [
        services.redemption_reserve(member=member, reward=reward, actor="t") for _ in range(2)
    ]
    clock.advance(minutes=15)  # both are due: the job and a release race for them

    def work(i: int) -> object:
        if i % 2:
            return jobs.release_expired_reservations(clock=clock, batch_size=10)
        return services.redemption_release(redemption=redemptions[i % 4 // 2], actor="t")

    in_threads(8, work)

    fresh = Member.objects.get(pk=member.pk)
    assert (fresh.balance, fresh.reserved_points) == (100, 0)
    assert Reward.objects.get(pk=reward.pk).stock == 5
    assert set(Redemption.objects.values_list("status", flat=True)) == {"expired"}
    assert member_ledger_discrepancies(member_id=member.pk) == []
