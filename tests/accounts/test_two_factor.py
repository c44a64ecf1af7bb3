"""Two-factor sign-in for staff (django-otp, TOTP): set-up in the console, the code asked at
sign-in, and a merchant's requirement for Owners."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import sign_in_policy_set, totp_device_begin

from .conftest import PASSWORD, confirmed_device, current_token, lands_on

pytestmark = pytest.mark.django_db

DOORS = {"portal": "accounts:login", "console": "admin:login"}


def _sign_in(client, door: str, user, token: str | None = None):
    data = {"username": user.username, "password": PASSWORD}
    if token is not None:
        data["otp_token"] = token
    return client.post(reverse(DOORS[door]), data)


def _wrong(device) -> str:
    return f"{(int(current_token(device)) + 1) % 10**6:06d}"


@pytest.mark.parametrize("door", ["portal", "console"])
@pytest.mark.parametrize(("code", "message"), [
    (None, "Enter the code from your authenticator app."),
    (_wrong, "That code is not right"),
])
def test_a_user_with_an_authenticator_needs_its_right_code(door, code, message, anonymous,
                                                           owner_user):
    device = confirmed_device(owner_user)

    response = _sign_in(anonymous, door, owner_user, code(device) if code else None)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "_auth_user_id" not in anonymous.session


@pytest.mark.parametrize("door", ["portal", "console"])
def test_the_right_code_signs_in_and_verifies_the_session(door, anonymous, owner_user):
    device = confirmed_device(owner_user)

    response = _sign_in(anonymous, door, owner_user, current_token(device))

    assert response.status_code == 302
    assert lands_on(anonymous, response) == reverse("admin:index")
    assert anonymous.session["otp_device_id"] == device.persistent_id
    assert anonymous.get(reverse("admin:index")).status_code == 200


def test_a_user_without_an_authenticator_signs_in_with_the_password_alone(anonymous,
                                                                          owner_user):
    assert _sign_in(anonymous, "console", owner_user).status_code == 302


def test_a_half_finished_set_up_does_not_ask_for_a_code(anonymous, owner_user):
    totp_device_begin(user=owner_user)  # never confirmed

    assert _sign_in(anonymous, "console", owner_user).status_code == 302


def test_a_session_not_verified_by_the_code_is_signed_out_of_the_console(client, owner_user):
    confirmed_device(owner_user)
    client.force_login(owner_user)

    response = client.get(reverse("admin:members_member_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert "_auth_user_id" not in client.session


def test_set_up_shows_a_qr_code_and_the_key(owner_client, owner_user):
    response = owner_client.get(reverse("accounts:two_factor"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'src="data:image/svg+xml' in page
    device = TOTPDevice.objects.get(user=owner_user)
    assert not device.confirmed
    assert response.context["secret"].replace(" ", "") in page.replace(" ", "")


def test_confirming_with_the_apps_code_turns_two_factor_on(owner_client, owner_user):
    owner_client.get(reverse("accounts:two_factor"))
    device = TOTPDevice.objects.get(user=owner_user)

    response = owner_client.post(reverse("accounts:two_factor"),
                                 {"action": "confirm", "token": current_token(device)})

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    # This session is verified by the code it just gave: the console stays open.
    assert owner_client.get(reverse("admin:members_member_changelist")).status_code == 200


def test_a_wrong_code_leaves_two_factor_off(owner_client, owner_user):
    owner_client.get(reverse("accounts:two_factor"))
    device = TOTPDevice.objects.get(user=owner_user)

    response = owner_client.post(reverse("accounts:two_factor"),
                                 {"action": "confirm", "token": _wrong(device)})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed


def test_an_owner_is_sent_to_set_up_when_the_merchant_requires_it(owner_client, merchant):
    sign_in_policy_set(merchant=merchant, require_owner_two_factor=True)

    response = owner_client.get(reverse("admin:members_member_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:two_factor")
    assert owner_client.get(reverse("accounts:two_factor")).status_code == 200


def test_an_owner_who_set_up_uses_the_console_when_it_is_required(owner_client, owner_user,
                                                                   merchant):
    sign_in_policy_set(merchant=merchant, require_owner_two_factor=True)
    owner_client.get(reverse("accounts:two_factor"))
    device = TOTPDevice.objects.get(user=owner_user)
    owner_client.post(reverse("accounts:two_factor"),
                      {"action": "confirm", "token": current_token(device)})

    assert owner_client.get(reverse("admin:members_member_changelist")).status_code == 200
    # ... and cannot turn it off while it is required.
    owner_client.post(reverse("accounts:two_factor"), {"action": "remove"})
    assert TOTPDevice.objects.filter(user=owner_user, confirmed=True).exists()


def test_managers_are_not_forced_by_the_owner_requirement(manager_client, merchant):
    sign_in_policy_set(merchant=merchant, require_owner_two_factor=True)

    assert manager_client.get(reverse("admin:members_member_changelist")).status_code == 200


def test_another_merchants_requirement_does_not_apply(owner_client, other_merchant):
    sign_in_policy_set(merchant=other_merchant, require_owner_two_factor=True)

    assert owner_client.get(reverse("admin:members_member_changelist")).status_code == 200


def test_turning_two_factor_off_deletes_the_device(client, owner_user):
    device = confirmed_device(owner_user)
    _sign_in(client, "console", owner_user, current_token(device))

    client.post(reverse("accounts:two_factor"), {"action": "remove"})

    assert not TOTPDevice.objects.filter(user=owner_user).exists()


def test_an_owner_sets_the_requirement_in_the_console(owner_client, merchant):
    response = owner_client.post(reverse("admin:accounts_signinpolicy_add"),
                                 {"require_owner_two_factor": "on"})

    assert response.status_code == 302
    assert merchant.sign_in_policy.require_owner_two_factor


def test_a_manager_cannot_change_the_requirement(manager_client):
    response = manager_client.get(reverse("admin:accounts_signinpolicy_add"))

    assert response.status_code == 403


def test_the_portal_asks_for_a_code_only_once_a_user_with_a_device_needs_it(anonymous,
                                                                            owner_user):
    assert 'name="otp_token"' not in anonymous.get(reverse("accounts:login")).content.decode()
    confirmed_device(owner_user)

    response = _sign_in(anonymous, "portal", owner_user)

    assert 'name="otp_token"' in response.content.decode()
