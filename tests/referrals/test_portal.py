"""The portal: the share link lands on the sign-up with the code kept; signing up creates an
account, a customer and a member, attributed; the "Refer a friend" page and the membership-card
panel show the link (copy, QR), the friends and the points earned."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from members.models import Customer, Member
from referrals import services
from referrals.models import Referral, ReferralCode

from ..factories import MemberFactory, UserFactory
from ..members.conftest import login
from .conftest import referral_of, terms

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Unusual-passphrase-42"


def join_url(program, code: str = "") -> str:
    target = reverse("portal:join", args=[program.pk])
    return f"{target}?code={code}" if code else target


def sign_up(client, program, *, code: str = "", email: str = "newbie@example.com",
            follow: bool = False):
    data = {"name": "Nina Newbie", "email": email, "password1": PASSWORD,
            "password2": PASSWORD, "referral_code": code}
    return client.post(join_url(program, code), data, follow=follow)


# -- the share link and the sign-up ------------------------------------------------------------


def test_the_share_link_lands_on_the_sign_up_with_the_code(client, program, code):
    response = client.get(reverse("referrals_portal:landing", args=[code.code.lower()]))

    assert response.status_code == 302
    assert response["Location"] == join_url(program, code.code)
    page = client.get(response["Location"]).content.decode()
    assert f'value="{code.code}"' in page  # the code is kept in the form
    assert 'name="password1"' in page
    assert "<script" not in page


def test_an_unknown_link_is_a_friendly_404(client):
    response = client.get(reverse("referrals_portal:landing", args=["NOPE2345"]))
    assert response.status_code == 404
    assert "does not exist" in response.content.decode()


def test_a_switched_off_link_still_leads_to_the_sign_up_without_the_code(client, program,
                                                                         code, clock):
    services.referral_code_deactivate(code=code, actor="t", clock=clock)

    response = client.get(reverse("referrals_portal:landing", args=[code.code]), follow=True)

    assert response.redirect_chain[-1][0] == join_url(program)
    assert "no longer active" in response.content.decode()


def test_signing_up_with_a_code_creates_the_account_and_attributes_it(client, program,
                                                                      referrer, code):
    response = sign_up(client, program, code=code.code)

    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == reverse("portal:home")
    user = get_user_model().objects.get(username="newbie@example.com")
    customer = Customer.objects.get(user=user)
    assert (customer.merchant_id, customer.email, customer.name) == (
        program.merchant_id, "newbie@example.com", "Nina Newbie"
    )
    member = Member.objects.get(customer=customer, program=program)
    referral = referral_of(member)
    assert (referral.referrer_id, referral.channel, referral.actor) == (
        referrer.pk, "portal", f"customer:{user.pk}"
    )
    home = client.get(response["Location"]).content.decode()
    assert "Welcome to Acme Rewards" in home
    assert "invitation is recorded" in home


def test_signing_up_without_a_code_just_joins(client, program):
    response = sign_up(client, program)

    assert response.status_code == 302
    assert Member.objects.filter(program=program, customer__email="newbie@example.com").exists()
    assert not Referral.objects.exists()


def test_a_code_that_cannot_be_used_never_blocks_the_sign_up(client, program, code):
    response = sign_up(client, program, code="NOPE2345", follow=True)

    assert Member.objects.filter(program=program, customer__email="newbie@example.com").exists()
    assert "could not be used" in response.content.decode()


def test_signing_up_with_ones_own_email_and_code_is_not_attributed(client, program, code):
    sign_up(client, program, code=code.code, email="dana.demo+2@example.com")

    assert Member.objects.filter(customer__email="dana.demo+2@example.com").exists()
    assert not Referral.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"password1": "short", "password2": "short"}, "password2"),
    ({"password1": "12345678901", "password2": "12345678901"}, "password2"),
    ({"password2": "something-else-entirely"}, "password2"),
    ({"email": "not-an-email"}, "email"),
    ({"email": ""}, "email"),
    ({"password1": "newbie@example.com", "password2": "newbie@example.com"}, "password2"),
])
def test_the_sign_up_validates_with_djangos_rules(client, program, changes, field):
    data = {"name": "N", "email": "newbie@example.com", "password1": PASSWORD,
            "password2": PASSWORD, **changes}
    response = client.post(join_url(program), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not get_user_model().objects.filter(email="newbie@example.com").exists()
    assert not Member.objects.exists()


def test_an_email_with_an_account_must_sign_in_instead(client, program):
    UserFactory(username="Taken@Example.com", email="Taken@Example.com")

    response = sign_up(client, program, email="taken@example.com")

    assert "sign in instead" in response.context["form"].errors["email"][0]


def test_an_existing_customer_with_that_email_is_never_linked(client, program, referrer):
    sign_up(client, program, email="dana.demo+news@example.com")

    referrer.customer.refresh_from_db()
    assert referrer.customer.user_id is None  # the sign-up got its own customer record


@pytest.mark.parametrize("program_id", ["999999", "abc", "١٢"])
def test_an_unknown_program_has_no_sign_up(client, program_id):
    assert client.get(reverse("portal:join", args=[program_id])).status_code == 404


def test_a_deleted_program_has_no_sign_up(client, program, clock):
    from members.services import program_delete

    program_delete(program=program, clock=clock)
    assert client.get(join_url(program)).status_code == 404


def test_a_signed_in_customer_joins_another_program_with_a_code(client, program, code,
                                                                 other_program):
    # given: a customer of another merchant, signed in
    elsewhere = MemberFactory(program=other_program)
    user = UserFactory(username="roamer@example.com", email="roamer@example.com")
    Customer.objects.filter(pk=elsewhere.customer_id).update(user=user)
    client.force_login(user)

    page = client.get(join_url(program, code.code)).content.decode()
    assert "You are signed in as roamer@example.com" in page
    response = client.post(join_url(program, code.code), {"referral_code": code.code})

    assert response.status_code == 302
    member = Member.objects.get(program=program, customer__user=user)
    assert member.customer.merchant_id == program.merchant_id
    assert referral_of(member).channel == "portal"
    # and again: already a member
    again = client.get(join_url(program, code.code))
    assert again["Location"] == reverse("portal:home")


def test_staff_accounts_cannot_join(owner_client, program):
    response = owner_client.post(join_url(program))
    assert "staff account" in response.content.decode()
    assert not Member.objects.exists()


# -- the "Refer a friend" page and the panel -------------------------------------------------


@pytest.fixture
def referrer_client(referrer):
    user = UserFactory(username="dana@portal.test")
    Customer.objects.filter(pk=referrer.customer_id).update(user=user)
    return login(user)


def test_the_page_offers_a_link_until_the_member_has_one(referrer_client, referrer):
    page = referrer_client.get(reverse("referrals_portal:index")).content.decode()
    assert "Get my referral link" in page

    response = referrer_client.post(
        reverse("referrals_portal:code", args=[referrer.card_id]), {"next": "https://evil.test/"}
    )

    assert response["Location"] == reverse("referrals_portal:index")
    code = ReferralCode.objects.get(member=referrer)
    page = referrer_client.get(reverse("referrals_portal:index")).content.decode()
    assert f"http://testserver/r/{code.code}/" in page
    assert "<svg" in page  # the QR code
    assert "data-copy-target" in page  # the copy button, hidden until JavaScript shows it
    assert "type=\"button\" class=\"button\" hidden" in page
    assert "referrals/share.js" in page


def test_the_page_lists_friends_with_their_status_and_the_points(referrer_client, referrer,
                                                                 code, join, buy, clock):
    bought, _ = join("F-1", name="Bea Lindqvist")
    join("F-2", email="chen@example.com")
    buy(bought, "30.00")

    response = referrer_client.get(reverse("referrals_portal:index"))

    [card] = response.context["cards"]
    assert card["points"] == 200
    assert [label for _friend, label in card["friends"]] == ["Joined", "Rewarded"]
    page = response.content.decode()
    assert "Bea L." in page
    assert "Lindqvist" not in page
    assert "c•••@example.com" in page
    assert "chen@example.com" not in page


def test_the_home_page_shows_the_panel_with_the_link(referrer_client, referrer, code):
    page = referrer_client.get(reverse("portal:home")).content.decode()

    assert "Refer a friend" in page
    assert f"/r/{code.code}/" in page
    assert "0 friends referred" in page


def test_the_panel_offers_a_link_to_members_without_one(referrer_client, referrer):
    page = referrer_client.get(reverse("portal:home")).content.decode()
    assert reverse("referrals_portal:code", args=[referrer.card_id]) in page


def test_nothing_is_offered_when_referrals_are_off(referrer_client, program, code):
    terms(program, is_enabled=False)
    page = referrer_client.get(reverse("portal:home")).content.decode()
    assert f"/r/{code.code}/" not in page
    page = referrer_client.get(reverse("referrals_portal:index")).content.decode()
    assert "does not run referrals" in page


def test_someone_elses_card_is_not_found(referrer_client, other_member, program):
    stranger = MemberFactory(program=program)
    for member in (other_member, stranger):
        response = referrer_client.post(reverse("referrals_portal:code", args=[member.card_id]))
        assert response.status_code == 404
    assert not ReferralCode.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, referrer):
    assert client.get(reverse("referrals_portal:index"))["Location"].startswith(
        reverse("accounts:login")
    )
