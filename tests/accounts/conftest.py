"""Helpers of the front-door tests: sign-in posts and authenticator codes."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "secret-pass-123"  # tests/factories.py UserFactory


def current_token(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def lands_on(client, response) -> str:
    """The path a redirect ends on, following every hop."""
    followed = client.get(response["Location"], follow=True)
    return followed.redirect_chain[-1][0] if followed.redirect_chain else response["Location"]


@pytest.fixture
def anonymous():
    return Client()


@pytest.fixture
def throttle(settings):
    """Three failures lock a username out from one address."""
    settings.AXES_FAILURE_LIMIT = 3
    return 3
