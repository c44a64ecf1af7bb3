"""Sign-in forms of the console and the portal: password, and the authenticator's token for a
user who set one up."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp.forms import otp_verification_failed
from unfold.forms import AuthenticationForm as UnfoldAuthenticationForm
from unfold.widgets import BASE_INPUT_CLASSES, UnfoldAdminTextInputWidget

from .selectors import totp_devices_confirmed

CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}


def _token_field(attrs: dict | None = None) -> forms.CharField:
    return forms.CharField(
        label=_("Authentication code"), required=False, max_length=12,
        help_text=_("Only if you set up two-factor sign-in: the 6 digits your app shows."),
        widget=forms.TextInput(attrs={**CODE_ATTRS, **(attrs or {})}),
    )


class TwoFactorMixin:
    """After the password, a user with a confirmed authenticator must give a valid token; the
    device that took it is remembered on the user, so ``login()`` marks the session verified
    (django-otp's ``user_logged_in`` receiver)."""

    error_messages_2fa = {
        "token_required": _("Enter the code from your authenticator app."),
        "invalid_token": _("That code is not right (or has expired). Try the current one."),
    }

    needs_token = False  # set once the password was right and the user has a device

    def check_token(self, user) -> None:
        devices = list(totp_devices_confirmed(user=user))
        if not devices:
            return
        self.needs_token = True
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
    """The portal's sign-in; the code field shows only once a user with a device needs it
    (customers never have one)."""

    otp_token = _token_field()


class ConsoleSignInForm(TwoFactorMixin, UnfoldAuthenticationForm):
    """django-unfold's console sign-in (staff only) with the authenticator's code."""

    otp_token = _token_field({"class": " ".join(BASE_INPUT_CLASSES)})


class TotpConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the app"), max_length=12,
        widget=UnfoldAdminTextInputWidget(attrs=CODE_ATTRS),
    )
