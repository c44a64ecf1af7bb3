"""The rewards jobs: expired reservations give their points back once; vouchers expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from ledger.models import Entry, Hold
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import RedemptionExpired
from members.models import Member
from rewards import jobs, services
from rewards.models import Redemption, Reward, Voucher
from tests.factories import MemberFactory

from .conftest import fund
from .factories import RewardFactory

pytestmark = pytest.mark.django_db


def _run(clock, batch_size=500) -> int:
    return jobs.release_expired_reservations(clock=clock, batch_size=batch_size)


def test_after_the_ttl_confirm_fails_and_the_job_gives_the_points_back_once(
    funded, program, clock
):
    reward = RewardFactory(program=program, stock=1)
    redemption = services.redemption_reserve(member=funded, reward=reward, actor="t")
    clock.advance(minutes=15)

    with pytest.raises(RedemptionExpired):
        services.redemption_confirm(redemption=redemption, actor="pos")
    assert _run(clock) == 1
    assert _run(clock) == 0

    member = Member.objects.get(pk=funded.pk)
    assert (member.balance, member.reserved_points) == (1000, 0)
    assert Entry.objects.filter(member=member, kind=Entry.Kind.RELEASE).count() == 1
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.EXPIRED
    assert redemption.hold.status == Hold.Status.EXPIRED
    assert Reward.objects.get(pk=reward.pk).stock == 1
    with pytest.raises(RedemptionExpired):
        services.redemption_confirm(redemption=redemption, actor="pos")
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_the_job_leaves_live_and_settled_reservations_alone(funded, reward, clock):
    live = services.redemption_reserve(member=funded, reward=reward, actor="t")
    done = services.reward_redeem_now(member=funded, reward=reward, actor="t")
    clock.advance(minutes=14)

    assert _run(clock) == 0
    assert Redemption.objects.get(pk=live.pk).status == Redemption.Status.RESERVED
    assert Redemption.objects.get(pk=done.pk).status == Redemption.Status.CONFIRMED


def test_the_job_works_through_many_reservations_in_small_batches(program, reward, clock):
    members = [fund(MemberFactory(program=program), 100) for _ in range(7)]
    for member in members:
        services.redemption_reserve(member=member, reward=reward, actor="t")
    clock.advance(hours=1)

    assert _run(clock, batch_size=3) == 7

    assert set(Redemption.objects.values_list("status", flat=True)) == {"expired"}
    assert all(
        Member.objects.get(pk=m.pk).balance == 100 for m in members
    )


def test_a_hold_the_ledger_already_released_still_settles_the_redemption(funded, program, clock):
    from ledger import services as ledger

    reward = RewardFactory(program=program, stock=1)
    redemption = services.redemption_reserve(member=funded, reward=reward, actor="t")
    clock.advance(hours=1)
    ledger.hold_release(hold=redemption.hold, actor="other-job", expired=True)

    assert _run(clock) == 1

    assert Reward.objects.get(pk=reward.pk).stock == 1
    assert Entry.objects.filter(kind=Entry.Kind.RELEASE).count() == 1
    assert member_ledger_discrepancies(member_id=funded.pk) == []


def test_vouchers_past_their_end_expire_and_used_ones_stay_used(funded, program, clock):
    reward = RewardFactory(program=program, voucher_valid_days=30)
    keep = services.reward_redeem_now(member=funded, reward=reward, actor="t").voucher
    used = services.reward_redeem_now(member=funded, reward=reward, actor="t").voucher
    services.voucher_use(voucher=used, actor="pos")
    clock.advance(days=29)
    late = services.reward_redeem_now(member=funded, reward=reward, actor="t").voucher
    clock.advance(days=1)

    assert jobs.expire_vouchers(clock=clock, batch_size=1) == 1
    assert jobs.expire_vouchers(clock=clock, batch_size=1) == 0

    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert statuses == {keep.pk: "expired", used.pk: "used", late.pk: "issued"}


def test_run_jobs_runs_the_rewards_jobs(funded, reward, clock):
    services.redemption_reserve(member=funded, reward=reward, actor="t")
    clock.advance(hours=1)

    call_command("run_jobs", job=["release-expired-reservations", "expire-vouchers"])

    assert Redemption.objects.get().status == Redemption.Status.EXPIRED
    assert Member.objects.get(pk=funded.pk).balance == 1000


def test_reservations_hold_for_the_programs_ttl(funded, reward, program, clock):
    program.reservation_ttl_minutes = 60
    program.save()

    redemption = services.redemption_reserve(
        member=Member.objects.get(pk=funded.pk), reward=reward, actor="t"
    )

    assert redemption.expires_at == clock.now() + timedelta(minutes=60)
