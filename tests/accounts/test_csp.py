"""The Content Security Policy (django-csp) and pages that honour it: no inline script on the
portal or the console, no inline style on the portal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rewards.models import Reward

from .html_scan import inline_parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(program):
    return Reward.objects.create(merchant=program.merchant, program=program, name="Mug",
                                 points_cost=10)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_portal_pages_answer_with_a_same_origin_policy(customer_client):
    policy = _policy(customer_client.get(reverse("portal:home")))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_the_console_allows_only_what_unfold_needs_beyond_self(owner_client):
    policy = _policy(owner_client.get(reverse("admin:index")))

    assert policy["script-src"] == ["'self'", "'unsafe-eval'"]  # no 'unsafe-inline' scripts
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["default-src"] == ["'self'"]


def test_the_api_docs_keep_their_own_policy(client):
    response = client.get(reverse("api-docs"))

    assert response.status_code == 200
    assert "worker-src 'self' blob:" in response["Content-Security-Policy"]


@pytest.mark.usefixtures("catalogue")
def test_portal_pages_have_no_inline_script_or_style(customer_client, member):
    pages = [
        reverse("portal:home"),
        reverse("portal:member", args=[member.card_id]),
        reverse("rewards_portal:catalog"),
        reverse("rewards_portal:vouchers"),
        "/no-such-page/",
    ]
    for url in pages:
        response = customer_client.get(url)
        assert response.status_code in (200, 404), url
        found = inline_parts(response.content.decode())
        assert (found.scripts, found.handlers, found.styles) == ([], [], []), url


def test_the_sign_in_and_password_pages_have_no_inline_script_or_style(anonymous, program):
    for url in [reverse("accounts:login"), reverse("accounts:password_reset"),
                reverse("portal:join", args=[program.pk])]:
        found = inline_parts(anonymous.get(url).content.decode())
        assert (found.scripts, found.handlers, found.styles) == ([], [], []), url


@pytest.mark.usefixtures("catalogue")
def test_console_pages_have_no_inline_script(owner_client, member):
    pages = [
        reverse("admin:index"),
        reverse("admin:login"),
        reverse("admin:members_member_changelist"),
        reverse("admin:members_member_change", args=[member.pk]),
        reverse("admin:ledger_entry_changelist"),
        reverse("admin:rewards_reward_changelist"),
        reverse("admin:rewards_reward_add"),
        reverse("accounts:two_factor"),
    ]
    for url in pages:
        response = owner_client.get(url)
        assert response.status_code in (200, 302), url
        found = inline_parts(response.content.decode())
        assert (found.scripts, found.handlers) == ([], []), url
