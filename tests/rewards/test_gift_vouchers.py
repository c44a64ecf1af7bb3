"""Vouchers given away (a referral reward): no points, no redemption; live and in stock only;
withdrawn while unused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from loyaltysite.errors import RewardUnavailable
from members.models import Member
from rewards.models import Voucher
from rewards.services import voucher_gift, voucher_revoke, voucher_use

from ..factories import UserFactory
from .factories import RewardFactory

pytestmark = pytest.mark.django_db


def test_a_gift_voucher_costs_no_points_and_takes_a_unit(member, program, clock):
    mug = RewardFactory(program=program, points_cost=900, stock=2, voucher_valid_days=30)

    voucher = voucher_gift(member=member, reward=mug, actor="system:referrals", clock=clock)

    assert (voucher.member_id, voucher.reward_id, voucher.redemption_id, voucher.status) == (
        member.pk, mug.pk, None, "issued"
    )
    assert voucher.expires_at == clock.now() + timedelta(days=30)
    mug.refresh_from_db()
    assert mug.stock == 1
    assert Member.objects.get(pk=member.pk).balance == 0


@pytest.mark.parametrize(("fields", "reason"), [
    ({"stock": 0}, "out_of_stock"),
    ({"is_active": False}, "inactive"),
])
def test_an_unavailable_reward_is_not_given(member, program, clock, fields, reason):
    reward = RewardFactory(program=program, **fields)

    with pytest.raises(RewardUnavailable) as caught:
        voucher_gift(member=member, reward=reward, actor="t", clock=clock)
    assert caught.value.extra["reason"] == reason
    assert not Voucher.objects.exists()


def test_a_reward_of_another_program_is_not_given(member, other_program, clock):
    with pytest.raises(RewardUnavailable):
        voucher_gift(member=member, reward=RewardFactory(program=other_program), actor="t",
                     clock=clock)


def test_an_unused_voucher_is_withdrawn_a_used_one_is_not(member, program, clock):
    reward = RewardFactory(program=program)
    unused = voucher_gift(member=member, reward=reward, actor="t", clock=clock)
    used = voucher_gift(member=member, reward=reward, actor="t", clock=clock)
    voucher_use(voucher=used, actor="till", clock=clock)

    assert voucher_revoke(voucher=unused, clock=clock) is True
    assert voucher_revoke(voucher=unused, clock=clock) is False
    assert voucher_revoke(voucher=used, clock=clock) is False
    unused.refresh_from_db()
    assert (unused.status, unused.expires_at) == ("expired", clock.now())
    assert Voucher.objects.get(pk=used.pk).status == "used"


def test_a_gift_voucher_reads_over_the_api_without_a_redemption(api, member, program, clock):
    voucher = voucher_gift(member=member, reward=RewardFactory(program=program), actor="t",
                           clock=clock)

    body = api.get(f"/api/v1/programs/{program.pk}/vouchers/{voucher.code}/").json()

    assert (body["redemption"], body["status"]) == (None, "issued")


def test_a_gift_voucher_shows_in_the_console_and_the_portal(owner_client, member, program,
                                                            clock):
    voucher = voucher_gift(member=member, reward=RewardFactory(program=program), actor="t",
                           clock=clock)
    assert owner_client.get(
        reverse("admin:rewards_voucher_change", args=[voucher.pk])
    ).status_code == 200

    user = UserFactory()
    member.customer.user = user
    member.customer.save(update_fields=["user"])
    portal = Client()
    portal.force_login(user)
    assert voucher.code_display in portal.get(reverse("rewards_portal:vouchers")).content.decode()
    assert portal.get(reverse("rewards_portal:voucher", args=[voucher.code])).status_code == 200
