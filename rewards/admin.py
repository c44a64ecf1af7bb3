"""The console's rewards pages: the catalog (Owners edit, Managers read, stock on the list),
redemptions and vouchers (read-only lists with filters; a Manager can release a stuck
reservation and mark a voucher used, through the services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from loyaltysite.errors import LoyaltyError
from loyaltysite.formatting import money_display
from members.admin import MerchantScopedAdmin, _adopt

from . import services
from .models import Redemption, Reward, Voucher, normalize_voucher_code

REDEMPTION_LABELS = {
    Redemption.Status.RESERVED: "warning",
    Redemption.Status.CONFIRMED: "success",
    Redemption.Status.RELEASED: "info",
    Redemption.Status.EXPIRED: "danger",
}
VOUCHER_LABELS = {
    Voucher.Status.ISSUED: "info",
    Voucher.Status.USED: "success",
    Voucher.Status.EXPIRED: "danger",
}


def _staff_actor(request: HttpRequest) -> str:
    return f"staff:{request.user.pk}"


class _ReadOnlyAdmin(MerchantScopedAdmin):
    """Rows written only by services: no add, no delete, no save buttons; actions only."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return [f for _title, opts in self.get_fieldsets(request, obj) for f in opts["fields"]]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False, "show_save_and_continue": False,
            "show_save_and_add_another": False, "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(gettext("Not found."))
        return obj

    def _confirm_page(self, request: HttpRequest, obj: Any, *, title: str, text: str,
                      **context: Any) -> TemplateResponse:
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk]
        )
        return TemplateResponse(request, "rewards/admin/confirm.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": obj, "title": title, "text": text,
            "change_url": change_url, **context,
        })


# -- catalog -------------------------------------------------------------------------------


@admin.register(Reward)
class RewardAdmin(MerchantScopedAdmin):
    """Owners manage the catalog (``change_reward``); Managers only read it."""

    merchant_source = "program"
    # Few, narrow columns: the list fits 1366 px beside the sidebar without scrolling sideways
    # (the limit per member and the minimum tier are on the reward's page).
    list_display = [
        "name", "program", "kind", "points_cost", "stock_left", "reserved_units", "window",
        "is_active",
    ]
    list_filter = ["is_active", "kind", "program"]
    list_select_related = ["program", "min_tier"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": [
            "program", "name", "description", "image", "image_url", "is_active",
        ]}),
        (_("Cost and value"), {"fields": ["points_cost", "kind", "value"]}),
        (_("Availability"), {"fields": [
            "stock", "per_member_limit", "min_tier", "starts_at", "ends_at",
        ]}),
        (_("Vouchers"), {"fields": ["voucher_valid_days"]}),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "image_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request):
        # A deleted reward is gone from the console as from the API.
        return (
            super().get_queryset(request)
            .filter(deleted_at__isnull=True)
            .annotate(
                reserved_total=Count(
                    "redemptions", filter=Q(redemptions__status=Redemption.Status.RESERVED)
                )
            )
        )

    @display(description=_("Stock left"), ordering="stock")
    def stock_left(self, obj: Reward) -> str:
        return gettext("unlimited") if obj.stock is None else str(obj.stock)

    @display(description=_("Reserved"), ordering="reserved_total")
    def reserved_units(self, obj: Reward) -> int:
        return obj.reserved_total

    @display(description=_("Window"))
    def window(self, obj: Reward) -> str:
        if not obj.starts_at and not obj.ends_at:
            return "—"
        start = obj.starts_at.date().isoformat() if obj.starts_at else "…"
        end = obj.ends_at.date().isoformat() if obj.ends_at else "…"
        return f"{start} – {end}"

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in (form.changed_data if change else form.cleaned_data)
            if name in services.REWARD_FIELDS
        }
        if "image" in fields and not fields["image"]:
            fields["image"] = ""  # no upload, or "clear" ticked
        if change:
            services.reward_update(reward=obj, **fields)
            return
        _adopt(obj, services.reward_create(program=obj.program, **fields))

    def get_deleted_objects(self, objs, request):
        # Deleting is a soft delete: the reward's redemptions and vouchers stay.
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        services.reward_delete(reward=obj)

    def delete_queryset(self, request, queryset):
        for reward in queryset:
            services.reward_delete(reward=reward)


# -- redemptions ---------------------------------------------------------------------------


@admin.register(Redemption)
class RedemptionAdmin(_ReadOnlyAdmin):
    list_display = [
        "id", "member_card", "kind", "reward", "points", "discount", "status_label",
        "order_id", "expires_at", "created_at",
    ]
    list_filter = ["status", "kind", "program", "reward", "created_at"]
    list_select_related = ["member", "reward"]
    search_fields = ["member__card_id", "member__customer__external_id", "order_id"]
    date_hierarchy = "created_at"
    actions = ["release_selected"]
    actions_detail = ["release"]
    fieldsets = [
        (None, {"fields": [
            "member", "program", "kind", "reward", "points", "status", "order_id", "actor",
        ]}),
        (_("Points as a discount"), {"fields": [
            "order_amount", "discount_amount", "currency", "refunded_points",
        ]}),
        (_("Times"), {"fields": ["created_at", "expires_at", "confirmed_at", "released_at"]}),
    ]

    @display(description=_("Card"), ordering="member__card_id")
    def member_card(self, obj: Redemption) -> str:
        return obj.member.card_id_display

    @display(description=_("Discount"))
    def discount(self, obj: Redemption) -> str:
        if obj.discount_amount is None:
            return "—"
        return money_display(obj.discount_amount, obj.currency)

    @display(description=_("Status"), ordering="status", label=REDEMPTION_LABELS)
    def status_label(self, obj: Redemption) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    def has_release_redemption_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("rewards.release_redemption")

    def _release(self, request: HttpRequest, redemption: Redemption) -> bool:
        try:
            services.redemption_release(redemption=redemption, actor=_staff_actor(request))
        except LoyaltyError as exc:
            messages.error(request, f"#{redemption.pk}: {exc.detail}")
            return False
        return True

    @admin.action(description=_("Release the selected reservations"),
                  permissions=["release_redemption"])
    def release_selected(self, request: HttpRequest, queryset) -> None:
        open_ones = queryset.filter(status=Redemption.Status.RESERVED).order_by("pk")
        released = sum(self._release(request, redemption) for redemption in open_ones)
        self.message_user(
            request, gettext("%(n)d reservation(s) released; their points are back.")
            % {"n": released},
        )

    @action(description=_("Release"), url_path="release", icon="undo",
            permissions=["release_redemption"])
    def release(self, request: HttpRequest, object_id: str) -> HttpResponse:
        redemption = self._object(request, object_id)
        if request.method == "POST":
            if self._release(request, redemption):
                messages.success(request, gettext("Reservation released; the points are back."))
            return redirect("admin:rewards_redemption_change", redemption.pk)
        return self._confirm_page(
            request, redemption, title=gettext("Release reservation"),
            text=gettext("%(points)d points go back to member %(card)s.") % {
                "points": redemption.points, "card": redemption.member.card_id_display,
            },
            possible=redemption.status == Redemption.Status.RESERVED,
        )


# -- vouchers ------------------------------------------------------------------------------


@admin.register(Voucher)
class VoucherAdmin(_ReadOnlyAdmin):
    list_display = [
        "code_display", "member_card", "reward", "status_label", "issued_at", "expires_at",
        "used_at", "used_reference",
    ]
    list_filter = ["status", "program", "reward", "issued_at"]
    list_select_related = ["member", "reward"]
    search_fields = ["code", "member__card_id", "member__customer__external_id"]
    actions = ["use_selected"]
    actions_detail = ["use"]
    fieldsets = [
        (None, {"fields": ["code_display", "member", "program", "reward", "redemption",
                           "status"]}),
        (_("Times"), {"fields": ["issued_at", "expires_at", "used_at", "used_reference",
                                 "used_by"]}),
    ]

    @display(description=_("Code"), ordering="code")
    def code_display(self, obj: Voucher) -> str:
        return obj.code_display

    @display(description=_("Card"), ordering="member__card_id")
    def member_card(self, obj: Voucher) -> str:
        return obj.member.card_id_display

    @display(description=_("Status"), ordering="status", label=VOUCHER_LABELS)
    def status_label(self, obj: Voucher) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        code = normalize_voucher_code(search_term) if search_term else ""
        if code and code != search_term:
            # A code typed as printed (dashes, lower case) still finds the voucher.
            queryset |= self.get_queryset(request).filter(code=code)
        return queryset, may_have_duplicates

    def has_use_voucher_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("rewards.use_voucher")

    def _use(self, request: HttpRequest, voucher: Voucher) -> bool:
        try:
            services.voucher_use(
                voucher=voucher, actor=_staff_actor(request), reference="console"
            )
        except LoyaltyError as exc:
            messages.error(request, f"{voucher.code_display}: {exc.detail}")
            return False
        return True

    @admin.action(description=_("Mark the selected vouchers used"),
                  permissions=["use_voucher"])
    def use_selected(self, request: HttpRequest, queryset) -> None:
        used = sum(self._use(request, voucher) for voucher in queryset.order_by("pk"))
        self.message_user(request, gettext("%(n)d voucher(s) marked used.") % {"n": used})

    @action(description=_("Mark used"), url_path="use", icon="check_circle",
            permissions=["use_voucher"])
    def use(self, request: HttpRequest, object_id: str) -> HttpResponse:
        voucher = self._object(request, object_id)
        if request.method == "POST":
            if self._use(request, voucher):
                messages.success(request, gettext("Voucher %(code)s marked used.")
                                 % {"code": voucher.code_display})
            return redirect("admin:rewards_voucher_change", voucher.pk)
        return self._confirm_page(
            request, voucher, title=gettext("Mark voucher used"),
            text=gettext("Voucher %(code)s (%(reward)s) will be marked used.") % {
                "code": voucher.code_display, "reward": voucher.reward,
            },
            possible=voucher.status == Voucher.Status.ISSUED,
        )
