"""Input and output shapes of the webhooks and events API, and the event catalogue's schema.

Every event type gets its own component (``PointsEarnedEvent`` with ``PointsEarnedData`` ...),
joined in ``Event`` (one of them, by ``type``): the schema documents the envelope and the
catalogue exactly as receivers get them.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from events.catalogue import CATALOGUE, EVENT_TYPES, filter_choices
from loyaltysite.api import fields
from members.models import Member

FILTER_CHOICES = filter_choices()


class WebhookIn(serializers.Serializer):
    url = fields.Url(max_length=2000, help_text="Where events are POSTed (https).")
    description = fields.Text(max_length=255, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=FILTER_CHOICES), required=False, default=list,
        max_length=50,
        help_text="Types (`points.earned`) or groups (`points.*`) to receive; empty: all.",
    )
    is_active = fields.Boolean(required=False, default=True)


class WebhookOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Since when every attempt has failed (none: healthy)."
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the secret before the last rotation signs too."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookWithSecretOut(WebhookOut):
    secret = serializers.CharField(
        help_text="Verify signatures with it (Standard Webhooks). Shown on creation and "
        "rotation only."
    )


class AttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    succeeded = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField(help_text="The start of the receiver's answer.")
    error = serializers.CharField()


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField(source="event.event_id")
    event_type = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.SerializerMethodField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    log = AttemptOut(many=True)

    def get_next_attempt_at(self, delivery: Any) -> str | None:
        if delivery.status != "pending":
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


# -- the catalogue ---------------------------------------------------------------------------


class MemberFiguresOut(serializers.Serializer):
    id = serializers.IntegerField()
    card_id = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Member.Status.choices)
    balance = serializers.IntegerField()
    pending_points = serializers.IntegerField()
    reserved_points = serializers.IntegerField()
    lifetime_points = serializers.IntegerField()
    tier_id = serializers.IntegerField(allow_null=True)


class EntryDataOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    points = serializers.IntegerField(help_text="Signed.")
    balance_after = serializers.IntegerField()
    reason = serializers.CharField()
    reference = serializers.CharField()


class CustomerDataOut(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()


class OrderDataOut(serializers.Serializer):
    order_id = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=3, coerce_to_string=True)
    points_discount = serializers.DecimalField(max_digits=14, decimal_places=3)
    amount_refunded = serializers.DecimalField(max_digits=14, decimal_places=3)
    points_earned = serializers.IntegerField()
    points_reversed = serializers.IntegerField()
    points_shortfall = serializers.IntegerField()
    entry = serializers.IntegerField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    awards = serializers.ListField(child=serializers.DictField(), required=False,
                                   help_text="order.recorded: the award breakdown.")


class RefundDataOut(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=3)
    points_reversed = serializers.IntegerField()
    points_shortfall = serializers.IntegerField()
    points_returned = serializers.IntegerField()
    entry = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class RewardRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RedemptionDataOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["reward", "discount"])
    status = serializers.CharField()
    points = serializers.IntegerField()
    reward = RewardRefOut(allow_null=True)
    order_id = serializers.CharField()
    order_amount = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    discount_amount = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    currency = serializers.CharField()
    expires_at = serializers.DateTimeField()


class VoucherDataOut(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.CharField()
    reward = serializers.IntegerField()
    redemption = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    used_at = serializers.DateTimeField(allow_null=True)
    used_reference = serializers.CharField()


class ReferralDataOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    code = serializers.CharField()
    channel = serializers.CharField()
    source = serializers.CharField()
    referrer = serializers.IntegerField(help_text="The referrer's member id.")
    referee = serializers.IntegerField(help_text="The referred member's id.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    order_id = serializers.CharField(allow_null=True, help_text="The converting order.")


class TierRefDataOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


_DATA_FIELDS: dict[str, Any] = {
    "entry": lambda: EntryDataOut(),
    "customer": lambda: CustomerDataOut(),
    "previous_status": lambda: serializers.ChoiceField(choices=Member.Status.choices),
    "order": lambda: OrderDataOut(),
    "refund": lambda: RefundDataOut(),
    "redemption": lambda: RedemptionDataOut(),
    "voucher": lambda: VoucherDataOut(allow_null=True),
    "points": lambda: serializers.IntegerField(
        help_text="points.expiring: points expiring that day; referral.rewarded: points given."
    ),
    "expires_on": lambda: serializers.DateField(help_text="The day, in the program's zone."),
    "expires_at": lambda: serializers.DateTimeField(help_text="The first lot's exact time."),
    "message": lambda: serializers.CharField(),
    "referral": lambda: ReferralDataOut(),
    "amount": lambda: serializers.CharField(help_text="Money in the currency's minor units."),
    "currency": lambda: serializers.CharField(),
    # The referrals app's ReferralReward.Side (events imports no consumer app).
    "side": lambda: serializers.ChoiceField(
        choices=[("referrer", "Referrer"), ("referee", "Referred friend")], allow_null=True
    ),
    "kind": lambda: serializers.CharField(help_text="points, reward or none."),
    "voucher_code": lambda: serializers.CharField(allow_null=True),
    "pending": lambda: serializers.BooleanField(),
    "reason": lambda: serializers.CharField(),
    "decided_by": lambda: serializers.CharField(),
    "points_reversed": lambda: serializers.IntegerField(),
    "points_shortfall": lambda: serializers.IntegerField(),
    "from": lambda: TierRefDataOut(allow_null=True, help_text="The tier before."),
    "to": lambda: TierRefDataOut(allow_null=True, help_text="The tier after."),
    "actor": lambda: serializers.CharField(),
    "note": lambda: serializers.CharField(),
    "count": lambda: serializers.IntegerField(help_text="The streak's count (cycles)."),
    "cycle": lambda: serializers.CharField(help_text="day, week or month."),
    "cycle_start": lambda: serializers.DateField(),
    "tier": lambda: serializers.CharField(allow_null=True, help_text="The tier's name."),
    "entry_id": lambda: serializers.IntegerField(help_text="The ledger entry that paid it."),
    "previous_count": lambda: serializers.IntegerField(),
}


def _name(event_type: str) -> str:
    return "".join(part.title() for part in re.split(r"[._]", event_type))


def _event_serializer(event_type: str) -> type[serializers.Serializer]:
    description, keys = CATALOGUE[event_type]
    fields: dict[str, Any] = {key: _DATA_FIELDS[key]() for key in keys}
    if event_type != "webhook.test":
        fields["member"] = MemberFiguresOut(help_text="The member's figures after the change.")
    data = type(f"{_name(event_type)}Data", (serializers.Serializer,), {
        **fields, "__doc__": str(description),
    })
    return type(f"{_name(event_type)}Event", (serializers.Serializer,), {
        "__doc__": str(description),
        "id": serializers.CharField(help_text="Unique (evt_...): de-duplicate on it."),
        "type": serializers.ChoiceField(choices=[event_type]),
        "created_at": serializers.DateTimeField(),
        "program": serializers.IntegerField(allow_null=True),
        "member": serializers.IntegerField(allow_null=True),
        "sequence": serializers.IntegerField(
            allow_null=True, help_text="The member's event number: 1, 2, 3 ... in commit order."
        ),
        "data": data(),
    })


EVENT_SERIALIZERS = {event_type: _event_serializer(event_type) for event_type in EVENT_TYPES}


def event_schema(*, many: bool = False) -> PolymorphicProxySerializer:
    """The envelope, one of the catalogue's shapes according to ``type``."""
    return PolymorphicProxySerializer(
        component_name="Event", serializers=EVENT_SERIALIZERS, resource_type_field_name="type",
        many=many,
    )


class WebhookTestOut(serializers.Serializer):
    delivery = DeliveryOut()
    event = EVENT_SERIALIZERS["webhook.test"]()
