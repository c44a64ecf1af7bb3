"""Input and output shapes of the members API (SPEC 15)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from loyaltysite.currencies import is_currency
from members.models import Member, Program, validate_time_zone


class TierRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MemberOut(serializers.ModelSerializer):
    external_id = serializers.CharField(source="customer.external_id")
    email = serializers.CharField(source="customer.email")
    name = serializers.CharField(source="customer.name")
    tier = TierRefOut(allow_null=True)
    program = serializers.IntegerField(source="program_id")

    class Meta:
        model = Member
        fields = [
            "id", "card_id", "external_id", "status", "balance", "pending_points",
            "reserved_points", "lifetime_points", "tier", "streak", "program", "email", "name",
            "enrolled_at", "last_activity_at",
        ]


class MemberEnrolIn(serializers.Serializer):
    external_id = serializers.CharField(max_length=128)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    referral_code = serializers.CharField(
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


class ProgramSerializer(serializers.ModelSerializer):
    """Programs are plain configuration: one serializer reads and writes them."""

    currency = serializers.CharField(min_length=3, max_length=3)

    class Meta:
        model = Program
        fields = [
            "id", "name", "point_name", "point_name_plural", "point_symbol", "currency",
            "earn_rate", "rounding", "point_value", "expiry_policy", "expiry_months",
            "expiry_warning_days", "pending_days", "min_redeem_points", "max_redeem_percent",
            "reservation_ttl_minutes", "auto_enrol", "time_zone", "is_active", "created_at",
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

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        if not is_currency(value):
            raise serializers.ValidationError(f"'{value}' is not an ISO 4217 currency code.")
        return value

    def validate_time_zone(self, value: str) -> str:
        try:
            validate_time_zone(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages[0]) from None
        return value

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()
