"""Input and output shapes of the earning API. Inputs refuse unknown fields at every level."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from loyaltysite.api import fields
from members.api.serializers import MemberOut

from ..config import EVENT_TYPE_RE, describe
from ..models import MONEY_DIGITS, MONEY_PLACES, EarningRule, Order
from ..services import Customer

MAX_ITEMS = 500
MAX_METADATA_BYTES = 16 * 1024


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, naming them (also inside nested objects and lists)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


def Money(**kwargs: Any) -> serializers.DecimalField:  # noqa: N802 - a field factory
    return fields.DecimalString(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, coerce_to_string=True, **kwargs
    )


class CustomerIn(StrictSerializer):
    """Names the customer by exactly one of member (id or card), card_id, external_id."""

    member = fields.Text(max_length=40, required=False,
                         help_text="The member's id or card id.")
    card_id = fields.Text(max_length=40, required=False,
                          help_text="The member's card id (dashes optional, any case).")
    external_id = fields.Text(
        max_length=128, required=False,
        help_text="Your customer id; an unknown one enrols a new member when the program "
        "auto-enrols.",
    )

    customer_required = True
    openapi_constraints = fields.exactly_one_of("member", "external_id", "card_id")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [k for k in ("member", "external_id", "card_id") if attrs.get(k)]
        if len(named) > 1:
            raise serializers.ValidationError(
                {named[1]: ["Name the customer by one of member, external_id or card_id."]}
            )
        if not named and self.customer_required:
            raise serializers.ValidationError(
                {"external_id": ["Name the customer by member, external_id or card_id."]}
            )
        attrs["customer"] = Customer(
            member=attrs.pop("member", ""), card_id=attrs.pop("card_id", ""),
            external_id=attrs.pop("external_id", ""),
        )
        return attrs


class ItemIn(StrictSerializer):
    sku = fields.Text(max_length=64, required=False, allow_blank=True, default="")
    category = fields.Text(max_length=64, required=False, allow_blank=True, default="")
    quantity = fields.Integer(min_value=1, max_value=1_000_000)
    price = Money(min_value=Decimal(0))


class OrderBodyIn(CustomerIn):
    amount = Money()
    currency = fields.Currency()
    points_discount = Money(required=False, default=Decimal(0), min_value=Decimal(0))
    items = ItemIn(many=True, required=False, default=list, max_length=MAX_ITEMS)
    occurred_at = fields.DateTime(required=False, allow_null=True, default=None)


class OrderIn(OrderBodyIn):
    order_id = fields.Text(max_length=128, help_text="Your order id: the order's natural "
                           "idempotency key (a repeat replays the first answer).")


class PreviewIn(OrderIn):
    """The order body as ``POST /orders/`` takes it; ``order_id`` and the customer are
    optional here (a preview writes nothing, and answers for a new member when none is named)."""

    order_id = fields.Text(max_length=128, required=False, help_text="Ignored by a preview.")

    customer_required = False
    openapi_constraints = fields.at_most_one_of("member", "external_id", "card_id")


class RefundItemIn(StrictSerializer):
    sku = fields.Text(max_length=64)
    quantity = fields.Integer(min_value=1, max_value=1_000_000)


class RefundIn(StrictSerializer):
    amount = Money(required=False)
    items = RefundItemIn(many=True, required=False, min_length=1, max_length=MAX_ITEMS)
    currency = fields.Currency(required=False)
    reason = fields.Text(max_length=255, required=False, allow_blank=True, default="")
    refund_id = fields.Text(
        max_length=128, required=False,
        help_text="Your refund's id: makes the call idempotent without an Idempotency-Key.",
    )

    openapi_constraints = fields.exactly_one_of("amount", "items")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("amount" in attrs) == ("items" in attrs):
            raise serializers.ValidationError({"amount": ["Give either amount or items."]})
        return attrs


class EventIn(CustomerIn):
    type = fields.Pattern(EVENT_TYPE_RE.pattern, max_length=64)
    event_id = fields.Text(max_length=128, required=False, default="")
    outcome = fields.Text(max_length=64, required=False, allow_blank=True, default="")
    status = fields.Text(max_length=64, required=False, allow_blank=True, default="")
    scope = fields.Text(max_length=128, required=False, allow_blank=True, default="")
    metadata = serializers.DictField(required=False, default=dict)
    occurred_at = fields.DateTime(required=False, allow_null=True, default=None)

    def validate_metadata(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"At most {MAX_METADATA_BYTES} bytes.")
        return value


CONFIG_HELP = (
    "Depends on `kind` (a config that does not fit is `INVALID_RULE_CONFIG`, 422): "
    "`order`: exactly one of `multiplier` (\"2\": twice the base rate), `points_per_unit` or "
    "`points`, optional `min_amount`; `category`: `categories` and one of `multiplier` or "
    "`points_per_unit`; `sku`: `skus` and one of `multiplier`, `points_per_unit` or "
    "`points_per_item`; `event`: `event_type`, `points`, optional `conditions` "
    "(`{\"outcome\": \"approved\"}`, `{\"metadata.stars\": {\"gte\": 4}}`); `tier_bonus`: "
    "`tier` (a tier id) and `multiplier`; `welcome` and `birthday`: `points`."
)


class RuleIn(StrictSerializer):
    name = fields.Text(max_length=200)
    kind = serializers.ChoiceField(choices=EarningRule.Kind.choices)
    description = fields.Text(max_length=255, required=False, allow_blank=True)
    is_active = fields.Boolean(required=False)
    starts_at = fields.DateTime(required=False, allow_null=True)
    ends_at = fields.DateTime(required=False, allow_null=True)
    priority = fields.Integer(required=False, min_value=-1_000_000, max_value=1_000_000)
    stackable = fields.Boolean(required=False)
    max_per_member = fields.Integer(
        required=False, allow_null=True, min_value=1, max_value=1_000_000_000
    )
    cooldown_hours = fields.Integer(
        required=False, allow_null=True, min_value=1, max_value=24 * 366 * 10
    )
    budget_points = fields.Integer(
        required=False, allow_null=True, min_value=1, max_value=10**15
    )
    config = serializers.DictField(help_text=CONFIG_HELP)


class RuleOut(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField()
    program = serializers.IntegerField(source="program_id", read_only=True)

    class Meta:
        model = EarningRule
        fields = [
            "id", "program", "name", "kind", "description", "summary", "is_active", "starts_at",
            "ends_at", "priority", "stackable", "max_per_member", "cooldown_hours",
            "budget_points", "budget_spent", "config", "created_at", "updated_at",
        ]

    def get_summary(self, rule: EarningRule) -> str:
        return describe(rule, currency=rule.program.currency,
                        point_names=rule.program.point_name_plural)


class AwardOut(serializers.Serializer):
    rule = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()


class SkippedOut(serializers.Serializer):
    rule = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    reason = serializers.CharField()


class OrderOut(serializers.ModelSerializer):
    points = serializers.IntegerField(source="points_earned")
    amount = fields.MoneyOut()
    points_discount = fields.MoneyOut()
    amount_refunded = fields.MoneyOut()
    refundable = fields.MoneyOut()
    awards = AwardOut(many=True)
    member = serializers.IntegerField(source="member_id")

    class Meta:
        model = Order
        fields = [
            "order_id", "status", "currency", "amount", "points_discount", "amount_refunded",
            "refundable", "points", "points_reversed", "points_shortfall", "awards", "member",
            "occurred_at", "created_at",
        ]


class OrderResultOut(serializers.Serializer):
    order_id = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.CharField()
    points = serializers.IntegerField()
    pending = serializers.BooleanField()
    available_at = serializers.DateTimeField(allow_null=True)
    awards = AwardOut(many=True)
    entry = serializers.IntegerField(allow_null=True)
    enrolled = serializers.BooleanField()
    member = MemberOut()


class PreviewOut(serializers.Serializer):
    points = serializers.IntegerField()
    pending = serializers.BooleanField()
    awards = AwardOut(many=True)
    skipped = SkippedOut(many=True)
    new_member = serializers.BooleanField()
    member = MemberOut(allow_null=True)


class RefundOut(serializers.Serializer):
    class _Refund(serializers.Serializer):
        id = serializers.IntegerField()
        amount = serializers.CharField()
        points_reversed = serializers.IntegerField()
        points_shortfall = serializers.IntegerField()
        points_returned = serializers.IntegerField()

    refund = _Refund()
    order = OrderOut()
    member = MemberOut()


class EventResultOut(serializers.Serializer):
    event_id = serializers.CharField()
    type = serializers.CharField()
    points = serializers.IntegerField()
    awards = AwardOut(many=True)
    failed = serializers.BooleanField()
    enrolled = serializers.BooleanField()
    member = MemberOut()
