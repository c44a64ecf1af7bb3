"""Input and output shapes of the rewards API (SPEC 15)."""

from __future__ import annotations

from rest_framework import serializers

from ledger.services import MAX_POINTS
from loyaltysite.api import fields
from loyaltysite.api.prototypes import render
from members.api.serializers import CARD_ID_HELP
from rewards.models import Redemption, Reward, Voucher
from rewards.services import max_points_for_order

MONEY = {"max_digits": 14, "decimal_places": 3}


class RefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RewardOut(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    value = fields.MoneyOut(currency_source="program.currency", allow_null=True)
    min_tier = RefOut(allow_null=True)

    class Meta:
        model = Reward
        fields = [
            "id", "program", "name", "description", "image_url", "points_cost", "kind", "value",
            "stock", "per_member_limit", "min_tier", "starts_at", "ends_at", "is_active",
            "voucher_valid_days", "created_at", "updated_at",
        ]


class RewardIn(serializers.Serializer):
    """Create takes ``name`` and ``points_cost``; everything else has a default."""

    name = fields.Text(max_length=200)
    description = fields.Text(required=False, allow_blank=True, max_length=5000)
    image_url = fields.Url(required=False, allow_blank=True, max_length=500)
    points_cost = fields.Integer(min_value=1, max_value=MAX_POINTS)
    kind = serializers.ChoiceField(choices=Reward.Kind.choices, required=False)
    value = fields.DecimalString(required=False, min_value=0, **MONEY)
    stock = fields.Integer(
        required=False, allow_null=True, min_value=0, max_value=MAX_POINTS
    )
    per_member_limit = fields.Integer(
        required=False, allow_null=True, min_value=1, max_value=MAX_POINTS
    )
    min_tier = fields.Integer(required=False, allow_null=True, min_value=1)
    starts_at = fields.DateTime(required=False, allow_null=True)
    ends_at = fields.DateTime(required=False, allow_null=True)
    is_active = fields.Boolean(required=False)
    voucher_valid_days = fields.Integer(
        required=False, allow_null=True, min_value=1, max_value=3650
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class MemberRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    card_id = serializers.CharField(source="card_id_display", help_text=CARD_ID_HELP)
    external_id = serializers.CharField(source="customer.external_id")


class VoucherRefOut(serializers.ModelSerializer):
    code = serializers.CharField(source="code_display")

    class Meta:
        model = Voucher
        fields = ["code", "status", "issued_at", "expires_at", "used_at"]


class RedemptionOut(serializers.ModelSerializer):
    member = MemberRefOut()
    order_amount = fields.MoneyOut(allow_null=True)
    discount_amount = fields.MoneyOut(allow_null=True)
    reward = RefOut(allow_null=True)
    voucher = serializers.SerializerMethodField()
    min_points = serializers.SerializerMethodField()
    max_points_for_order = serializers.SerializerMethodField()

    class Meta:
        model = Redemption
        fields = [
            "id", "kind", "status", "member", "reward", "points", "order_amount",
            "discount_amount", "currency", "min_points", "max_points_for_order", "order_id",
            "refunded_points", "expires_at", "created_at", "confirmed_at", "released_at",
            "voucher",
        ]

    def get_voucher(self, obj: Redemption) -> dict | None:
        if obj.kind != Redemption.Kind.REWARD or obj.status != Redemption.Status.CONFIRMED:
            return None
        voucher = getattr(obj, "voucher", None)
        return render(VoucherRefOut, voucher) if voucher is not None else None

    def get_min_points(self, obj: Redemption) -> int | None:
        if obj.kind != Redemption.Kind.DISCOUNT:
            return None
        return obj.program.min_redeem_points

    def get_max_points_for_order(self, obj: Redemption) -> int | None:
        if obj.kind != Redemption.Kind.DISCOUNT:
            return None
        return max_points_for_order(program=obj.program, order_amount=obj.order_amount)


class RedemptionIn(serializers.Serializer):
    """Name the member by ``member`` (id or card id), ``external_id`` or ``card_id``; redeem
    a ``reward``, or ``points`` as a discount on an order of ``order_amount``."""

    member = fields.Text(required=False, max_length=40)
    external_id = fields.Text(required=False, max_length=128)
    card_id = fields.Text(required=False, max_length=40)
    reward = fields.Integer(required=False, min_value=1)
    points = fields.Integer(required=False, min_value=1, max_value=MAX_POINTS)
    order_amount = fields.DecimalString(required=False, min_value=0, **MONEY)
    currency = fields.Currency(required=False)
    order_id = fields.Text(required=False, max_length=128)

    openapi_constraints = {"allOf": [
        fields.exactly_one_of("member", "external_id", "card_id"),
        {"oneOf": [
            {"required": ["reward"], "not": {"anyOf": [
                {"required": ["points"]}, {"required": ["order_amount"]},
                {"required": ["currency"]},
            ]}},
            {"required": ["points", "order_amount"], "not": {"required": ["reward"]}},
        ]},
    ]}

    def validate(self, attrs: dict) -> dict:
        named = [k for k in ("member", "external_id", "card_id") if k in attrs]
        if len(named) != 1:
            raise serializers.ValidationError(
                {named[1] if named else "member":
                 "Name the member by exactly one of member, external_id or card_id."}
            )
        if ("reward" in attrs) == ("points" in attrs):
            raise serializers.ValidationError({"reward": "Send either reward or points."})
        if "points" in attrs and "order_amount" not in attrs:
            raise serializers.ValidationError(
                {"order_amount": "order_amount is required with points."}
            )
        if "reward" in attrs and ("order_amount" in attrs or "currency" in attrs):
            field = "order_amount" if "order_amount" in attrs else "currency"
            raise serializers.ValidationError({field: "Only with points as a discount."})
        return attrs


class RedemptionValidateOut(serializers.Serializer):
    ok = serializers.BooleanField()
    kind = serializers.ChoiceField(choices=Redemption.Kind.choices)
    member = MemberRefOut()
    reward = RefOut(allow_null=True)
    points = serializers.IntegerField()
    balance = serializers.IntegerField()
    order_amount = fields.MoneyOut(allow_null=True)
    discount_amount = fields.MoneyOut(allow_null=True)
    currency = serializers.CharField()
    min_points = serializers.IntegerField(allow_null=True)
    max_points = serializers.IntegerField(
        allow_null=True, help_text="Discount: the most points this member can use on the order now."
    )
    max_points_for_order = serializers.IntegerField(allow_null=True)


class RedemptionConfirmIn(serializers.Serializer):
    order_id = fields.Text(required=False, max_length=128)


class VoucherOut(serializers.ModelSerializer):
    code = serializers.CharField(source="code_display")
    member = MemberRefOut()
    reward = RefOut()
    redemption = serializers.IntegerField(
        source="redemption_id", allow_null=True,
        help_text="The redemption that bought it; null for a voucher given away (a referral "
        "reward).",
    )

    class Meta:
        model = Voucher
        fields = [
            "code", "status", "member", "reward", "redemption", "issued_at", "expires_at",
            "used_at", "used_reference",
        ]


class VoucherUseIn(serializers.Serializer):
    reference = fields.Text(required=False, allow_blank=True, max_length=128)
