"""Activates the tenant scope for browser requests (admin and portal).

The API sets its own scope from the API key (``loyaltysite.api.views.MerchantApi``). Staff see
their merchant; the platform operator (superuser) sees every merchant; anyone else gets a scope
that matches no merchant, so a forgotten filter finds nothing rather than everything. Portal
views read a customer's own rows through selectors filtered by the signed-in user.
"""

from __future__ import annotations

from django_scopes import scope, scopes_disabled

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
