"""Activates the tenant scope for browser requests (admin and portal).

The API sets its own scope from the API key (``loyaltysite.api.views.MerchantApi``). Staff see
their merchant; the platform operator (superuser) sees every merchant; anyone else gets a scope
that matches no merchant, so a forgotten filter finds nothing rather than everything. Portal
views read a customer's own rows through selectors filtered by the signed-in user.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from .models import Program

NO_MERCHANT = [-1]


def merchant_id_for_user(user) -> int | None:
    if not getattr(user, "is_authenticated", False):
        return None
    membership = getattr(user, "staff_membership", None) if user.is_staff else None
    return membership.merchant_id if membership is not None else None


class TenantScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") or request.path == "/healthz":
            return self.get_response(request)
        user = request.user
        with scopes_disabled():
            is_operator = getattr(user, "is_superuser", False)
            merchant_id = None if is_operator else merchant_id_for_user(user)
        if is_operator:
            with scopes_disabled():
                return self.get_response(request)
        request.merchant_id = merchant_id
        with scope(merchant=merchant_id if merchant_id is not None else NO_MERCHANT):
            return self.get_response(request)


class ProgramLocaleMiddleware:
    """Speaks the program's language and keeps its clock, for each browser request.

    The program is the signed-in staff user's merchant's first live program (console), or the
    customer's first membership's (portal). Its ``language`` is activated unless the visitor
    chose one (the portal's language switch sets Django's language cookie), and its
    ``time_zone`` is the current time zone, so dates and times are written as that program's
    people read them. A page about one program (a membership card, its history) renders its
    dates in that program's zone itself (``{% timezone program.time_zone %}``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") or request.path == "/healthz":
            return self.get_response(request)
        program = program_for_user(getattr(request, "user", None))
        if program is None:
            return self.get_response(request)
        if not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
            language = translation.get_supported_language_variant(program.language)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        with timezone.override(program.tz):
            return self.get_response(request)


def program_for_user(user) -> Program | None:
    """The program whose language and time zone the user's pages use (``None``: defaults)."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    programs = Program.objects.with_scopes_disabled().filter(deleted_at__isnull=True).only(
        "time_zone", "language"
    )
    with scopes_disabled():
        merchant_id = merchant_id_for_user(user)
    if merchant_id is not None:
        return programs.filter(merchant_id=merchant_id).order_by("id").first()
    if user.is_staff:
        return None
    return (
        programs.filter(members__customer__user=user)
        .order_by("merchant__name", "name", "members__id")
        .first()
    )
