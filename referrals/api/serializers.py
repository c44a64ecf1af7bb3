"""Input and output shapes of the referrals API."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

from loyaltysite.api import fields
from loyaltysite.formatting import money_str
from loyaltysite.ids import MAX_ID
from members.api.serializers import CARD_ID_HELP
from members.models import Member

from ..models import Referral, ReferralCode, ReferralReward, ReferralSettings, RewardKind

MAX_POINTS = 10_000_000


class ReferralMemberOut(serializers.Serializer):
    id = serializers.IntegerField()
    card_id = serializers.CharField(source="card_id_display", help_text=CARD_ID_HELP)
    external_id = serializers.CharField(source="customer.external_id")
    name = serializers.CharField(source="customer.name")
    status = serializers.ChoiceField(choices=Member.Status.choices)


class ReferralCodeOut(serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id")
    program = serializers.IntegerField(source="program_id")
    share_url = serializers.CharField(
        help_text="The link to share: it opens the portal's sign-up with the code kept."
    )

    class Meta:
        model = ReferralCode
        fields = [
            "code", "is_active", "share_url", "member", "program", "created_at",
            "deactivated_at",
        ]


class ReferralRewardOut(serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id")
    reward = serializers.IntegerField(source="reward_id", allow_null=True)
    voucher = serializers.SerializerMethodField()
    entry = serializers.IntegerField(source="entry_id", allow_null=True)

    class Meta:
        model = ReferralReward
        fields = [
            "side", "member", "kind", "status", "points", "entry", "reward", "voucher", "note",
            "points_reversed", "points_shortfall", "created_at", "clawed_back_at",
        ]

    def get_voucher(self, obj: ReferralReward) -> str | None:
        return obj.voucher.code_display if obj.voucher_id else None


class ReferralOut(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    code = serializers.CharField(source="code.code")
    referrer = ReferralMemberOut()
    referee = ReferralMemberOut()
    order_id = serializers.SerializerMethodField(
        help_text="The converting order (the merchant's order id)."
    )
    rewards = ReferralRewardOut(many=True)

    class Meta:
        model = Referral
        fields = [
            "id", "program", "status", "code", "referrer", "referee", "channel", "source",
            "created_at", "expires_at", "order_id", "converted_at", "rewarded_at", "decision",
            "decided_at", "decided_by", "decision_reason", "clawed_back_at", "rewards",
        ]

    def get_order_id(self, obj: Referral) -> str | None:
        return obj.order.order_id if obj.order_id else None


class AttributeIn(serializers.Serializer):
    """The code and the buyer, by exactly one of member (id or card), external_id, card_id."""

    code = fields.Text(max_length=64)
    member = fields.Text(max_length=40, required=False)
    external_id = fields.Text(max_length=128, required=False)
    card_id = fields.Text(max_length=40, required=False)
    source = fields.Text(
        max_length=128, required=False, allow_blank=True, default="",
        help_text="What the attribution comes with, e.g. the order id: once per source.",
    )

    openapi_constraints = fields.exactly_one_of("member", "external_id", "card_id")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [k for k in ("member", "external_id", "card_id") if k in attrs]
        if len(named) != 1:
            raise serializers.ValidationError({
                (named[1] if named else "member"): [
                    "Name the buyer by one of member, external_id or card_id."
                ]
            })
        return attrs


class AttributionOut(serializers.Serializer):
    attributed = serializers.BooleanField()
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why not: unknown_code, inactive_code, referrals_disabled, "
        "referrer_inactive.",
    )
    detail = serializers.CharField(allow_null=True)
    referral = ReferralOut(allow_null=True)


class ApproveIn(serializers.Serializer):
    reason = fields.Text(max_length=255, required=False, allow_blank=True, default="")


class RejectIn(serializers.Serializer):
    reason = fields.Text(max_length=255)


class ReferralSettingsSerializer(serializers.ModelSerializer):
    """A program's referral terms: read in full, changed field by field."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: fields.Boolean,
    }

    program = serializers.IntegerField(source="program_id", read_only=True)
    referrer_reward = fields.Integer(
        source="referrer_reward_id", required=False, allow_null=True, min_value=1,
        max_value=MAX_ID,
        help_text="A catalog reward of this program (with referrer_reward_kind 'reward').",
    )
    referee_reward = fields.Integer(
        source="referee_reward_id", required=False, allow_null=True, min_value=1,
        max_value=MAX_ID,
        help_text="A catalog reward of this program (with referee_reward_kind 'reward').",
    )
    referrer_reward_kind = serializers.ChoiceField(choices=RewardKind.choices, required=False)
    referee_reward_kind = serializers.ChoiceField(choices=RewardKind.choices, required=False)
    referrer_points = fields.Integer(min_value=0, max_value=MAX_POINTS, required=False)
    referee_points = fields.Integer(min_value=0, max_value=MAX_POINTS, required=False)
    min_order_amount = fields.DecimalString(max_digits=14, decimal_places=3, required=False)
    conversion_window_days = fields.Integer(min_value=1, max_value=3650, required=False)
    limit_count = fields.Integer(
        min_value=1, max_value=1_000_000, allow_null=True, required=False,
        help_text="Referrals per referrer per period; null for no limit.",
    )
    limit_period_days = fields.Integer(min_value=1, max_value=3650, required=False)

    class Meta:
        model = ReferralSettings
        fields = [
            "program", "is_enabled", "referrer_reward_kind", "referrer_points",
            "referrer_reward", "referee_reward_kind", "referee_points", "referee_reward",
            "min_order_amount", "conversion_window_days", "requires_approval",
            "new_customers_only", "limit_count", "limit_period_days", "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {"updated_at": {"allow_null": True}}

    def to_representation(self, instance: ReferralSettings) -> dict[str, Any]:
        body = super().to_representation(instance)
        body["min_order_amount"] = money_str(
            instance.min_order_amount, instance.program.currency
        )
        return body
