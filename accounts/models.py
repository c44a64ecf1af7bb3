"""Sign-in policy per merchant: whether Owners must use two-factor sign-in.

The TOTP devices themselves are django-otp's (``django_otp.plugins.otp_totp.TOTPDevice``), one
confirmed device per staff user; ``accounts.services`` creates, confirms and removes them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class SignInPolicy(models.Model):
    """How a merchant's staff sign in to the console. A merchant without a row has the
    defaults (two-factor sign-in optional for everyone)."""

    merchant = models.OneToOneField(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE,
        related_name="sign_in_policy"
    )
    require_owner_two_factor = models.BooleanField(
        _("require two-factor sign-in for Owners"), default=False,
        help_text=_("An Owner without an authenticator app must set one up before using the "
                    "console."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("sign-in security")
        verbose_name_plural = _("sign-in security")

    def __str__(self) -> str:
        return str(_("Sign-in security of %(merchant)s") % {"merchant": self.merchant})
