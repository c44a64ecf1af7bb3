"""Writes for sign-in: setting up and removing a staff user's authenticator app (TOTP), and a
merchant's sign-in policy."""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from members.models import Merchant

from .models import SignInPolicy

DEVICE_NAME = "Authenticator app"


@transaction.atomic
def totp_device_begin(*, user) -> TOTPDevice:
    """The user's authenticator device waiting for its first token, made if there is none.

    The device counts only once confirmed (``totp_device_confirm``); until then sign-in does not
    ask for a token, so a half-finished set-up never locks anyone out.
    """
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False).order_by("pk").first()
    )
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, user, device: TOTPDevice, token: str) -> bool:
    """Confirm ``device`` with a token from the app; False (nothing changes) when it is wrong.

    Confirming replaces any device the user had before: one authenticator per person.
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if not device.verify_token(token.replace(" ", "")):
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


@transaction.atomic
def totp_device_remove(*, user) -> int:
    """Turn two-factor sign-in off for ``user``: every device of theirs is deleted."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def sign_in_policy_set(*, merchant: Merchant, require_owner_two_factor: bool) -> SignInPolicy:
    policy, _ = SignInPolicy.objects.with_scopes_disabled().select_for_update().get_or_create(
        merchant=merchant
    )
    policy.require_owner_two_factor = require_owner_two_factor
    policy.save(update_fields=["require_owner_two_factor", "updated_at"])
    return policy
