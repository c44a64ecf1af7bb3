"""Earning in the merchant console: rules (Owners edit, Managers read), orders and events.

The rule list shows how often each rule fired and the points it gave (counted from awards).
The rule page has a "Try it" button that evaluates the rule, as currently edited, against a
sample order or event, through the same code as the API, and saves nothing.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.helpers import AdminErrorList
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from ledger.admin import ReadOnlyAdmin, card_html
from loyaltysite.formatting import money_display
from members.admin import MerchantScopedAdmin, _adopt
from members.models import Program
from members.resources import ConsoleExportMixin

from . import selectors
from .config import describe
from .forms import CONFIG_FIELDS, EarningRuleForm, condition_names
from .models import EarningRule, Event, Order, Refund
from .resources import OrderExportResource
from .services import rule_create, rule_delete, rule_update
from .services.rules import RULE_FIELDS

KIND_HELP = _(
    "The fields below change with the kind: an order rule multiplies or adds to what an order "
    "earns; category and SKU rules apply to matching lines; an event rule gives fixed points "
    "for an event type, under conditions; tier bonus, welcome and birthday rules speak for "
    "themselves."
)
CONDITIONS_HELP = _(
    "Event rules only; every condition must hold. Field: outcome, status, scope or "
    "metadata.&lt;key&gt; (nested: metadata.device.os). Value: text, a number, true or false "
    "(\"5\" in quotes is the text 5); for \"is one of\", values separated by commas."
)


@admin.register(EarningRule)
class EarningRuleAdmin(MerchantScopedAdmin):
    form = EarningRuleForm
    merchant_source = "program"
    change_form_after_template = "rules/admin/try_it.html"
    list_display = [
        "name", "program", "kind", "summary", "is_active", "priority", "stackable",
        "award_total", "points_total",
    ]
    list_filter = ["kind", "is_active", "program"]
    list_select_related = ["program"]
    search_fields = ["name", "description"]
    ordering = ["program", "-priority", "id"]
    readonly_fields = ["budget_spent", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["program", "name", "kind", "description", "is_active"]}),
        (_("What it gives"), {"fields": list(CONFIG_FIELDS), "description": KIND_HELP,
                              "classes": ["rule-config"]}),
        (_("Conditions on the event"), {
            "fields": [condition_names(i) for i in range(EarningRuleForm.CONDITION_ROWS)],
            "description": CONDITIONS_HELP, "classes": ["rule-conditions"],
        }),
        (_("When and with what"), {"fields": [
            "starts_at", "ends_at", "priority", "stackable",
        ]}),
        (_("Limits"), {"fields": [
            "max_per_member", "cooldown_hours", "budget_points", "budget_spent",
        ]}),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]

    class Media:
        js = ["rules/rule_form.js"]
        css = {"all": ["rules/rule_form.css"]}

    def get_queryset(self, request):
        qs = super().get_queryset(request).filter(deleted_at__isnull=True)
        return selectors.rules_with_counts(qs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"trying": "_try" in request.POST})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "program":
            kwargs["queryset"] = Program.objects.filter(deleted_at__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @display(description=_("In plain words"))
    def summary(self, obj: EarningRule) -> str:
        return describe(obj, currency=obj.program.currency,
                        point_names=obj.program.point_name_plural)

    @display(description=_("Awards"), ordering="award_count")
    def award_total(self, obj: EarningRule) -> int:
        return obj.award_count

    @display(description=_("Points awarded"), ordering="points_awarded")
    def points_total(self, obj: EarningRule) -> int:
        return obj.points_awarded

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        """After "Try it", the form is invalid only so that nothing is saved: drop that marker,
        so the page shows the panel beside the form, not an error banner."""
        form = context["adminform"].form
        tried = [e for e in form.errors.get(NON_FIELD_ERRORS, [])
                 if e == EarningRuleForm.TRIED]
        if tried:
            kept = [e for e in form.errors[NON_FIELD_ERRORS] if e != EarningRuleForm.TRIED]
            if kept:
                form.errors[NON_FIELD_ERRORS] = form.error_class(kept, error_class="nonfield")
            else:
                del form.errors[NON_FIELD_ERRORS]
            context["errors"] = AdminErrorList(form, [])
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)

    def save_model(self, request, obj, form, change):
        # The config is built by the form from the kind's fields (never a form field itself).
        fields = {
            name: form.cleaned_data[name]
            for name in ({*form.changed_data, "config"} if change else form.cleaned_data)
            if name in RULE_FIELDS and name in form.cleaned_data
        }
        if change:
            _adopt(obj, rule_update(rule=obj, **fields))
            return
        self.assign_merchant(request, obj, form)
        _adopt(obj, rule_create(program=form.cleaned_data["program"], **fields))

    def get_deleted_objects(self, objs, request):
        # Deleting is a soft delete: awards and ledger entries keep pointing at the rule.
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        rule_delete(rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            rule_delete(rule=rule)


class RefundInline(admin.TabularInline):
    model = Refund
    fields = ["created_at", "money", "points_reversed", "points_shortfall", "points_returned",
              "reason", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("Amount"))
    def money(self, obj: Refund) -> str:
        return money_display(obj.amount, obj.order.currency)


@admin.register(Order)
class OrderAdmin(ConsoleExportMixin, ReadOnlyAdmin):
    export_resource = OrderExportResource
    list_display = [
        "order_id", "card", "program", "paid", "points_earned", "points_reversed",
        "status", "created_at",
    ]
    list_filter = ["status", "program"]
    list_select_related = ["member", "program"]
    search_fields = ["order_id", "member__card_id", "member__customer__external_id"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "order_id", "member", "program", "status", "paid", "paid_with_points", "refunded",
        "points_earned", "points_reversed", "points_shortfall", "awards", "items", "entry",
        "actor", "occurred_at", "created_at",
    ]
    readonly_fields = fields
    inlines = [RefundInline]

    @display(description=_("Paid"), ordering="amount")
    def paid(self, obj: Order) -> str:
        return money_display(obj.amount, obj.currency)

    @display(description=_("Paid with points"))
    def paid_with_points(self, obj: Order) -> str:
        return money_display(obj.points_discount, obj.currency)

    @display(description=_("Refunded"))
    def refunded(self, obj: Order) -> str:
        return money_display(obj.amount_refunded, obj.currency)

    @display(description=_("Card"), ordering="member__card_id")
    def card(self, obj: Order) -> str:
        return card_html(obj.member)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "type", "card", "program", "outcome", "points_earned", "failed"]
    list_filter = ["type", "failed", "program"]
    list_select_related = ["member", "program"]
    search_fields = ["event_id", "type", "member__card_id"]
    ordering = ["-id"]
    fields = [
        "event_id", "type", "member", "program", "outcome", "status", "scope", "metadata",
        "points_earned", "awards", "failed", "entry", "actor", "occurred_at", "created_at",
    ]
    readonly_fields = fields

    @display(description=_("Card"), ordering="member__card_id")
    def card(self, obj: Event) -> str:
        return card_html(obj.member)
