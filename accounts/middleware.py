"""Middleware of the front doors: the Content Security Policy per surface, and two-factor
sign-in enforced on the console."""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext

CONSOLE_PREFIX = "/admin/"

# The console is django-unfold: Alpine.js evaluates its x-data / x-init attributes (the standard
# build needs 'unsafe-eval') and its templates carry inline styles. It runs no inline <script>.
CONSOLE_CSP_ADDITIONS = {
    "script-src": ["'unsafe-eval'"],
    "style-src": ["'unsafe-inline'"],
}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the console's two additions under /admin/."""

    def get_policy_parts(self, request, response, report_only: bool = False):
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(CONSOLE_PREFIX):
            update = dict(parts.update or {})
            for directive, sources in CONSOLE_CSP_ADDITIONS.items():
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts


class ConsoleTwoFactorMiddleware:
    """On the console, a staff user with an authenticator must have signed in with it, and an
    Owner whose merchant requires two-factor sign-in must set one up before anything else.

    A session that was not verified with the token (signed in before the device was set up on
    another session, say) is signed out and sent to the console's sign-in page.
    """

    EXEMPT = ("login/", "logout/", "two-factor/", "jsi18n/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        user = getattr(request, "user", None)
        if (
            not path.startswith(CONSOLE_PREFIX)
            or path[len(CONSOLE_PREFIX):].startswith(self.EXEMPT)
            or user is None
            or not user.is_authenticated
            or not user.is_staff
        ):
            return self.get_response(request)
        from .selectors import totp_device_confirmed, two_factor_required

        if totp_device_confirmed(user=user) is not None:
            if not user.is_verified():
                logout(request)
                login_url = reverse("admin:login")
                return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
        elif two_factor_required(user=user):
            messages.warning(request, gettext(
                "Your merchant requires two-factor sign-in for Owners: set up an authenticator "
                "app to continue."
            ))
            return redirect("accounts:two_factor")
        return self.get_response(request)
