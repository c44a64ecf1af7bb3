"""Referrals in the merchant console.

* Referrals: a list with filters and a funnel with the top referrers above it (the
  changelist's program and date filters apply to both); a referral's page shows both members,
  the order it came with and the one that converted it, and what each side got. Managers and
  Owners approve and reject (``referrals.review_referral``), one at a time or in bulk; a
  rejection needs a reason.
* Codes: the list, deactivate (bulk too) and regenerate (``referrals.deactivate_referralcode``).
* Settings: one row per program; Owners change them, Managers read them.

Every change goes through ``referrals.services``; a ``LoyaltyError`` is shown as a message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django.utils.timezone import get_current_timezone, make_aware
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextInputWidget

from loyaltysite.errors import LoyaltyError
from loyaltysite.formatting import money_display
from loyaltysite.ids import parse_id
from members.admin import MerchantScopedAdmin, _adopt
from members.forms import MerchantScopedForm
from members.models import Member
from rewards.admin import _ReadOnlyAdmin
from rules.models import Order

from . import selectors, services
from .models import (
    Referral,
    ReferralCode,
    ReferralReward,
    ReferralSettings,
    normalize_referral_code,
)

STATUS_LABELS = {
    Referral.Status.PENDING: "warning",
    Referral.Status.APPROVED: "info",
    Referral.Status.CONVERTED: "info",
    Referral.Status.REWARDED: "success",
    Referral.Status.REJECTED: "danger",
    Referral.Status.CLAWED_BACK: "danger",
    Referral.Status.EXPIRED: "default",
}


def _staff_actor(request: HttpRequest) -> str:
    return f"staff:{request.user.pk}"


def _member_html(member: Member) -> str:
    url = reverse("admin:members_member_change", args=[member.pk])
    customer = member.customer
    return format_html(
        '<a href="{}" class="text-primary-600 whitespace-nowrap">{}</a> {}',
        url, member.card_id_display, customer.name or customer.email or customer.external_id,
    )


def _order_html(order: Order | None, fallback: str = "—") -> str:
    if order is None:
        return fallback
    url = reverse("admin:rules_order_change", args=[order.pk])
    return format_html(
        '<a href="{}" class="text-primary-600">{}</a> ({}, {})', url, order.order_id,
        money_display(order.amount, order.currency), order.get_status_display().lower(),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=255, widget=UnfoldAdminTextInputWidget,
        help_text=_("Kept with the referral and sent in its events."),
    )


class OptionalReasonForm(ReasonForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = False


class ReferralRewardInline(TabularInline):
    model = ReferralReward
    fk_name = "referral"
    fields = ["side", "member", "kind", "status", "points", "voucher", "points_reversed",
              "points_shortfall", "note", "created_at", "clawed_back_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("What each side got")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# -- referrals -----------------------------------------------------------------------------


def _when(value: str | None) -> datetime | None:
    """A changelist date filter's value (``2026-01-15`` or a full timestamp), or ``None``."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            return datetime(day.year, day.month, day.day, tzinfo=get_current_timezone())
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = make_aware(moment)
    return moment


@admin.register(Referral)
class ReferralAdmin(_ReadOnlyAdmin):
    merchant_source = "program"
    list_display = [
        "id", "referrer_card", "referee_card", "status_label", "channel", "source",
        "created_at", "converted_at", "rewarded_at",
    ]
    list_filter = ["status", "channel", "decision", "program", "created_at"]
    list_select_related = ["referrer__customer", "referee__customer", "program"]
    search_fields = [
        "code__code", "source", "referrer__card_id", "referee__card_id",
        "referrer__customer__external_id", "referee__customer__external_id",
        "referrer__customer__email", "referee__customer__email",
    ]
    search_normalized = ("code__code", normalize_referral_code)
    date_hierarchy = "created_at"
    list_before_template = "referrals/admin/funnel.html"
    actions = ["approve_selected", "reject_selected"]
    actions_detail = ["approve", "reject"]
    inlines = [ReferralRewardInline]
    fieldsets = [
        (None, {"fields": [
            "status", "referrer_html", "referee_html", "code", "program", "channel",
            "source_html", "actor", "created_at", "expires_at",
        ]}),
        (_("Conversion"), {"fields": ["order_html", "converted_at", "rewarded_at",
                                      "clawed_back_at"]}),
        (_("Review"), {"fields": ["decision", "decided_at", "decided_by", "decision_reason"]}),
    ]

    # -- columns and fields --------------------------------------------------------------
    @display(description=_("Referrer"), ordering="referrer__card_id")
    def referrer_card(self, obj: Referral) -> str:
        return obj.referrer.card_id_display

    @display(description=_("Referred friend"), ordering="referee__card_id")
    def referee_card(self, obj: Referral) -> str:
        return obj.referee.card_id_display

    @display(description=_("Status"), ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Referral) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("Referrer"))
    def referrer_html(self, obj: Referral) -> str:
        return _member_html(obj.referrer)

    @display(description=_("Referred friend"))
    def referee_html(self, obj: Referral) -> str:
        return _member_html(obj.referee)

    @display(description=_("Converting order"))
    def order_html(self, obj: Referral) -> str:
        return _order_html(obj.order)

    @display(description=_("Source"))
    def source_html(self, obj: Referral) -> str:
        """The source, linked to the order of that id when it is the referee's."""
        if not obj.source:
            return "—"
        order = Order.objects.filter(
            program_id=obj.program_id, member_id=obj.referee_id, order_id=obj.source
        ).first()
        return _order_html(order, fallback=obj.source)

    # -- the funnel above the list -------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        merchant_id = self.staff_merchant_id(request)
        if merchant_id is not None:
            program = parse_id(request.GET.get("program__id__exact"))
            window = {
                "since": _when(request.GET.get("created_at__gte")),
                "until": _when(request.GET.get("created_at__lt")),
            }
            funnel = selectors.referral_funnel(merchant=merchant_id, program=program, **window)
            extra_context = {
                **(extra_context or {}),
                "funnel": funnel,
                "funnel_steps": [
                    (gettext("Codes"), funnel["codes"]),
                    (gettext("Attributed"), funnel["attributed"]),
                    (gettext("Converted"), funnel["converted"]),
                    (gettext("Rewarded"), funnel["rewarded"]),
                    (gettext("Rejected"), funnel["rejected"]),
                ],
                "top_referrers": selectors.top_referrers(
                    merchant=merchant_id, program=program, limit=5, **window
                ),
            }
        return super().changelist_view(request, extra_context)

    # -- review --------------------------------------------------------------------------
    def get_actions_detail(self, request, object_id):
        """Approve and reject only while a decision can still change something."""
        actions = super().get_actions_detail(request, object_id)
        pk = parse_id(object_id)
        referral = self.get_queryset(request).filter(pk=pk).first() if pk else None
        if referral is None or referral.status in services.REVIEWABLE:
            return actions
        return []

    def has_review_referral_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("referrals.review_referral")

    def _review(self, request: HttpRequest, referral: Referral, verb: str, reason: str) -> bool:
        try:
            if verb == "approve":
                services.referral_approve(referral=referral, actor=_staff_actor(request),
                                          reason=reason)
            else:
                services.referral_reject(referral=referral, actor=_staff_actor(request),
                                         reason=reason)
        except LoyaltyError as exc:
            messages.error(request, f"#{referral.pk}: {exc.detail}")
            return False
        return True

    def _bulk(self, request: HttpRequest, queryset, verb: str, form_class, title: str):
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = sum(
                self._review(request, referral, verb, form.cleaned_data["reason"])
                for referral in queryset.order_by("pk")
            )
            self.message_user(request, gettext("%(n)d referral(s) %(done)s.") % {
                "n": done, "done": gettext("approved") if verb == "approve" else gettext(
                    "rejected"
                ),
            })
            return None
        return TemplateResponse(request, "referrals/admin/review.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": title, "form": form, "referrals": queryset,
            "action": f"{verb}_selected", "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "change_url": reverse("admin:referrals_referral_changelist"),
        })

    @admin.action(description=_("Approve the selected referrals"),
                  permissions=["review_referral"])
    def approve_selected(self, request: HttpRequest, queryset):
        return self._bulk(request, queryset, "approve", OptionalReasonForm,
                          gettext("Approve referrals"))

    @admin.action(description=_("Reject the selected referrals (with a reason)"),
                  permissions=["review_referral"])
    def reject_selected(self, request: HttpRequest, queryset):
        return self._bulk(request, queryset, "reject", ReasonForm, gettext("Reject referrals"))

    def _review_page(self, request: HttpRequest, object_id: str, verb: str, form_class,
                     title: str) -> HttpResponse:
        referral = self._object(request, object_id)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if self._review(request, referral, verb, form.cleaned_data["reason"]):
                messages.success(request, gettext("Referral #%(id)d is now %(status)s.") % {
                    "id": referral.pk,
                    "status": Referral.objects.get(pk=referral.pk).get_status_display().lower(),
                })
            return redirect("admin:referrals_referral_change", referral.pk)
        return TemplateResponse(request, "referrals/admin/review.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": referral, "title": title, "form": form,
            "referrals": [referral],
            "possible": referral.status in services.REVIEWABLE,
            "change_url": reverse("admin:referrals_referral_change", args=[referral.pk]),
        })

    @action(description=_("Approve"), url_path="approve", icon="check_circle",
            permissions=["review_referral"])
    def approve(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._review_page(request, object_id, "approve", OptionalReasonForm,
                                 gettext("Approve referral"))

    @action(description=_("Reject"), url_path="reject", icon="block",
            permissions=["review_referral"])
    def reject(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._review_page(request, object_id, "reject", ReasonForm,
                                 gettext("Reject referral"))


# -- codes ---------------------------------------------------------------------------------


@admin.register(ReferralCode)
class ReferralCodeAdmin(_ReadOnlyAdmin):
    merchant_source = "program"
    list_display = ["code", "member_card", "program", "is_active", "created_at",
                    "deactivated_at"]
    list_filter = ["is_active", "program", "created_at"]
    list_select_related = ["member__customer", "program"]
    search_fields = ["code", "member__card_id", "member__customer__external_id",
                     "member__customer__email"]
    search_normalized = ("code", normalize_referral_code)
    actions = ["deactivate_selected"]
    actions_detail = ["deactivate", "regenerate"]
    fieldsets = [
        (None, {"fields": ["code", "member_html", "program", "is_active", "created_at",
                           "deactivated_at", "deactivated_by"]}),
    ]

    @display(description=_("Card"), ordering="member__card_id")
    def member_card(self, obj: ReferralCode) -> str:
        return obj.member.card_id_display

    @display(description=_("Member"))
    def member_html(self, obj: ReferralCode) -> str:
        return _member_html(obj.member)

    def has_deactivate_referralcode_permission(self, request: HttpRequest,
                                               obj: Any = None) -> bool:
        return request.user.has_perm("referrals.deactivate_referralcode")

    @admin.action(description=_("Deactivate the selected codes"),
                  permissions=["deactivate_referralcode"])
    def deactivate_selected(self, request: HttpRequest, queryset) -> None:
        done = 0
        for code in queryset.filter(is_active=True).order_by("pk"):
            services.referral_code_deactivate(code=code, actor=_staff_actor(request))
            done += 1
        self.message_user(request, gettext("%(n)d code(s) deactivated.") % {"n": done})

    @action(description=_("Deactivate"), url_path="deactivate", icon="link_off",
            permissions=["deactivate_referralcode"])
    def deactivate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        code = self._object(request, object_id)
        if request.method == "POST":
            services.referral_code_deactivate(code=code, actor=_staff_actor(request))
            messages.success(request, gettext("Code %(code)s deactivated.") % {"code": code})
            return redirect("admin:referrals_referralcode_change", code.pk)
        return self._confirm_page(
            request, code, title=gettext("Deactivate referral code"),
            text=gettext("Code %(code)s will attribute nothing any more; its referrals stay.")
            % {"code": code}, possible=code.is_active,
        )

    @action(description=_("Regenerate"), url_path="regenerate", icon="autorenew",
            permissions=["deactivate_referralcode"])
    def regenerate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        code = self._object(request, object_id)
        if request.method == "POST":
            try:
                new = services.referral_code_regenerate(member=code.member,
                                                        actor=_staff_actor(request))
            except LoyaltyError as exc:
                messages.error(request, exc.detail)
                return redirect("admin:referrals_referralcode_change", code.pk)
            messages.success(request, gettext("New code %(code)s issued.") % {"code": new})
            return redirect("admin:referrals_referralcode_change", new.pk)
        return self._confirm_page(
            request, code, title=gettext("Regenerate referral code"),
            text=gettext("The member's active code is switched off and a new one issued."),
            possible=code.member.status == Member.Status.ACTIVE,
        )


# -- settings ------------------------------------------------------------------------------


class ReferralSettingsForm(MerchantScopedForm):
    merchant_source = "program"

    class Meta:
        model = ReferralSettings
        fields = ["program", *sorted(services.SETTINGS_FIELDS)]


@admin.register(ReferralSettings)
class ReferralSettingsAdmin(MerchantScopedAdmin):
    """Owners set a program's referral terms (``change_referralsettings``); Managers read."""

    form = ReferralSettingsForm
    merchant_source = "program"
    list_display = ["program", "is_enabled", "referrer_terms", "referee_terms",
                    "min_order_amount", "conversion_window_days", "requires_approval",
                    "limit_text"]
    list_select_related = ["program", "referrer_reward", "referee_reward"]
    fieldsets = [
        (None, {"fields": ["program", "is_enabled", "requires_approval",
                           "new_customers_only"]}),
        (_("The referrer gets"), {"fields": ["referrer_reward_kind", "referrer_points",
                                             "referrer_reward"]}),
        (_("The referred friend gets"), {"fields": ["referee_reward_kind", "referee_points",
                                                    "referee_reward"]}),
        (_("Conversion"), {"fields": ["min_order_amount", "conversion_window_days"]}),
        (_("Rate limit"), {"fields": ["limit_count", "limit_period_days"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "program"] if obj is not None else readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("referrer_reward", "referee_reward"):
            field.queryset = field.queryset.filter(deleted_at__isnull=True)
        elif db_field.name == "program":
            field.queryset = field.queryset.exclude(referral_settings__isnull=False)
        return field

    @display(description=_("Referrer gets"))
    def referrer_terms(self, obj: ReferralSettings) -> str:
        return self._terms(obj, "referrer")

    @display(description=_("Friend gets"))
    def referee_terms(self, obj: ReferralSettings) -> str:
        return self._terms(obj, "referee")

    @staticmethod
    def _terms(obj: ReferralSettings, side: str) -> str:
        kind = getattr(obj, f"{side}_reward_kind")
        if kind == "points":
            return gettext("%(n)d points") % {"n": getattr(obj, f"{side}_points")}
        if kind == "reward":
            return str(getattr(obj, f"{side}_reward"))
        return "—"

    @display(description=_("Rate limit"))
    def limit_text(self, obj: ReferralSettings) -> str:
        if obj.limit_count is None:
            return gettext("none")
        return gettext("%(n)d per %(days)d days") % {
            "n": obj.limit_count, "days": obj.limit_period_days,
        }

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in (form.changed_data if change else form.cleaned_data)
            if name in services.SETTINGS_FIELDS
        }
        _adopt(obj, services.referral_settings_update(program=obj.program, **fields))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switch referrals off instead; referrals keep their history
