"""The console's rewards pages: render per role, scoped, and the actions go through services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from members.models import Member
from rewards import services
from rewards.models import Redemption, Reward, Voucher

from .conftest import fund
from .factories import RewardFactory

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, *args) -> str:
    return reverse(f"admin:rewards_{name}", args=args)


@pytest.fixture
def rows(funded, program, clock):
    """A reward with stock, one open reservation, one confirmed with a voucher."""
    reward = RewardFactory(program=program, name="Mug", stock=5)
    reserved = services.redemption_reserve(member=funded, reward=reward, actor="t")
    confirmed = services.reward_redeem_now(member=funded, reward=reward, actor="t")
    return {
        "reward": reward, "reserved": reserved, "confirmed": confirmed,
        "voucher": confirmed.voucher,
    }


@pytest.fixture
def foreign_rows(other_member, other_reward, clock):
    fund(other_member, 500)
    redemption = services.reward_redeem_now(member=other_member, reward=other_reward, actor="t")
    return {"reward": other_reward, "redemption": redemption, "voucher": redemption.voucher}


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_the_lists_render_for_owners_and_managers(request, who, rows):
    client = request.getfixturevalue(who)
    for name in ("reward_changelist", "redemption_changelist", "voucher_changelist"):
        response = client.get(url(name))
        assert response.status_code == 200, name


def test_the_catalog_list_shows_stock_left_and_units_held(owner_client, rows):
    response = owner_client.get(url("reward_changelist"))

    reward = response.context["cl"].result_list.get(pk=rows["reward"].pk)
    assert (reward.stock, reward.reserved_total) == (3, 1)
    assert ">Reserved<" in response.content.decode().replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_the_detail_pages_render(request, who, rows):
    client = request.getfixturevalue(who)
    assert client.get(url("reward_change", rows["reward"].pk)).status_code == 200
    assert client.get(url("redemption_change", rows["reserved"].pk)).status_code == 200
    assert client.get(url("voucher_change", rows["voucher"].pk)).status_code == 200
    assert client.get(url("redemption_release", rows["reserved"].pk)).status_code == 200
    assert client.get(url("voucher_use", rows["voucher"].pk)).status_code == 200


def test_the_list_filters_work(owner_client, rows):
    response = owner_client.get(url("redemption_changelist"), {"status__exact": "reserved"})
    assert [r.pk for r in response.context["cl"].result_list] == [rows["reserved"].pk]
    response = owner_client.get(url("voucher_changelist"), {"status__exact": "issued"})
    assert [v.pk for v in response.context["cl"].result_list] == [rows["voucher"].pk]
    response = owner_client.get(url("voucher_changelist"),
                                {"q": rows["voucher"].code_display.lower()})
    assert [v.pk for v in response.context["cl"].result_list] == [rows["voucher"].pk]


def test_an_owner_adds_a_reward_and_a_manager_cannot(owner_user, manager_user, program):
    owner_client, manager_client = _login(owner_user), _login(manager_user)
    data = {
        "program": program.pk, "name": "Tote bag", "description": "", "image_url": "",
        "points_cost": 250, "kind": "free_product", "value": "0", "stock": "10",
        "per_member_limit": "", "starts_at_0": "", "starts_at_1": "", "ends_at_0": "",
        "ends_at_1": "", "voucher_valid_days": "30", "is_active": "on",
    }
    assert manager_client.get(url("reward_add")).status_code == 403
    assert manager_client.post(url("reward_add"), data).status_code == 403
    assert not Reward.objects.exists()

    response = owner_client.post(url("reward_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    reward = Reward.objects.get()
    assert (reward.merchant_id, reward.stock, reward.voucher_valid_days) == (
        program.merchant_id, 10, 30
    )


def test_the_add_form_refuses_a_value_that_does_not_fit_the_kind(owner_client, program):
    data = {
        "program": program.pk, "name": "Half off", "points_cost": 250,
        "kind": "percent_discount", "value": "150", "voucher_valid_days": "30",
    }
    response = owner_client.post(url("reward_add"), data)
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert not Reward.objects.exists()


def test_a_manager_reads_but_cannot_edit_or_delete_a_reward(manager_client, rows):
    reward = rows["reward"]
    response = manager_client.post(url("reward_change", reward.pk), {"name": "Hacked"})
    assert response.status_code == 403
    assert manager_client.post(url("reward_delete", reward.pk), {"post": "yes"}).status_code == 403
    assert Reward.objects.get(pk=reward.pk).name == "Mug"


def test_an_owner_deleting_a_reward_archives_it(owner_client, rows):
    reward = rows["reward"]
    response = owner_client.post(url("reward_delete", reward.pk), {"post": "yes"})
    assert response.status_code == 302
    assert Reward.objects.get(pk=reward.pk).deleted_at is not None
    assert owner_client.get(url("reward_change", reward.pk)).status_code == 404


def test_a_manager_releases_a_stuck_reservation(manager_client, rows, funded):
    reserved = rows["reserved"]

    response = manager_client.post(url("redemption_release", reserved.pk))

    assert response.status_code == 302
    assert Redemption.objects.get(pk=reserved.pk).status == Redemption.Status.RELEASED
    assert Member.objects.get(pk=funded.pk).reserved_points == 0
    assert Reward.objects.get(pk=rows["reward"].pk).stock == 4


def test_the_bulk_release_skips_what_is_not_reserved(manager_client, rows, funded):
    ids = [rows["reserved"].pk, rows["confirmed"].pk]
    response = manager_client.post(url("redemption_changelist"), {
        "action": "release_selected", "_selected_action": ids,
    })
    assert response.status_code == 302
    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert statuses == {rows["reserved"].pk: "released", rows["confirmed"].pk: "confirmed"}


def test_a_manager_marks_a_voucher_used_once(manager_client, rows):
    voucher = rows["voucher"]

    assert manager_client.post(url("voucher_use", voucher.pk)).status_code == 302
    used = Voucher.objects.get(pk=voucher.pk)
    assert (used.status, used.used_by.startswith("staff:")) == ("used", True)

    response = manager_client.post(url("voucher_use", voucher.pk), follow=True)
    assert "already used" in response.content.decode()


def test_the_bulk_use_marks_vouchers_used(owner_client, rows):
    response = owner_client.post(url("voucher_changelist"), {
        "action": "use_selected", "_selected_action": [rows["voucher"].pk],
    })
    assert response.status_code == 302
    assert Voucher.objects.get().status == Voucher.Status.USED


def test_another_merchants_rows_are_not_found(owner_client, rows, foreign_rows):
    assert owner_client.get(url("reward_change", foreign_rows["reward"].pk)).status_code == 404
    redemption = foreign_rows["redemption"]
    voucher = foreign_rows["voucher"]
    assert owner_client.get(url("redemption_change", redemption.pk)).status_code == 404
    assert owner_client.post(url("redemption_release", redemption.pk)).status_code == 404
    assert owner_client.post(url("voucher_use", voucher.pk)).status_code == 404
    owner_client.post(url("voucher_changelist"), {
        "action": "use_selected", "_selected_action": [voucher.pk],
    })
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.ISSUED
    listed = owner_client.get(url("voucher_changelist")).context["cl"].result_list
    assert voucher.pk not in [v.pk for v in listed]


def test_redemptions_and_vouchers_cannot_be_added_or_deleted(owner_client, rows):
    assert owner_client.get(url("redemption_add")).status_code == 403
    assert owner_client.get(url("voucher_add")).status_code == 403
    voucher = rows["voucher"]
    assert owner_client.post(url("voucher_delete", voucher.pk), {"post": "yes"}).status_code == 403
