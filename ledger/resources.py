"""Export of ledger entries (SPEC 13), for the console's entry list (``members.resources``
explains imports and exports). Points are signed integers, as the ledger stores them."""

from __future__ import annotations

from typing import Any

from import_export import fields, resources

from .models import Entry


class EntryExportResource(resources.ModelResource):
    card_id = fields.Field(attribute="member__card_id_display", column_name="card_id")
    external_id = fields.Field(
        attribute="member__customer__external_id", column_name="external_id"
    )
    program = fields.Field(attribute="program__name", column_name="program")

    class Meta:
        model = Entry
        name = "Ledger entries"
        fields = (
            "id", "created_at", "card_id", "external_id", "program", "kind", "points",
            "balance_delta", "pending_delta", "reserved_delta", "balance_after", "reason",
            "reference", "actor",
        )
        export_order = fields

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("member__customer", "program")
