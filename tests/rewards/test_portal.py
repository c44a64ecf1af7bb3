"""The portal's rewards pages: what one can afford or is close to, redeem, and my vouchers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from members.models import Member
from rewards.models import Redemption, Voucher
from tests.factories import MemberFactory, UserFactory

from .conftest import fund
from .factories import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(customer_user, member, clock):
    """The signed-in customer's member, with 300 points."""
    return fund(member, 300)


@pytest.fixture
def catalog(program):
    return {
        "coffee": RewardFactory(program=program, name="Coffee", points_cost=100),
        "mug": RewardFactory(program=program, name="Mug", points_cost=300, stock=1),
        "bag": RewardFactory(program=program, name="Tote bag", points_cost=450),
        "hidden": RewardFactory(program=program, name="Retired", points_cost=50, is_active=False),
    }


def _redeem_url(member, reward) -> str:
    return reverse("rewards_portal:redeem", args=[member.card_id, reward.pk])


def _token(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def _confirm_form(client, member, reward) -> dict:
    """What the confirmation page posts: its one-time token and ``confirm``."""
    page = client.get(_redeem_url(member, reward)).content.decode()
    return {"token": _token(page), "confirm": "yes"}


@pytest.mark.parametrize("name", ["catalog", "vouchers"])
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.get(reverse(f"rewards_portal:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_catalog_shows_what_one_can_afford_and_what_is_close(
    customer_client, shopper, catalog
):
    response = customer_client.get(reverse("rewards_portal:catalog"))

    assert response.status_code == 200
    [entry] = response.context["programs"]
    assert [o.reward.name for o in entry["affordable"]] == ["Coffee", "Mug"]
    assert [(o.reward.name, o.points_needed) for o in entry["close"]] == [("Tote bag", 150)]
    page = response.content.decode()
    assert "150 points to go" in page
    assert "Retired" not in page
    assert "<script" not in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert _redeem_url(shopper, catalog["coffee"]) in page


def test_redeeming_shows_the_voucher_with_its_code_and_qr(customer_client, shopper, catalog):
    form = _confirm_form(customer_client, shopper, catalog["mug"])

    response = customer_client.post(_redeem_url(shopper, catalog["mug"]), form, follow=True)

    assert response.status_code == 200
    voucher = Voucher.objects.get()
    body = response.content.decode()
    assert voucher.code_display in body
    assert "<svg" in body
    assert "Redeemed: Mug" in body
    member = Member.objects.get(pk=shopper.pk)
    assert (member.balance, member.reserved_points) == (0, 0)
    assert Redemption.objects.get().status == Redemption.Status.CONFIRMED


def test_a_double_submit_redeems_once(customer_client, shopper, catalog):
    form = _confirm_form(customer_client, shopper, catalog["coffee"])

    first = customer_client.post(_redeem_url(shopper, catalog["coffee"]), form)
    second = customer_client.post(_redeem_url(shopper, catalog["coffee"]), form)

    assert first["Location"] == second["Location"]
    assert Voucher.objects.count() == 1
    assert Member.objects.get(pk=shopper.pk).balance == 200


def test_the_redeem_button_asks_for_confirmation_and_redeems_nothing(
    customer_client, shopper, catalog
):
    response = customer_client.get(_redeem_url(shopper, catalog["coffee"]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Redeem Coffee?" in page
    assert 'name="confirm" value="yes"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "<dd>200</dd>" in page  # what is left after: 300 - 100
    assert not Redemption.objects.exists()
    assert Member.objects.get(pk=shopper.pk).balance == 300


def test_the_confirmation_shows_a_discount_in_the_currencys_minor_units(
    customer_client, shopper, program
):
    discount = RewardFactory(program=program, name="Five off", points_cost=100,
                             kind="fixed_discount", value="5.000")

    page = customer_client.get(_redeem_url(shopper, discount)).content.decode()

    assert "5.00 EUR off your order." in page
    assert "5.000" not in page


def test_a_post_without_the_confirmation_redeems_nothing(customer_client, shopper, catalog):
    response = customer_client.post(_redeem_url(shopper, catalog["coffee"]), {"token": "y" * 20})

    assert response.status_code == 200
    assert "Redeem Coffee?" in response.content.decode()
    assert not Redemption.objects.exists()
    assert Member.objects.get(pk=shopper.pk).balance == 300


def test_a_refused_redemption_explains_why(customer_client, shopper, catalog):
    response = customer_client.post(
        _redeem_url(shopper, catalog["bag"]), {"token": "x" * 20, "confirm": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert "Balance is 300, 450 needed." in response.content.decode()
    assert not Redemption.objects.exists()


def test_redeeming_needs_a_post_with_csrf(shopper, catalog, customer_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer_user)

    assert strict.post(_redeem_url(shopper, catalog["coffee"]),
                       {"confirm": "yes"}).status_code == 403
    assert not Redemption.objects.exists()


def test_someone_elses_card_or_reward_is_not_found(
    customer_client, shopper, catalog, other_member, other_program
):
    from tests.rewards.factories import RewardFactory as Factory

    foreign_reward = Factory(program=other_program, points_cost=1)
    fund(other_member, 500)

    confirm = {"confirm": "yes"}
    assert customer_client.post(
        _redeem_url(other_member, catalog["coffee"]), confirm).status_code == 404
    assert customer_client.post(_redeem_url(shopper, foreign_reward), confirm).status_code == 404
    assert customer_client.get(_redeem_url(shopper, foreign_reward)).status_code == 404
    assert customer_client.post(
        reverse("rewards_portal:redeem", args=[shopper.card_id, 10**9]), confirm
    ).status_code == 404
    assert not Redemption.objects.exists()


def test_my_vouchers_lists_only_my_own(customer_client, shopper, catalog, program, clock):
    from rewards import services

    mine = services.reward_redeem_now(member=shopper, reward=catalog["coffee"], actor="t").voucher
    stranger = fund(MemberFactory(program=program), 500)
    theirs = services.reward_redeem_now(member=stranger, reward=catalog["coffee"],
                                        actor="t").voucher

    listing = customer_client.get(reverse("rewards_portal:vouchers"))
    assert listing.status_code == 200
    assert [v.pk for v in listing.context["vouchers"]] == [mine.pk]
    assert theirs.code_display not in listing.content.decode()

    mine_page = customer_client.get(reverse("rewards_portal:voucher", args=[mine.code.lower()]))
    assert mine_page.status_code == 200
    theirs_page = customer_client.get(reverse("rewards_portal:voucher", args=[theirs.code]))
    assert theirs_page.status_code == 404


def test_a_person_with_no_membership_sees_an_empty_catalog(db):
    user = UserFactory(username="nobody@example.com")
    client = Client()
    client.force_login(user)

    response = client.get(reverse("rewards_portal:catalog"))

    assert response.status_code == 200
    assert response.context["programs"] == []


def test_the_portal_navigation_links_the_rewards_pages(customer_client, shopper):
    page = customer_client.get(reverse("portal:home")).content.decode()
    assert reverse("rewards_portal:catalog") in page
    assert reverse("rewards_portal:vouchers") in page
