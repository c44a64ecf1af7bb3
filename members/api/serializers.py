"""Input and output shapes of the members API (SPEC 15)."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyaltysite.api import fields
from members.hooks import member_standing
from members.models import Member, Program, language_choices


class TierRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


CARD_ID_HELP = "The loyalty card number as printed on the card (`ZY1X-5CEZ-W6WK-3DQ4`); " \
    "accepted anywhere with or without dashes, in any case."


class TierProgressOut(serializers.Serializer):
    """How far the member is from the next tier: points, or money for a spend basis."""

    next_tier = TierRefOut(allow_null=True)
    points_needed = serializers.IntegerField(allow_null=True)
    amount_needed = serializers.CharField(allow_null=True)


class StreakOut(serializers.Serializer):
    count = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["active", "paused", "broken"])
    cycle = serializers.ChoiceField(choices=["day", "week", "month"], allow_null=True)
    next_due = serializers.DateField(allow_null=True)
    paused_until = serializers.DateField(allow_null=True)


@extend_schema_field(TierProgressOut(allow_null=True))
class _TierProgressField(serializers.Field):
    def __init__(self) -> None:
        super().__init__(source="*", read_only=True)

    def to_representation(self, member: Member):
        return member_standing(member).get("tier_progress")


@extend_schema_field(StreakOut)
class _StreakField(serializers.Field):
    def __init__(self) -> None:
        super().__init__(source="*", read_only=True)

    def to_representation(self, member: Member):
        return {
            "count": member.streak,
            "state": member.streak_state,
            "cycle": member_standing(member).get("streak_cycle"),
            "next_due": member.streak_due.isoformat() if member.streak_due else None,
            "paused_until": (
                member.streak_paused_until.isoformat() if member.streak_paused_until else None
            ),
        }


class MemberOut(serializers.ModelSerializer):
    card_id = serializers.CharField(source="card_id_display", help_text=CARD_ID_HELP)
    external_id = serializers.CharField(source="customer.external_id")
    email = serializers.CharField(source="customer.email")
    name = serializers.CharField(source="customer.name")
    tier = serializers.CharField(source="tier.name", allow_null=True, default=None)
    tier_id = serializers.IntegerField(allow_null=True)
    tier_progress = _TierProgressField()
    streak = _StreakField()
    program = serializers.IntegerField(source="program_id")

    class Meta:
        model = Member
        fields = [
            "id", "card_id", "external_id", "status", "balance", "pending_points",
            "reserved_points", "lifetime_points", "tier", "tier_id", "tier_progress", "streak",
            "program", "email", "name", "enrolled_at", "last_activity_at",
        ]


class MemberEnrolIn(serializers.Serializer):
    external_id = fields.Text(max_length=128)
    email = fields.Email(required=False, allow_blank=True, default="")
    name = fields.Text(max_length=200, required=False, allow_blank=True, default="")
    birthday = fields.Date(required=False, allow_null=True, default=None)
    referral_code = fields.Text(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="A friend's referral code: the new member is attributed to them. An unknown "
        "or inactive code never fails the enrolment (see referral in the answer).",
    )


class ReferralOutcomeOut(serializers.Serializer):
    attributed = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    detail = serializers.CharField(allow_null=True)
    referral = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(allow_null=True)


class MemberEnrolledOut(MemberOut):
    referral = ReferralOutcomeOut(
        required=False, allow_null=True,
        help_text="Only when referral_code was sent: whether the enrolment was attributed to "
        "the code's owner, and if not why (unknown_code, inactive_code, self_referral, ...).",
    )

    class Meta(MemberOut.Meta):
        fields = [*MemberOut.Meta.fields, "referral"]


TIME_ZONES = sorted(available_timezones())
LANGUAGES = [code for code, _name in language_choices()]


class ProgramSerializer(serializers.ModelSerializer):
    """Programs are plain configuration: one serializer reads and writes them."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: fields.Text,
        models.BooleanField: fields.Boolean,
        models.DecimalField: fields.DecimalString,
        models.PositiveIntegerField: fields.Integer,
        models.PositiveSmallIntegerField: fields.Integer,
        models.IntegerField: fields.Integer,
        models.DateTimeField: fields.DateTime,
    }

    currency = fields.Currency()
    time_zone = serializers.ChoiceField(
        choices=TIME_ZONES, required=False,
        help_text="IANA time zone where the program's days begin and end.",
    )
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False,
        help_text="Language (and date, time and number formats) of the portal and console.",
    )

    class Meta:
        model = Program
        fields = [
            "id", "name", "point_name", "point_name_plural", "point_symbol", "currency",
            "earn_rate", "rounding", "point_value", "expiry_policy", "expiry_months",
            "expiry_warning_days", "pending_days", "min_redeem_points", "max_redeem_percent",
            "reservation_ttl_minutes", "auto_enrol", "time_zone", "language", "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "earn_rate": {"min_value": 0, "max_digits": 12, "decimal_places": 4},
            "point_value": {"min_value": 0},
            "expiry_months": {"min_value": 1, "max_value": 120},
            "pending_days": {"max_value": 365},
            "max_redeem_percent": {"max_value": 100},
            "min_redeem_points": {"max_value": 2**31 - 1},
            "reservation_ttl_minutes": {"min_value": 1, "max_value": 7 * 24 * 60},
            "expiry_warning_days": {"max_value": 365},
        }
        # Uniqueness of the name among live programs is the service's to check.
        validators: list = []

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()
