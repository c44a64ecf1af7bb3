"""Read paths for endpoints, deliveries, their log and events; every one is per merchant."""

from __future__ import annotations

import re

from django.db.models import Prefetch, QuerySet

from loyaltysite.ids import parse_id

from .errors import DeliveryNotFound, EventNotFound, WebhookNotFound
from .models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint

EVENT_ID = re.compile(r"evt_[0-9a-f]{32}")


def endpoint_list(*, merchant_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant_id=merchant_id).order_by("id")


def endpoint_get(*, merchant_id: int, endpoint_id: object) -> WebhookEndpoint:
    """The merchant's endpoint; another merchant's id answers like a missing one."""
    pk = parse_id(endpoint_id)
    found = pk and endpoint_list(merchant_id=merchant_id).filter(pk=pk).first()
    if not found:
        raise WebhookNotFound(field="webhook")
    return found


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest first, each with its event and its attempts."""
    return (
        Delivery.objects.filter(merchant_id=endpoint.merchant_id, endpoint_id=endpoint.pk)
        .select_related("event")
        .prefetch_related(Prefetch("log", queryset=DeliveryAttempt.objects.order_by("number")))
        .order_by("-id")
    )


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: object) -> Delivery:
    pk = parse_id(delivery_id)
    found = pk and delivery_list(endpoint=endpoint).filter(pk=pk).first()
    if not found:
        raise DeliveryNotFound(field="delivery")
    return found


def attempt_list(*, merchant_id: int) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(merchant_id=merchant_id).select_related(
        "endpoint", "delivery__event"
    )


def event_list(*, merchant_id: int) -> QuerySet[OutboxEvent]:
    """The merchant's events, newest first (``webhook.test`` ones included)."""
    return OutboxEvent.objects.filter(merchant_id=merchant_id).order_by("-created_at", "-id")


def event_get(*, merchant_id: int, event_id: object) -> OutboxEvent:
    """By its public id (``evt_...``)."""
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise EventNotFound(field="event")
    found = event_list(merchant_id=merchant_id).filter(event_id=event_id).first()
    if found is None:
        raise EventNotFound(field="event")
    return found
