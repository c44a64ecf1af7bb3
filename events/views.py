"""The development server's own webhook receiver, so the demo's webhooks really deliver.

``make run`` points the demo merchant's endpoint here: the receiver verifies each request the
way any integrator's would (``standardwebhooks``, with the endpoint's secret), logs it, and
answers 200 with what it checked, which the console's delivery log shows. It exists only while
``DEBUG`` is on.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .models import WebhookEndpoint

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def demo_receiver(request: HttpRequest) -> JsonResponse:
    if not settings.DEBUG:
        raise Http404
    url = request.build_absolute_uri()
    secrets = WebhookEndpoint.objects.with_scopes_disabled().filter(url=url).values_list(
        "secret", "previous_secret"
    )
    body = request.body.decode("utf-8", errors="replace")
    for secret in (s for pair in secrets for s in pair if s):
        try:
            event = Webhook(secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            continue
        logger.info("webhook received: %s %s (signature verified)", event.get("type"),
                    event.get("id"))
        return JsonResponse({"received": event.get("id"), "type": event.get("type"),
                             "verified": True})
    logger.warning("webhook refused: no endpoint's secret verifies its signature")
    return JsonResponse({"verified": False, "detail": "Signature verification failed."},
                        status=400)
