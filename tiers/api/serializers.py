"""Input and output shapes of the tiers and streaks API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyaltysite.api import fields
from loyaltysite.formatting import money_str
from loyaltysite.ids import MAX_ID
from members.api.serializers import MemberOut, TierRefOut

from ..models import COLOUR, StreakPause, Tier, TierChange, TierOverride, TierSettings

MAX_THRESHOLD_POINTS = 10**15
MAX_MULTIPLIER = Decimal(100)


class TierIn(serializers.Serializer):
    name = fields.Text(max_length=64)
    rank = fields.Integer(min_value=0, max_value=32767)
    threshold_points = fields.Integer(
        min_value=0, max_value=MAX_THRESHOLD_POINTS, required=False,
        help_text="Points to reach this tier, for a lifetime or window points basis.",
    )
    threshold_amount = fields.DecimalString(
        max_digits=14, decimal_places=2, required=False,
        help_text="Money spent in the window to reach this tier, for a spend basis.",
    )
    earn_multiplier = fields.DecimalString(
        max_digits=6, decimal_places=3, max_value=MAX_MULTIPLIER,
        required=False, help_text="Orders earn this many times the base rate (1: no bonus).",
    )
    perks = fields.Text(max_length=2000, required=False, allow_blank=True)
    colour = fields.Pattern(COLOUR.regex.pattern, max_length=7, required=False,
                                    help_text="The badge colour, e.g. #C9A227.")
    streak_multiplier = fields.DecimalString(
        max_digits=6, decimal_places=3, max_value=MAX_MULTIPLIER,
        required=False, help_text="Streak rewards at this tier: the base reward times this.",
    )
    streak_bonus_points = fields.Integer(
        min_value=0, max_value=1_000_000, required=False,
        help_text="Points added to every streak reward at this tier.",
    )


class TierOut(serializers.ModelSerializer):
    threshold_amount = serializers.SerializerMethodField()
    member_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Tier
        fields = [
            "id", "name", "rank", "threshold_points", "threshold_amount", "earn_multiplier",
            "perks", "colour", "streak_multiplier", "streak_bonus_points", "member_count",
        ]

    @extend_schema_field(serializers.CharField())
    def get_threshold_amount(self, tier: Tier) -> str:
        return money_str(tier.threshold_amount, tier.program.currency)


class TierSettingsSerializer(serializers.ModelSerializer):
    """The program's tier and streak rules: read whole, changed field by field."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: fields.Text,
        models.BooleanField: fields.Boolean,
        models.PositiveIntegerField: fields.Integer,
        models.PositiveSmallIntegerField: fields.Integer,
        models.IntegerField: fields.Integer,
    }

    program = serializers.IntegerField(source="program_id", read_only=True)
    streak_event_types = serializers.ListField(
        child=fields.Text(max_length=64), max_length=50, required=False,
        help_text="With streak_activity 'event_types': the event types that count "
        "('order' counts orders).",
    )

    class Meta:
        model = TierSettings
        fields = [
            "program", "basis", "window_months", "grace_days", "evaluation_days",
            "streak_cycle", "streak_activity", "streak_event_types", "pauses_per_year",
            "max_pause_days", "milestone_every", "milestone_points", "updated_at",
        ]
        read_only_fields = ["program", "updated_at"]
        extra_kwargs = {
            "window_months": {"min_value": 1, "max_value": 60},
            "grace_days": {"min_value": 0, "max_value": 730},
            "evaluation_days": {"min_value": 1, "max_value": 730},
            "pauses_per_year": {"min_value": 0, "max_value": 52},
            "max_pause_days": {"min_value": 1, "max_value": 365},
            "milestone_every": {"min_value": 0, "max_value": 1000},
            "milestone_points": {"min_value": 0, "max_value": 1_000_000},
        }


class TierOverrideIn(serializers.Serializer):
    tier = fields.Integer(min_value=1, max_value=MAX_ID, help_text="The tier's id.")
    ends_at = fields.DateTime(required=False, allow_null=True, default=None)
    reason = fields.Text(max_length=255)


class TierOverrideOut(serializers.ModelSerializer):
    tier = TierRefOut(allow_null=True)
    previous_tier = TierRefOut(allow_null=True)

    class Meta:
        model = TierOverride
        fields = ["id", "tier", "previous_tier", "reason", "actor", "ends_at", "created_at",
                  "ended_at", "ended_by"]


class TierOverrideResultOut(serializers.Serializer):
    override = TierOverrideOut(allow_null=True)
    member = MemberOut()


class TierChangeOut(serializers.ModelSerializer):
    from_tier = serializers.SerializerMethodField()
    to_tier = serializers.SerializerMethodField()

    class Meta:
        model = TierChange
        fields = ["id", "from_tier", "to_tier", "reason", "actor", "note", "created_at"]

    @staticmethod
    def _ref(tier_id: int | None, name: str) -> dict[str, Any] | None:
        return {"id": tier_id, "name": name} if name else None

    @extend_schema_field(TierRefOut(allow_null=True))
    def get_from_tier(self, change: TierChange) -> dict[str, Any] | None:
        """The tier as it was named then (``id`` is null once it was deleted)."""
        return self._ref(change.from_tier_id, change.from_name)

    @extend_schema_field(TierRefOut(allow_null=True))
    def get_to_tier(self, change: TierChange) -> dict[str, Any] | None:
        return self._ref(change.to_tier_id, change.to_name)


class StreakPauseIn(serializers.Serializer):
    days = fields.Integer(
        min_value=1, max_value=365, required=False, allow_null=True, default=None,
        help_text="How long (default: the longest the program allows).",
    )
    reason = fields.Text(max_length=255, required=False, allow_blank=True, default="")


class StreakPauseOut(serializers.ModelSerializer):
    class Meta:
        model = StreakPause
        fields = ["id", "started_on", "until", "reason", "actor", "resumed_on", "resumed_by",
                  "outcome"]


class StreakResultOut(serializers.Serializer):
    pause = StreakPauseOut(allow_null=True)
    outcome = serializers.ChoiceField(
        choices=StreakPause.Outcome.values, allow_null=True,
        help_text="On resume: what the pause's length did to the streak.",
    )
    member = MemberOut()
