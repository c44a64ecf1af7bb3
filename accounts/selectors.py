"""Reads for sign-in: a staff user's authenticator device, whether their merchant requires one,
the programs a visitor of the sign-in page may join."""

from __future__ import annotations

from collections.abc import Iterable

import segno
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from members.models import Program, StaffMembership

from .models import SignInPolicy

STAFF_ACTOR_PREFIX = "staff:"


def totp_device_confirmed(*, user) -> TOTPDevice | None:
    """The user's authenticator app, once set up (``None`` while there is none)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_devices_confirmed(*, user) -> QuerySet[TOTPDevice]:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")


def two_factor_required(*, user) -> bool:
    """True for an Owner whose merchant requires two-factor sign-in for Owners."""
    if not (getattr(user, "is_authenticated", False) and user.is_staff):
        return False
    with scopes_disabled():
        membership = StaffMembership.objects.filter(user=user).only("merchant_id", "role").first()
        if membership is None or membership.role != StaffMembership.Role.OWNER:
            return False
        return SignInPolicy.objects.filter(
            merchant_id=membership.merchant_id, require_owner_two_factor=True
        ).exists()


def totp_qr_data_uri(*, device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URL as a QR code (an SVG data URI for an <img>)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def totp_secret_display(*, device: TOTPDevice) -> str:
    """The device's key in base32, in groups of four, for typing into an app by hand."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def programs_open_for_sign_up(*, limit: int = 10) -> list[Program]:
    """Live programs a visitor may join from the portal (``/join/<program>/``), for the sign-in
    page's "new here" links."""
    return list(
        Program.objects.with_scopes_disabled()
        .select_related("merchant")
        .filter(deleted_at__isnull=True, is_active=True, merchant__is_active=True)
        .order_by("name", "pk")[:limit]
    )


def actor_labels(actors: Iterable[str]) -> dict[str, str]:
    """Readable names of actors as the ledger records them: ``staff:<user id>`` becomes the
    staff user's e-mail (or username); other actors (``system:...``, ``api-key:...``,
    ``customer:...``) stay as written. One query for any number of actors."""
    actors = set(actors)
    ids = {
        actor: int(actor[len(STAFF_ACTOR_PREFIX):]) for actor in actors
        if actor.startswith(STAFF_ACTOR_PREFIX) and actor[len(STAFF_ACTOR_PREFIX):].isdigit()
    }
    users = {
        pk: email or username
        for pk, email, username in get_user_model().objects.filter(pk__in=set(ids.values()))
        .values_list("pk", "email", "username")
    }
    return {actor: users.get(ids.get(actor), actor) for actor in actors}
