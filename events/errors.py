"""Errors of the events app (webhooks), with their stable codes (SPEC 16)."""

from __future__ import annotations

from loyaltysite.errors import NotFound, Unprocessable


class WebhookNotFound(NotFound):
    code, title = "WEBHOOK_NOT_FOUND", "Webhook endpoint not found."


class DeliveryNotFound(NotFound):
    code, title = "DELIVERY_NOT_FOUND", "Delivery not found."


class EventNotFound(NotFound):
    code, title = "EVENT_NOT_FOUND", "Event not found."


class WebhookUrlRefused(Unprocessable):
    """The URL is well formed but not one the platform will call (private network, ...)."""

    code, title = "WEBHOOK_URL_REFUSED", "Webhooks cannot be sent to this URL."


class WebhookLimitReached(Unprocessable):
    code, title = "WEBHOOK_LIMIT_REACHED", "This merchant has as many webhook endpoints as allowed."
