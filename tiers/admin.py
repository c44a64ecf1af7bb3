"""Tiers in the merchant console: the ladder with member counts, tier and streak settings,
the tier history and overrides, and on the member page the tier, its progress, the streak,
the history and the actions (override with a reason, clear it, pause or resume the streak).

Owners edit the ladder and the settings; Managers read them. Both may override a member's tier
and pause a member's streak (``tiers.override_tier``, ``tiers.pause_streak``). Writes go
through ``tiers.services``; a refusal shows its ``detail`` as a message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextInputWidget,
)

from loyaltysite.clock import system_clock
from loyaltysite.errors import LoyaltyError
from members.admin import MemberAdmin, MerchantScopedAdmin, member_admin_extend
from members.forms import MerchantScopedForm
from members.models import Member

from . import ladder as cache
from . import selectors, services
from .models import StreakPause, Tier, TierChange, TierOverride, TierSettings

STREAK_LABELS = {"active": "success", "paused": "warning", "broken": "danger"}


def _swatch(colour: str) -> str:
    """A colour sample for the console: an SVG ``fill``, no inline style."""
    return format_html(
        '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false" '
        'class="inline-block align-middle mr-1"><circle cx="7" cy="7" r="6" fill="{}"/></svg>',
        colour,
    )


# -- the ladder ----------------------------------------------------------------------------


class TierForm(MerchantScopedForm):
    """A tier; fields with a model default may be left empty (they take the default)."""

    merchant_source = "program"
    DEFAULTED = ("threshold_points", "threshold_amount", "earn_multiplier", "colour",
                 "streak_multiplier", "streak_bonus_points")

    class Meta:
        model = Tier
        fields = ["program", "name", "rank", "threshold_points", "threshold_amount",
                  "earn_multiplier", "perks", "colour", "streak_multiplier",
                  "streak_bonus_points"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.DEFAULTED:
            if name in self.fields:
                self.fields[name].required = False

    def clean(self):
        for name in self.DEFAULTED:
            if name in self.fields and self.cleaned_data.get(name) in (None, ""):
                self.cleaned_data[name] = Tier._meta.get_field(name).get_default()
        return super().clean()


class _ServiceSavingAdmin(MerchantScopedAdmin):
    """Saves and deletes through services; a refusal is a message, not a server error."""

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except LoyaltyError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path().rsplit("delete/", 1)[0])


@admin.register(Tier)
class TierAdmin(_ServiceSavingAdmin):
    form = TierForm
    merchant_source = "program"
    list_display = ["badge", "program", "rank", "threshold_points", "threshold_amount",
                    "earn_multiplier", "member_count"]
    list_filter = ["program"]
    list_select_related = ["program"]
    search_fields = ["name"]
    ordering = ["program", "rank"]
    fieldsets = [
        (None, {"fields": ["program", "name", "rank", "colour"]}),
        (_("Qualification"), {
            "fields": ["threshold_points", "threshold_amount"],
            "description": _("Which threshold counts is the program's basis (tier and streak "
                             "settings): points for lifetime or window points, money for "
                             "spend in a window. Thresholds rise with rank."),
        }),
        (_("Benefits"), {"fields": ["earn_multiplier", "perks"]}),
        (_("Streak reward policy"), {"fields": ["streak_multiplier", "streak_bonus_points"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @display(description=_("Tier"), ordering="name")
    def badge(self, obj: Tier) -> str:
        return format_html("{}{}", _swatch(obj.colour), obj.name)

    @display(description=_("Members"), ordering="member_total")
    def member_count(self, obj: Tier) -> int:
        return obj.member_total

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.catalog.TIER_FIELDS
                  if name in form.cleaned_data}
        if change:
            services.tier_update(tier=obj, **fields)
            return
        self.assign_merchant(request, obj, form)
        saved = services.tier_create(program=form.cleaned_data["program"], **fields)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.tier_delete(tier=obj)

    def delete_queryset(self, request, queryset):
        for tier in queryset:
            try:
                services.tier_delete(tier=tier)
            except LoyaltyError as exc:
                self.message_user(request, exc.detail, messages.ERROR)


class TierSettingsForm(MerchantScopedForm):
    merchant_source = "program"

    class Meta:
        model = TierSettings
        fields = ["program", *sorted(services.catalog.SETTINGS_FIELDS)]


@admin.register(TierSettings)
class TierSettingsAdmin(MerchantScopedAdmin):
    form = TierSettingsForm
    merchant_source = "program"
    list_display = ["program", "basis", "grace_days", "evaluation_days", "streak_cycle",
                    "pauses_per_year", "milestone_every"]
    list_select_related = ["program"]
    fieldsets = [
        (None, {"fields": ["program"]}),
        (_("Tiers"), {"fields": ["basis", "window_months", "grace_days", "evaluation_days"]}),
        (_("Streaks"), {
            "fields": ["streak_cycle", "streak_activity", "streak_event_types",
                       "pauses_per_year", "max_pause_days"],
            "description": _("Cycles follow the program's time zone. A pause of up to 15 days "
                             "keeps the streak; 16 to 45 days resets it; more than 45 days "
                             "resets it and lowers the tier by one."),
        }),
        (_("Streak rewards"), {
            "fields": ["milestone_every", "milestone_points"],
            "description": _("Every N cycles the member earns count × points, times their "
                             "tier's streak multiplier, plus its bonus."),
        }),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "program"] if obj is not None else readonly

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.catalog.SETTINGS_FIELDS
                  if name in form.cleaned_data}
        program = obj.program if change else form.cleaned_data["program"]
        saved = services.tier_settings_update(program=program, **fields)
        obj.pk = saved.pk
        obj._state.adding = False


class _ReadOnlyAdmin(MerchantScopedAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TierChange)
class TierChangeAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "member", "from_name", "to_name", "reason", "actor", "note"]
    list_filter = ["reason", "program"]
    list_select_related = ["member__customer", "member__program"]
    search_fields = ["member__card_id", "member__customer__external_id", "member__customer__email"]
    ordering = ["-created_at", "-id"]


@admin.register(TierOverride)
class TierOverrideAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "member", "tier", "previous_tier", "ends_at", "ended_at",
                    "reason", "actor"]
    list_filter = ["tier"]
    list_select_related = ["member__customer", "member__program", "tier", "previous_tier"]
    search_fields = ["member__card_id", "member__customer__external_id", "reason"]
    ordering = ["-created_at"]


# -- the member page ------------------------------------------------------------------------


class TierHistoryInline(TabularInline):
    """The member's tier changes, newest first, read-only."""

    model = TierChange
    fk_name = "member"
    fields = ["created_at", "from_name", "to_name", "reason", "actor", "note"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    per_page = 10
    can_delete = False
    verbose_name_plural = _("Tier history")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TierOverrideForm(forms.Form):
    tier = forms.ModelChoiceField(queryset=Tier.objects.none(), label=_("Tier"),
                                  widget=UnfoldAdminSelectWidget)
    ends_at = forms.SplitDateTimeField(
        label=_("Ends at"), required=False, widget=UnfoldAdminSplitDateTimeWidget,
        help_text=_("Empty: until cleared."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=255,
                             widget=UnfoldAdminTextInputWidget,
                             help_text=_("Required; kept in the tier history."))

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = Tier.objects.filter(
            program_id=member.program_id, merchant_id=member.merchant_id
        ).order_by("rank")


class StreakPauseForm(forms.Form):
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=365,
                              widget=UnfoldAdminIntegerFieldWidget)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False,
                             widget=UnfoldAdminTextInputWidget)


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.pk}"


def _member_action(request, admin_obj, object_id, *, form_class, form_kwargs, template, title,
                   submit, perform) -> HttpResponse:
    """A member action's page: GET shows the form, a valid POST calls ``perform``."""
    member = admin_obj._member(request, object_id)
    form = form_class(request.POST or None, **form_kwargs(member)) if form_class else None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            message = perform(member, form.cleaned_data if form else {})
        except LoyaltyError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, message)
            return redirect("admin:members_member_change", member.pk)
    return admin_obj._page(request, member, template, form=form, title=title,
                           submit_label=submit)


@action(description=_("Override tier"), url_path="tier-override", icon="military_tech",
        permissions=["override_tier"])
def tier_override(self, request: HttpRequest, object_id: str) -> HttpResponse:
    def perform(member: Member, data: dict[str, Any]) -> str:
        services.tier_override_set(member=member, tier=data["tier"], ends_at=data["ends_at"],
                                   reason=data["reason"], actor=_actor(request))
        return gettext("%(card)s is now %(tier)s by override.") % {
            "card": member.card_id_display, "tier": data["tier"].name}

    return _member_action(
        request, self, object_id, form_class=TierOverrideForm,
        form_kwargs=lambda member: {"member": member},
        template="tiers/admin/member_form.html", title=gettext("Override tier"),
        submit=gettext("Set the tier"), perform=perform,
    )


@action(description=_("Clear tier override"), url_path="tier-override-clear", icon="undo",
        permissions=["override_tier"])
def tier_override_clear(self, request: HttpRequest, object_id: str) -> HttpResponse:
    def perform(member: Member, data: dict[str, Any]) -> str:
        services.tier_override_clear(member=member, actor=_actor(request))
        return gettext("The override of %(card)s ended; evaluation applies again.") % {
            "card": member.card_id_display}

    return _member_action(
        request, self, object_id, form_class=None, form_kwargs=dict,
        template="tiers/admin/member_form.html", title=gettext("Clear tier override"),
        submit=gettext("Clear the override"), perform=perform,
    )


@action(description=_("Pause streak"), url_path="streak-pause", icon="pause",
        permissions=["pause_streak"])
def streak_pause(self, request: HttpRequest, object_id: str) -> HttpResponse:
    def perform(member: Member, data: dict[str, Any]) -> str:
        pause = services.streak_pause(member=member, days=data["days"], reason=data["reason"],
                                      actor=_actor(request))
        return gettext("The streak of %(card)s is paused until %(until)s.") % {
            "card": member.card_id_display, "until": pause.until}

    return _member_action(
        request, self, object_id, form_class=StreakPauseForm, form_kwargs=lambda member: {},
        template="tiers/admin/member_form.html", title=gettext("Pause streak"),
        submit=gettext("Pause"), perform=perform,
    )


@action(description=_("Resume streak"), url_path="streak-resume", icon="play_arrow",
        permissions=["pause_streak"])
def streak_resume(self, request: HttpRequest, object_id: str) -> HttpResponse:
    def perform(member: Member, data: dict[str, Any]) -> str:
        outcome = services.streak_resume(member=member, actor=_actor(request))[1]
        return gettext("The streak of %(card)s is active again (%(outcome)s).") % {
            "card": member.card_id_display,
            "outcome": StreakPause.Outcome(outcome).label.lower()}

    return _member_action(
        request, self, object_id, form_class=None, form_kwargs=dict,
        template="tiers/admin/member_form.html", title=gettext("Resume streak"),
        submit=gettext("Resume"), perform=perform,
    )


def has_override_tier_permission(self, request: HttpRequest, obj: Any = None) -> bool:
    return request.user.has_perm("tiers.override_tier")


def has_pause_streak_permission(self, request: HttpRequest, obj: Any = None) -> bool:
    return request.user.has_perm("tiers.pause_streak")


@display(description=_("Tier progress"))
def tier_standing(self, obj: Member) -> str:
    ladder = cache.ladder_for(obj.program_id)
    if not ladder.tiers:
        return gettext("This program has no tiers.")
    panel = selectors.member_panel(member=obj, now=system_clock.now())
    tier = panel["tier"]
    held = format_html("{}{}", _swatch(tier.colour), tier.name) if tier else gettext("None")
    progress = panel["progress"]
    if progress is None:
        return format_html("{} · {}", held, gettext("the top tier"))
    return format_html("{} · {}", held, gettext("%(needed)s to %(tier)s") % {
        "needed": progress["needed"] if progress["spend"] else
        gettext("%(n)s points") % {"n": progress["needed"]},
        "tier": progress["tier"].name})


@display(description=_("Tier override"))
def tier_override_info(self, obj: Member) -> str:
    override = selectors.tier_override_open(member=obj)
    if override is None:
        return gettext("None")
    until = override.ends_at.strftime("%Y-%m-%d %H:%M") if override.ends_at else gettext(
        "until cleared")
    return format_html("{} ({}) – {} · {}", override.tier, until, override.reason,
                       override.actor)


@display(description=_("Streak"))
def streak_info(self, obj: Member) -> str:
    ladder = cache.ladder_for(obj.program_id)
    if not ladder.settings.streaks_on:
        return gettext("This program has no streaks.")
    parts = [gettext("%(n)s (%(cycle)s cycles), %(state)s") % {
        "n": obj.streak, "cycle": ladder.settings.get_streak_cycle_display().lower(),
        "state": obj.get_streak_state_display().lower()}]
    if obj.streak_state == "paused" and obj.streak_paused_until:
        parts.append(gettext("paused until %(d)s") % {"d": obj.streak_paused_until})
    elif obj.streak_due:
        parts.append(gettext("next activity due by %(d)s") % {"d": obj.streak_due})
    pauses = StreakPause.objects.filter(member_id=obj.pk).order_by("-id")[:3]
    lines = format_html_join(
        "", "<br>{} {} → {} {}",
        ((gettext("Pause"), p.started_on, p.resumed_on or p.until, p.get_outcome_display())
         for p in pauses),
    )
    return format_html("{}{}", " · ".join(parts), lines)


@display(description=_("Streak"), ordering="streak_state", label=STREAK_LABELS)
def streak_state_label(self, obj: Member) -> tuple[str, str]:
    return obj.streak_state, f"{obj.get_streak_state_display()} · {obj.streak}"


def _has_override(member: Member) -> bool:
    return TierOverride.objects.filter(member_id=member.pk, ended_at__isnull=True).exists()


def _streaks(member: Member) -> bool:
    return cache.ladder_for(member.program_id).settings.streaks_on


member_admin_extend(
    methods={
        "tier_override": tier_override, "tier_override_clear": tier_override_clear,
        "streak_pause": streak_pause, "streak_resume": streak_resume,
        "has_override_tier_permission": has_override_tier_permission,
        "has_pause_streak_permission": has_pause_streak_permission,
        "tier_standing": tier_standing, "tier_override_info": tier_override_info,
        "streak_info": streak_info, "streak_state_label": streak_state_label,
    },
    fieldsets=[(_("Tier progress and streak"), {
        "fields": ["tier_standing", "tier_override_info", "streak_info"],
    })],
    actions_detail=["tier_override", "tier_override_clear", "streak_pause", "streak_resume"],
    action_conditions={
        "tier_override": lambda m: bool(cache.ladder_for(m.program_id).tiers),
        "tier_override_clear": _has_override,
        "streak_pause": lambda m: _streaks(m) and m.streak_state == "active",
        "streak_resume": lambda m: _streaks(m) and m.streak_state == "paused",
    },
    list_display=["streak_state_label"],
    list_filter=["streak_state"],
    inlines=[TierHistoryInline],
)

__all__ = ["MemberAdmin", "TierAdmin", "TierChangeAdmin", "TierOverrideAdmin",
           "TierSettingsAdmin"]
