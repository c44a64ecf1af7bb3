"""Sign-in forms of the console and the portal: password, and the authenticator's token for a
user who set one up."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp.forms import otp_verification_failed

from .selectors import totp_devices_confirmed


def _token_field() -> forms.CharField:
    return forms.CharField(
        label=_("Authentication code"), required=False, max_length=12,
        help_text=_("Only if you set up two-factor sign-in: the 6 digits your app shows."),
        widget=forms.TextInput(attrs={
            "autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*",
        }),
    )


class TwoFactorMixin:
    """After the password, a user with a confirmed authenticator must give a valid token; the
    device that took it is remembered on the user, so ``login()`` marks the session verified
    (django-otp's ``user_logged_in`` receiver)."""

    error_messages_2fa = {
        "token_required": _("Enter the code from your authenticator app."),
        "invalid_token": _("That code is not right (or has expired). Try the current one."),
    }

    def check_token(self, user) -> None:
        devices = list(totp_devices_confirmed(user=user))
        if not devices:
            return
        token = (self.cleaned_data.get("otp_token") or "").replace(" ", "")
        if not token:
            raise forms.ValidationError(self.error_messages_2fa["token_required"],
                                        code="token_required")
        for device in devices:
            allowed, _extra = device.verify_is_allowed()
            if allowed and device.verify_token(token):
                user.otp_device = device
                return
        otp_verification_failed.send(sender=self.__class__, user=user)
        raise forms.ValidationError(self.error_messages_2fa["invalid_token"],
                                    code="invalid_token")

    def clean(self):
        cleaned = super().clean()
        self.check_token(self.get_user())
        return cleaned


class PortalSignInForm(TwoFactorMixin, AuthenticationForm):
    otp_token = _token_field()


class ConsoleSignInForm(TwoFactorMixin, AdminAuthenticationForm):
    otp_token = _token_field()


class TotpConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the app"), max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
