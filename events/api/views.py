"""Webhook endpoints, their deliveries, and the event log over REST (SPEC 11, 15).

Thin: serializers check shape, ``events.services`` decides. Endpoints belong to the merchant
(not to a program); another merchant's ids answer 404 like missing ones.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status as http
from rest_framework.response import Response

from events import selectors, services
from events.errors import (
    DeliveryNotFound,
    EventNotFound,
    WebhookLimitReached,
    WebhookNotFound,
    WebhookUrlRefused,
)
from loyaltysite.api.pagination import NewestFirstPagination, PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import raises
from loyaltysite.api.views import EmptyIn, MerchantApi, validated
from loyaltysite.errors import ValidationFailed

from .filters import DeliveryFilter, EventFilter, WebhookFilter
from .serializers import (
    DeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookTestOut,
    WebhookWithSecretOut,
    event_schema,
)

WEBHOOK_EXAMPLE = OpenApiExample(
    "An endpoint for the CRM",
    value={"url": "https://crm.example.com/hooks/loyalty", "description": "CRM sync",
           "event_types": ["member.enrolled", "points.*", "tier.changed"]},
    request_only=True,
)


class _WebhookApi(MerchantApi):
    def endpoint(self):
        return selectors.endpoint_get(
            merchant_id=self.merchant_id, endpoint_id=self.kwargs["webhook"]
        )


class WebhookListApi(MerchantApi):
    pagination_class = PagePagination
    filterset_class = WebhookFilter

    @extend_schema(
        tags=["webhooks"], summary="List webhook endpoints", operation_id="webhooks_list",
        description="The merchant's endpoints, oldest first. `?is_active=false` lists the "
        "disabled ones (an endpoint failing for days is disabled automatically).",
        responses=WebhookOut(many=True),
    )
    def get(self, request):
        return self.paginate(selectors.endpoint_list(merchant_id=self.merchant_id), WebhookOut)

    @extend_schema(
        tags=["webhooks"], summary="Add a webhook endpoint", operation_id="webhooks_create",
        description="Events of the listed types (all when none are listed) are POSTed to "
        "`url`, signed per Standard Webhooks with the `secret` in the answer, which is shown "
        "this once. The host must resolve to public addresses only.",
        request=WebhookIn, responses={201: WebhookWithSecretOut}, examples=[WEBHOOK_EXAMPLE],
    )
    @raises(ValidationFailed, WebhookUrlRefused, WebhookLimitReached)
    def post(self, request):
        data = validated(WebhookIn, request.data)

        def run():
            endpoint = services.endpoint_create(merchant=self.merchant_id, **data)
            return http.HTTP_201_CREATED, render(WebhookWithSecretOut, endpoint)

        return self.idempotent(run)


class WebhookDetailApi(_WebhookApi):
    @extend_schema(tags=["webhooks"], summary="Get a webhook endpoint",
                   description="One endpoint (its secret is shown only on creation and "
                   "rotation).", operation_id="webhooks_retrieve", responses=WebhookOut)
    @raises(WebhookNotFound)
    def get(self, request, webhook):
        return Response(render(WebhookOut, self.endpoint()))

    @extend_schema(
        tags=["webhooks"], summary="Change a webhook endpoint",
        operation_id="webhooks_partial_update",
        description="Send the fields to change. `is_active: true` turns an endpoint that was "
        "disabled for failing back on.",
        request=WebhookIn, responses=WebhookOut,
    )
    @raises(WebhookNotFound, ValidationFailed, WebhookUrlRefused)
    def patch(self, request, webhook):
        target = self.endpoint()
        data = validated(WebhookIn, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            updated = services.endpoint_update(endpoint=target, **data)
            return http.HTTP_200_OK, render(WebhookOut, updated)

        return self.idempotent(run)

    @extend_schema(
        tags=["webhooks"], summary="Delete a webhook endpoint", operation_id="webhooks_destroy",
        description="With its deliveries and their log; nothing more is sent to it.",
        responses={204: None},
    )
    @raises(WebhookNotFound)
    def delete(self, request, webhook):
        target = self.endpoint()

        def run():
            services.endpoint_delete(endpoint=target)
            return http.HTTP_204_NO_CONTENT, None

        return self.idempotent(run)


class WebhookTestApi(_WebhookApi):
    @extend_schema(
        tags=["webhooks"], summary="Send a test event", operation_id="webhooks_test",
        description="Sends a `webhook.test` event to this endpoint only (a disabled one too), "
        "like any other event: signed, retried, logged. Answers 202 with the queued delivery.",
        request=EmptyIn, responses={202: WebhookTestOut},
    )
    @raises(WebhookNotFound)
    def post(self, request, webhook):
        target = self.endpoint()
        validated(EmptyIn, request.data)

        def run():
            delivery = services.endpoint_send_test(endpoint=target)
            return http.HTTP_202_ACCEPTED, {
                "delivery": render(DeliveryOut, delivery),
                "event": delivery.event.envelope(),
            }

        return self.idempotent(run)


class WebhookRotateSecretApi(_WebhookApi):
    @extend_schema(
        tags=["webhooks"], summary="Rotate the signing secret",
        operation_id="webhooks_rotate_secret",
        description="A new secret, shown this once. For 24 hours each request is signed with "
        "the new and the old secret (two signatures in `webhook-signature`), so receivers can "
        "switch without missing a delivery.",
        request=EmptyIn, responses=WebhookWithSecretOut,
    )
    @raises(WebhookNotFound)
    def post(self, request, webhook):
        target = self.endpoint()
        validated(EmptyIn, request.data)

        def run():
            rotated = services.endpoint_rotate_secret(endpoint=target)
            return http.HTTP_200_OK, render(WebhookWithSecretOut, rotated)

        return self.idempotent(run)


class WebhookDeliveryListApi(_WebhookApi):
    pagination_class = NewestFirstPagination
    filterset_class = DeliveryFilter

    @extend_schema(
        tags=["webhooks"], summary="The endpoint's delivery log",
        operation_id="webhooks_deliveries",
        description="Newest first; each delivery with every attempt (time, HTTP status, "
        "latency, the start of the answer). `?status=failed` lists what gave up; "
        "`?failed_attempts=true` what failed at least once.",
        responses=DeliveryOut(many=True),
    )
    @raises(WebhookNotFound)
    def get(self, request, webhook):
        return self.paginate(selectors.delivery_list(endpoint=self.endpoint()), DeliveryOut)


class WebhookDeliveryResendApi(_WebhookApi):
    @extend_schema(
        tags=["webhooks"], summary="Send a delivery again", operation_id="webhooks_resend",
        description="Queues the event for this endpoint again now, with a fresh round of "
        "retries, whatever the delivery's status. The receiver gets the same event id.",
        request=EmptyIn, responses={202: DeliveryOut},
    )
    @raises(WebhookNotFound, DeliveryNotFound)
    def post(self, request, webhook, delivery):
        target = selectors.delivery_get(endpoint=self.endpoint(), delivery_id=delivery)
        validated(EmptyIn, request.data)

        def run():
            resent = services.delivery_resend(delivery=target)
            return http.HTTP_202_ACCEPTED, render(DeliveryOut, resent)

        return self.idempotent(run)


class EventListApi(MerchantApi):
    pagination_class = NewestFirstPagination
    filterset_class = EventFilter

    @extend_schema(
        tags=["events"], summary="List events", operation_id="events_list",
        description="Every domain event of the merchant, newest first, as webhook receivers "
        "get them (kept for EVENTS_RETENTION_DAYS): to catch up after an outage, or to poll "
        "instead of receiving webhooks.",
        responses=event_schema(many=True),
    )
    def get(self, request):
        return self.paginate(selectors.event_list(merchant_id=self.merchant_id),
                             lambda page: [event.envelope() for event in page])


class EventDetailApi(MerchantApi):
    @extend_schema(tags=["events"], summary="Get an event", operation_id="events_retrieve",
                   description="One event by its id, exactly as webhook receivers get it.",
                   responses=event_schema())
    @raises(EventNotFound)
    def get(self, request, event):
        found = selectors.event_get(merchant_id=self.merchant_id, event_id=event)
        return Response(found.envelope())
