"""The front doors' polish: where sign-in lands, the styled error pages, the favicon, the
actor's e-mail in the ledger, password reset by e-mail."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core import mail
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from ledger.models import Entry
from ledger.services import points_adjust

from .conftest import PASSWORD, lands_on

pytestmark = pytest.mark.django_db


# -- where sign-in lands -------------------------------------------------------------------
@pytest.mark.parametrize("door", ["accounts:login", "admin:login"])
def test_staff_who_sign_in_land_on_the_console(door, anonymous, owner_user):
    response = anonymous.post(reverse(door),
                              {"username": owner_user.username, "password": PASSWORD})

    assert lands_on(anonymous, response) == reverse("admin:index")


def test_customers_who_sign_in_land_on_the_portal(anonymous, customer_user):
    response = anonymous.post(reverse("accounts:login"),
                              {"username": customer_user.username, "password": PASSWORD})

    assert lands_on(anonymous, response) == reverse("portal:home")


def test_the_console_sign_in_form_carries_next(anonymous):
    page = anonymous.get(reverse("admin:login")).content.decode()

    assert f'name="next" value="{reverse("admin:index")}"' in page


def test_the_sign_in_page_links_sign_up_and_password_reset(anonymous, program):
    page = anonymous.get(reverse("accounts:login")).content.decode()

    assert reverse("portal:join", args=[program.pk]) in page
    assert reverse("accounts:password_reset") in page


# -- error pages ---------------------------------------------------------------------------
def test_a_manager_who_opens_an_owner_only_page_gets_the_styled_403(manager_client):
    response = manager_client.get(reverse("admin:members_program_add"))

    assert response.status_code == 403
    page = response.content.decode()
    assert "You are not allowed to do this" in page
    assert "accounts/errors.css" in page
    assert "Loyalty console" in page  # in the console's frame, with its navigation


@pytest.mark.parametrize(("who", "url", "frame"), [
    ("owner_client", "/admin/members/member/999999/change/", "Loyalty console"),
    ("customer_client", "/no-such-page/", "portal/portal.css"),
])
def test_a_missing_page_is_the_styled_404_in_its_surfaces_frame(request, who, url, frame):
    response = request.getfixturevalue(who).get(url)

    assert response.status_code == 404
    page = response.content.decode()
    assert "This page does not exist" in page
    assert frame in page


def test_the_500_page_renders_without_a_request_or_the_database():
    page = render_to_string("500.html")

    assert "Something went wrong on our side" in page
    assert "portal/portal.css" in page


def test_the_server_error_handler_answers_with_the_500_page(rf: RequestFactory):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


# -- favicon -------------------------------------------------------------------------------
def test_favicon_ico_is_answered_with_the_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].endswith("favicon.ico")
    assert finders.find("favicon.ico")
    assert finders.find("favicon.svg")


def test_portal_and_console_pages_link_the_favicon(customer_client, owner_client):
    for client, url in ((customer_client, reverse("portal:home")),
                        (owner_client, reverse("admin:index"))):
        assert re.search(r'<link[^>]*rel="icon"[^>]*favicon\.svg', client.get(url)
                         .content.decode()), url


# -- the ledger's actor --------------------------------------------------------------------
def test_the_entries_list_shows_the_staff_users_email_as_actor(owner_client, owner_user,
                                                               member):
    owner_user.email = "owner.mail@acme.test"
    owner_user.save(update_fields=["email"])
    points_adjust(member=member, points=25, reason="goodwill", actor=f"staff:{owner_user.pk}")

    page = owner_client.get(reverse("admin:ledger_entry_changelist")).content.decode()

    assert "owner.mail@acme.test" in page
    assert f"staff:{owner_user.pk}" not in page


def test_the_entry_page_shows_the_staff_users_email_as_actor(owner_client, owner_user, member):
    points_adjust(member=member, points=25, reason="goodwill", actor=f"staff:{owner_user.pk}")
    entry = Entry.objects.get(member=member)

    page = owner_client.get(reverse("admin:ledger_entry_change", args=[entry.pk])).content.decode()

    assert owner_user.email in page


def test_actors_that_are_not_staff_stay_as_written():
    from accounts.selectors import actor_labels

    assert actor_labels(["system:tiers", "api-key:abc", "staff:999999"]) == {
        "system:tiers": "system:tiers", "api-key:abc": "api-key:abc",
        "staff:999999": "staff:999999",
    }


# -- password reset ------------------------------------------------------------------------
def test_password_reset_mails_a_link_that_sets_a_new_password(anonymous, customer_user):
    response = anonymous.post(reverse("accounts:password_reset"),
                              {"email": customer_user.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer_user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)

    form_page = anonymous.get(link, follow=True)
    assert form_page.status_code == 200
    done = anonymous.post(form_page.redirect_chain[-1][0], {
        "new_password1": "a-new-pass-2026!", "new_password2": "a-new-pass-2026!",
    })

    assert done.status_code == 302
    customer_user.refresh_from_db()
    assert customer_user.check_password("a-new-pass-2026!")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(anonymous):
    response = anonymous.post(reverse("accounts:password_reset"), {"email": "nobody@x.test"})

    assert response.status_code == 302
    assert mail.outbox == []
