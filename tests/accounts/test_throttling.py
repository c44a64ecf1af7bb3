"""Sign-in throttling (django-axes) on both front doors: the portal and the console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

DOORS = {"portal": "accounts:login", "console": "admin:login"}


def _sign_in(client, door: str, username: str, password: str):
    return client.post(reverse(DOORS[door]), {"username": username, "password": password})


@pytest.mark.parametrize("door", ["portal", "console"])
def test_a_username_is_locked_out_after_the_failure_limit(door, anonymous, owner_user, throttle):
    for _ in range(throttle - 1):
        response = _sign_in(anonymous, door, owner_user.username, "wrong")
        assert response.status_code == 200  # the form again, with its error

    response = _sign_in(anonymous, door, owner_user.username, "wrong")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert 'class="error-page' in page  # the styled lockout page, not a bare message


@pytest.mark.parametrize("door", ["portal", "console"])
def test_a_locked_out_username_is_refused_even_with_the_right_password(
    door, anonymous, owner_user, throttle
):
    for _ in range(throttle):
        _sign_in(anonymous, door, owner_user.username, "wrong")

    response = _sign_in(anonymous, door, owner_user.username, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in anonymous.session


def test_the_lockout_is_per_username_so_others_still_sign_in(
    anonymous, owner_user, manager_user, throttle
):
    for _ in range(throttle):
        _sign_in(anonymous, "console", owner_user.username, "wrong")

    response = _sign_in(anonymous, "console", manager_user.username, PASSWORD)

    assert response.status_code == 302
    assert anonymous.session["_auth_user_id"] == str(manager_user.pk)


def test_a_successful_sign_in_clears_the_failure_count(anonymous, customer_user, throttle):
    for _ in range(throttle - 1):
        _sign_in(anonymous, "portal", customer_user.username, "wrong")
    assert _sign_in(anonymous, "portal", customer_user.username, PASSWORD).status_code == 302
    anonymous.logout()

    for _ in range(throttle - 1):
        response = _sign_in(anonymous, "portal", customer_user.username, "wrong")

    assert response.status_code == 200


def test_programmatic_authentication_is_not_throttled_or_refused(owner_user):
    from django.contrib.auth import authenticate

    assert authenticate(username=owner_user.username, password=PASSWORD) == owner_user
