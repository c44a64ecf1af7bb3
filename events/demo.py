"""Demo data: an endpoint that delivers to this very server's receiver (``make run``).

Only when private networks are allowed (``make run`` allows them): the receiver is on
127.0.0.1, which production refuses. Idempotent: the endpoint is matched by its URL.
"""

from __future__ import annotations

from django.conf import settings

from loyaltysite.clock import Clock
from members.models import Member, Merchant, Program

from . import services
from .models import WebhookEndpoint

DEMO_RECEIVER = "http://127.0.0.1:8000/demo/webhook-receiver/"


def seed_demo(*, merchant: Merchant, program: Program, members: list[Member],
              clock: Clock) -> None:
    if not settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS:
        return
    if WebhookEndpoint.objects.filter(merchant=merchant, url=DEMO_RECEIVER).exists():
        return
    services.endpoint_create(
        merchant=merchant, url=DEMO_RECEIVER, clock=clock,
        description="Demo receiver (this server: verifies and logs every event)",
    )
