"""The demo seed (referrals in every state, once) and the job that closes expired referrals."""

from __future__ import annotations

import pytest

from ledger.selectors import member_ledger_discrepancies
from members.management.commands.run_jobs import discover_jobs
from referrals import demo, jobs
from referrals.models import Referral, ReferralCode, ReferralReward

from ..factories import MemberFactory
from .conftest import referral_of

pytestmark = pytest.mark.django_db


def test_the_demo_has_referrals_in_every_state_and_twice_adds_nothing(program, clock):
    members = [MemberFactory(program=program) for _ in range(6)]

    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)
    counts = (Referral.objects.count(), ReferralCode.objects.count(),
              ReferralReward.objects.count())
    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)

    assert counts == (len(demo.FRIENDS), 4, 4)
    assert (Referral.objects.count(), ReferralCode.objects.count(),
            ReferralReward.objects.count()) == counts
    assert set(Referral.objects.values_list("status", flat=True)) == set(Referral.Status.values)
    assert set(Referral.objects.values_list("referrer_id", flat=True)) == {members[0].pk}
    for referral in Referral.objects.all():
        for member_id in (referral.referrer_id, referral.referee_id):
            assert member_ledger_discrepancies(member_id=member_id) == []


def test_the_expiry_job_closes_open_referrals_past_their_window(program, join, buy, clock):
    waiting, _ = join("F-1")
    bought, _ = join("F-2")
    buy(bought, "30.00")
    clock.advance(days=30, seconds=1)

    [(name, job)] = [(n, j) for n, j in discover_jobs() if n == "referrals-expire"]
    assert job is jobs.referrals_expire_due
    assert job(clock=clock, batch_size=1) == 1
    assert job(clock=clock, batch_size=1) == 0
    assert (referral_of(waiting).status, referral_of(bought).status) == ("expired", "rewarded")


def test_the_expiry_job_leaves_referrals_inside_their_window(program, join, clock):
    member, _ = join("F-1")
    clock.advance(days=30)  # the deadline itself is still inside the window
    assert jobs.referrals_expire_due(clock=clock) == 0
    assert referral_of(member).status == "pending"
