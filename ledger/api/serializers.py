from __future__ import annotations

from rest_framework import serializers

from ledger.models import Entry
from ledger.services import MAX_POINTS
from loyaltysite.api import fields
from members.api.serializers import MemberOut


class EntryOut(serializers.ModelSerializer):
    class Meta:
        model = Entry
        fields = [
            "id", "kind", "points", "balance_after", "pending_delta", "reserved_delta",
            "reason", "reference", "rule", "actor", "created_at",
        ]


class EarnIn(serializers.Serializer):
    points = fields.Integer(min_value=1, max_value=MAX_POINTS)
    reason = fields.Text(max_length=255)
    reference = fields.Text(max_length=128, required=False, allow_blank=True, default="")


class AdjustIn(serializers.Serializer):
    points = fields.Integer(min_value=-MAX_POINTS, max_value=MAX_POINTS)
    reason = fields.Text(max_length=255)
    reference = fields.Text(max_length=128, required=False, allow_blank=True, default="")

    openapi_constraints = {"not": {"required": ["points"],
                                   "properties": {"points": {"enum": [0]}}}}

    def validate_points(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value


class EntryWithMemberOut(serializers.Serializer):
    entry = EntryOut()
    member = MemberOut()
