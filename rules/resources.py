"""Export of orders (SPEC 13), for the console's order list (``members.resources`` explains
imports and exports). Money is written to the currency's minor unit (``money_str``)."""

from __future__ import annotations

from import_export import fields

from loyaltysite.formatting import money_str
from members.resources import ConsoleExportResource

from .models import Order


class _Money(fields.Field):
    """A money column in the order's currency's minor units (``62.50`` EUR, ``1250`` JPY)."""

    def get_value(self, obj: Order) -> str:
        return money_str(getattr(obj, self.attribute), obj.currency)


class OrderExportResource(ConsoleExportResource):
    related = ("member__customer", "program")
    card_id = fields.Field(attribute="member__card_id_display", column_name="card_id")
    external_id = fields.Field(
        attribute="member__customer__external_id", column_name="external_id"
    )
    program = fields.Field(attribute="program__name", column_name="program")
    amount = _Money(attribute="amount", column_name="amount")
    points_discount = _Money(attribute="points_discount", column_name="points_discount")
    amount_refunded = _Money(attribute="amount_refunded", column_name="amount_refunded")

    class Meta:
        model = Order
        name = "Orders"
        fields = (
            "order_id", "occurred_at", "card_id", "external_id", "program", "status",
            "currency", "amount", "points_discount", "amount_refunded", "points_earned",
            "points_reversed", "points_shortfall", "created_at",
        )
        export_order = fields
