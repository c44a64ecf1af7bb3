"""Write paths for webhook endpoints and deliveries (the console and the API call these).

An endpoint's URL is checked when it is saved (``events.network``: it must resolve, and only to
public addresses, unless ``WEBHOOKS_ALLOW_PRIVATE_NETWORKS``), and again before every request.
Its secret is generated here and never chosen by a person; rotating it keeps the old one
signing beside the new one for a day, so receivers can switch without losing a delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext

from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import ValidationFailed
from members.models import Merchant

from . import network
from .catalogue import is_known_filter
from .delivery import schedule
from .errors import WebhookLimitReached, WebhookUrlRefused
from .models import Delivery, OutboxEvent, WebhookEndpoint
from .signing import new_secret

MAX_ENDPOINTS = 20
MAX_EVENT_TYPES = 50
ROTATION_GRACE = timedelta(hours=24)
ENDPOINT_FIELDS = {"url", "description", "event_types", "is_active"}


def endpoint_url_check(url: Any) -> str:
    """``url`` cleaned, if webhooks may go there (raises the error to show otherwise)."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed(gettext("url is required."), field="url")
    url = url.strip()
    if len(url) > 2000:
        raise ValidationFailed(gettext("url is limited to 2000 characters."), field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        # The API's schema already refused what is not http(s)://host...: what is left (a host
        # that cannot exist, "http://0") is well-formed and refused here.
        raise WebhookUrlRefused(gettext("Enter a valid http:// or https:// URL."),
                                field="url") from None
    try:
        network.destination(url)
    except network.UnsafeDestination as refused:
        raise WebhookUrlRefused(str(refused), field="url") from None
    return url


def _check_event_types(values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValidationFailed(gettext("event_types must be a list of event types."),
                               field="event_types")
    if len(values) > MAX_EVENT_TYPES:
        raise ValidationFailed(gettext("At most %(n)d event types.") % {"n": MAX_EVENT_TYPES},
                               field="event_types")
    unknown = [v for v in values if not is_known_filter(v)]
    if unknown:
        raise ValidationFailed(
            gettext("Unknown event type '%(type)s' (see the catalogue; 'points.*' takes a "
                    "whole group).") % {"type": unknown[0][:64]},
            field="event_types",
        )
    return list(dict.fromkeys(values))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - ENDPOINT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field {unknown[0]}.", field=unknown[0])
    cleaned = dict(fields)
    if "url" in cleaned:
        cleaned["url"] = endpoint_url_check(cleaned["url"])
    if "event_types" in cleaned:
        cleaned["event_types"] = _check_event_types(cleaned["event_types"])
    if "description" in cleaned:
        description = cleaned["description"]
        if not isinstance(description, str) or len(description) > 255:
            raise ValidationFailed(gettext("description is limited to 255 characters."),
                                   field="description")
        cleaned["description"] = description.strip()
    if "is_active" in cleaned and not isinstance(cleaned["is_active"], bool):
        raise ValidationFailed(gettext("is_active must be true or false."), field="is_active")
    return cleaned


@transaction.atomic
def endpoint_create(
    *,
    merchant: Merchant | int,
    url: str,
    description: str = "",
    event_types: Sequence[str] = (),
    is_active: bool = True,
    clock: Clock = system_clock,
) -> WebhookEndpoint:
    """Add an endpoint with a fresh secret. Its URL must pass the network check now."""
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    fields = _clean({"url": url, "description": description,
                     "event_types": list(event_types), "is_active": is_active})
    # Counted under a lock on the merchant row, so concurrent creations cannot pass the limit.
    Merchant.objects.select_for_update().filter(pk=merchant_id).first()
    if WebhookEndpoint._base_manager.filter(merchant_id=merchant_id).count() >= MAX_ENDPOINTS:
        raise WebhookLimitReached(
            gettext("At most %(n)d webhook endpoints per merchant.") % {"n": MAX_ENDPOINTS},
            field="url",
        )
    now = clock.now()
    return WebhookEndpoint._base_manager.create(
        merchant_id=merchant_id, secret=new_secret(), created_at=now, updated_at=now, **fields
    )


def endpoint_update(*, endpoint: WebhookEndpoint, clock: Clock = system_clock,
                    **fields: Any) -> WebhookEndpoint:
    """Change an endpoint. Turning it back on clears an automatic disabling and its streak."""
    cleaned = _clean(fields)
    if cleaned.get("is_active") and not endpoint.is_active:
        endpoint.failing_since = endpoint.disabled_at = None
        endpoint.disabled_reason = ""
    for name, value in cleaned.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = clock.now()
    endpoint.save()
    return endpoint


def endpoint_enable(*, endpoint: WebhookEndpoint, clock: Clock = system_clock) -> WebhookEndpoint:
    return endpoint_update(endpoint=endpoint, is_active=True, clock=clock)


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their log (the events stay)."""
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint,
                           clock: Clock = system_clock) -> WebhookEndpoint:
    """A new secret; the old one keeps signing too for ``ROTATION_GRACE``."""
    now = clock.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    endpoint.save(update_fields=[
        "previous_secret", "previous_secret_expires_at", "secret", "updated_at",
    ])
    return endpoint


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint, clock: Clock = system_clock) -> Delivery:
    """Send a ``webhook.test`` event to this endpoint only (even a disabled one: it is how a
    merchant checks a receiver before turning the endpoint back on)."""
    now = clock.now()
    event = OutboxEvent._base_manager.create(
        merchant_id=endpoint.merchant_id, type="webhook.test", created_at=now,
        data={"message": gettext("A test event: this endpoint receives and verifies webhooks."),
              "endpoint": endpoint.pk},
    )
    delivery = Delivery._base_manager.create(
        merchant_id=endpoint.merchant_id, endpoint=endpoint, event=event, next_attempt_at=now,
        created_at=now,
    )
    schedule([delivery.pk])
    return delivery


@transaction.atomic
def delivery_resend(*, delivery: Delivery, clock: Clock = system_clock) -> Delivery:
    """Send a delivery again now, with a fresh round of retries (whatever its status). An
    attempt already under way finishes first: its lease stays."""
    now = clock.now()
    locked = Delivery._base_manager.select_for_update().get(pk=delivery.pk)
    locked.status = Delivery.Status.PENDING
    locked.next_attempt_at = now
    locked.attempts_before_resend = locked.attempts
    locked.delivered_at = None
    locked.save(update_fields=[
        "status", "next_attempt_at", "attempts_before_resend", "delivered_at",
    ])
    schedule([locked.pk])
    return locked


def deliveries_resend(*, deliveries: Sequence[Delivery], clock: Clock = system_clock) -> int:
    for delivery in deliveries:
        delivery_resend(delivery=delivery, clock=clock)
    return len(deliveries)
