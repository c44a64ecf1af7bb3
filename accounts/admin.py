"""Sign-in security in the console: an Owner decides whether Owners must use two-factor
sign-in; every staff user sets up their own authenticator at /admin/two-factor/."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from members.admin import MerchantScopedAdmin, _adopt

from .models import SignInPolicy
from .services import sign_in_policy_set


@admin.register(SignInPolicy)
class SignInPolicyAdmin(MerchantScopedAdmin):
    list_display = ["__str__", "require_owner_two_factor", "updated_at"]
    fields = ["merchant", "require_owner_two_factor"]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        merchant_id = self.staff_merchant_id(request)
        return merchant_id is None or not self.get_queryset(request).exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        self.assign_merchant(request, obj, form)
        _adopt(obj, sign_in_policy_set(
            merchant=obj.merchant,
            require_owner_two_factor=form.cleaned_data["require_owner_two_factor"],
        ))
