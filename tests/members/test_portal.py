"""The customer portal: sign-in, the programs page, the paginated history, only one's own data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger.services import points_adjust, points_credit
from members.views import HISTORY_PAGE_SIZE

from ..factories import MemberFactory, UserFactory
from .conftest import login

pytestmark = pytest.mark.django_db


def test_the_login_page_renders(client):
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert "portal/portal.css" in page
    assert "<script" not in page  # works without JavaScript


def test_signing_in_leads_to_the_programs_page(client, customer_user):
    response = client.post(
        reverse("accounts:login"),
        {"username": "customer@acme.test", "password": "secret-pass-123"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")


def test_a_wrong_password_is_refused_with_a_message(client, customer_user):
    response = client.post(
        reverse("accounts:login"), {"username": "customer@acme.test", "password": "nope"}
    )

    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


@pytest.mark.parametrize("name", ["portal:home", "portal:member"])
def test_anonymous_visitors_are_sent_to_sign_in(client, member, name):
    target = reverse(name, args=[member.card_id] if name == "portal:member" else [])

    response = client.get(target)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_home_lists_every_program_of_the_customer_with_figures(
    customer_client, customer_user, member, other_program, clock
):
    # given: the same person is also a member of another merchant's program
    elsewhere = MemberFactory(program=other_program)
    elsewhere.customer.user = customer_user
    elsewhere.customer.save()
    points_credit(member=member, points=120, actor="test", reason="order")
    points_credit(member=member, points=30, actor="test", pending_days=14)
    points_adjust(member=elsewhere, points=7, actor="test", reason="hello")
    stranger = MemberFactory(program=member.program)

    # when
    response = customer_client.get(reverse("portal:home"))

    # then
    assert response.status_code == 200
    assert {m.pk for m in response.context["memberships"]} == {member.pk, elsewhere.pk}
    page = response.content.decode()
    assert "Acme Rewards" in page
    assert "Rival Rewards" in page
    assert '<dd>120 <span class="unit">points</span></dd>' in page  # balance
    assert "<dd>30</dd>" in page  # pending
    assert "<dd>7 <span" in page  # the other merchant's balance
    assert member.card_id_display in page
    assert '<svg role="img"' in page
    assert "QR code of loyalty card" in page
    assert stranger.card_id_display not in page


def test_the_history_is_paginated_newest_first(customer_client, member, clock):
    for n in range(HISTORY_PAGE_SIZE + 5):
        points_adjust(member=member, points=1, actor="test", reason=f"visit {n}")
        clock.advance(minutes=1)

    first = customer_client.get(reverse("portal:member", args=[member.card_id]))
    second = customer_client.get(
        reverse("portal:member", args=[member.card_id]), {"page": 2}
    )

    assert first.status_code == 200
    assert len(first.context["rows"]) == HISTORY_PAGE_SIZE
    assert first.context["rows"][0].reason == f"visit {HISTORY_PAGE_SIZE + 4}"
    assert 'rel="next"' in first.content.decode()
    assert [e.reason for e in second.context["rows"]] == [f"visit {n}" for n in range(4, -1, -1)]


def test_the_history_accepts_the_card_id_as_printed(customer_client, member):
    response = customer_client.get(
        reverse("portal:member", args=[member.card_id_display.lower()])
    )

    assert response.status_code == 200


def test_another_customers_card_answers_404(customer_client, program, other_member):
    neighbour = MemberFactory(program=program)

    assert customer_client.get(
        reverse("portal:member", args=[neighbour.card_id])
    ).status_code == 404
    assert customer_client.get(
        reverse("portal:member", args=[other_member.card_id])
    ).status_code == 404
    assert customer_client.get(reverse("portal:member", args=["NOPE"])).status_code == 404


def test_staff_opening_the_portal_get_a_friendly_note(owner_client):
    response = owner_client.get(reverse("portal:home"))

    assert response.status_code == 200
    assert "staff account" in response.content.decode()


def test_a_person_with_no_membership_is_told_so(db):
    client = login(UserFactory(username="nobody@example.com"))

    response = client.get(reverse("portal:home"))

    assert response.status_code == 200
    assert "not a member of any program yet" in response.content.decode()


def test_signing_out(customer_client):
    response = customer_client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert customer_client.get(reverse("portal:home")).status_code == 302
