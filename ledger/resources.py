"""Export of ledger entries (SPEC 13), for the console's entry list (``members.resources``
explains imports and exports). Points are signed integers, as the ledger stores them."""

from __future__ import annotations

from import_export import fields

from members.resources import ConsoleExportResource

from .models import Entry


class EntryExportResource(ConsoleExportResource):
    related = ("member__customer", "program")
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
