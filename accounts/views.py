"""The front doors' pages: portal sign-in (staff land on the console), the console's two-factor
set-up, password reset, the error pages (console or portal look) and the favicon."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django_otp import login as otp_login

from .forms import PortalSignInForm, TotpConfirmForm
from .selectors import (
    programs_open_for_sign_up,
    totp_device_confirmed,
    totp_qr_data_uri,
    totp_secret_display,
    two_factor_required,
)
from .services import totp_device_begin, totp_device_confirm, totp_device_remove


def is_staff_user(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and (user.is_staff or user.is_superuser))


def landing(request: HttpRequest) -> HttpResponse:
    """``LOGIN_REDIRECT_URL``: where a sign-in without ``next`` lands, the console for staff
    and the portal for customers."""
    return redirect("admin:index" if is_staff_user(request.user) else "portal:home")


class PortalLoginView(auth_views.LoginView):
    """The portal's sign-in. Customers land on the portal, staff on the console (unless a
    ``next`` says otherwise)."""

    form_class = PortalSignInForm
    template_name = "registration/login.html"

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index" if is_staff_user(self.request.user) else "portal:home")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs),
                "join_programs": programs_open_for_sign_up()}


class PortalPasswordResetView(auth_views.PasswordResetView):
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PortalPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")


def _console_page(request: HttpRequest, template: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {
        **admin.site.each_context(request), "title": _("Two-factor sign-in"), **context,
    })


def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up (or turn off) the signed-in staff user's authenticator app, in the console."""
    user = request.user
    required = two_factor_required(user=user)
    device = totp_device_confirmed(user=user)
    if device is not None:
        if request.method == "POST" and request.POST.get("action") == "remove":
            if required:
                messages.error(request, gettext(
                    "Your merchant requires two-factor sign-in for Owners: it cannot be "
                    "turned off."))
            else:
                totp_device_remove(user=user)
                messages.success(request, gettext("Two-factor sign-in is off."))
            return redirect("accounts:two_factor")
        return _console_page(request, "accounts/two_factor.html",
                             device=device, required=required)

    pending = totp_device_begin(user=user)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_device_confirm(user=user, device=pending, token=form.cleaned_data["token"]):
            pending.refresh_from_db()
            otp_login(request, pending)
            messages.success(request, gettext(
                "Two-factor sign-in is on: from now on, signing in asks for the app's code."))
            return redirect("admin:index")
        form.add_error("token", gettext("That code is not right. Try the current one."))
    return _console_page(
        request, "accounts/two_factor.html", pending=pending, form=form, required=required,
        qr_data_uri=totp_qr_data_uri(device=pending),
        secret=totp_secret_display(device=pending),
    )


# -- error pages ---------------------------------------------------------------------------
def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """``template`` in the console's frame for staff on /admin/, in the portal's otherwise."""
    context: dict = {"status": status}
    if request.path_info.startswith("/admin/") and is_staff_user(getattr(request, "user", None)):
        context.update(admin.site.each_context(request))
        context["error_base"] = "accounts/error_console.html"
    else:
        context["error_base"] = "portal/base.html"
    return TemplateResponse(request, template, context, status=status).render()


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, "404.html", 404)


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for whatever the page links: the static icon."""
    return HttpResponseRedirect(static("favicon.ico"))
