"""The ledger in the merchant console: read-only, for everyone, the operator included.

Entries and holds are written only by ``ledger.services``; the admin lists and shows them and
refuses every add, change and delete (403).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from accounts.selectors import actor_labels
from members.admin import MerchantScopedAdmin
from members.resources import ConsoleExportMixin

from .models import Entry, Hold
from .resources import EntryExportResource


def card_html(member) -> str:
    return format_html('<span class="whitespace-nowrap">{}</span>', member.card_id_display)


class ReadOnlyAdmin(MerchantScopedAdmin):
    merchant_source = "program"  # shown as the program; never chosen

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(ConsoleExportMixin, ReadOnlyAdmin):
    export_resource = EntryExportResource
    list_display = [
        "created_at", "card", "program", "kind", "signed_points", "balance_after", "reason",
        "reference", "actor_label",
    ]
    list_filter = ["kind", "program"]
    list_select_related = ["member", "program"]
    search_fields = ["member__card_id", "member__customer__external_id", "reference", "reason"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "member", "program", "kind", "points", "balance_delta", "pending_delta",
        "reserved_delta", "balance_after", "reason", "reference", "rule", "reverses",
        "actor_label", "metadata",
    ]
    readonly_fields = fields

    def get_changelist_instance(self, request):
        # The page's staff actors resolved to their e-mail in one query.
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        labels = actor_labels(entry.actor for entry in changelist.result_list)
        for entry in changelist.result_list:
            entry.actor_text = labels.get(entry.actor, entry.actor)
        return changelist

    @display(description=_("Actor"), ordering="actor")
    def actor_label(self, obj: Entry) -> str:
        label = getattr(obj, "actor_text", None)
        return label if label is not None else actor_labels([obj.actor])[obj.actor]

    @display(description=_("Card"), ordering="member__card_id")
    def card(self, obj: Entry) -> str:
        return card_html(obj.member)

    @display(description=_("Points"), ordering="points")
    def signed_points(self, obj: Entry) -> str:
        return f"{obj.points:+d}"


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "card", "program", "points", "status", "reference", "expires_at",
        "settled_at",
    ]
    list_filter = ["status", "program"]
    list_select_related = ["member", "program"]
    search_fields = ["member__card_id", "reference"]
    ordering = ["-id"]
    fields = [
        "created_at", "member", "program", "points", "status", "reference", "expires_at",
        "settled_at", "allocations",
    ]
    readonly_fields = fields

    @display(description=_("Card"), ordering="member__card_id")
    def card(self, obj: Hold) -> str:
        return card_html(obj.member)
