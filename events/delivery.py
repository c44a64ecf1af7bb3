"""Sending deliveries: claim, sign, POST, log, and decide what happens next.

A delivery is claimed with one guarded ``UPDATE`` (pending, due, and no live lease), which sets
a lease of ``WEBHOOKS_TIMEOUT`` plus a margin: two workers given the same delivery (a duplicate
task, the sweeper's re-enqueue) never both send it, and a worker killed mid-request leaves a
lease that runs out, after which the delivery is sent again with the same ``webhook-id``. The
request is made outside any transaction. Its outcome is written under the same lease: a 2xx
delivers; anything else (another status, a timeout, a refused address) is retried after an
exponentially growing, jittered delay, ``MAX_ATTEMPTS`` times over about three days, and an
endpoint whose attempts have all failed for ``WEBHOOKS_DISABLE_AFTER_DAYS`` is disabled.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext

from loyaltysite.clock import Clock, system_clock

from . import network, signing
from .models import Delivery, DeliveryAttempt, WebhookEndpoint

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 16
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=12)
JITTER = 0.2  # each delay is 80% to 120% of its nominal length
LEASE_MARGIN = timedelta(seconds=30)
EXCERPT_CHARS = 500


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``failed_attempts``-th failure: one minute, doubling, at
    most twelve hours, with jitter (so endpoints that fail together do not retry together).
    Nominally 15 waits add up to about 3.2 days."""
    nominal = min(FIRST_RETRY * 2 ** (failed_attempts - 1), LONGEST_RETRY)
    return nominal * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def attempt_timeout() -> float:
    return float(settings.WEBHOOKS_TIMEOUT)


# -- scheduling --------------------------------------------------------------------------------


def schedule(delivery_ids: list[int]) -> None:
    """Enqueue the deliveries' tasks once the current transaction commits."""
    transaction.on_commit(partial(enqueue, list(delivery_ids)))


def enqueue(delivery_ids: Iterable[int], run_after: datetime | None = None) -> int:
    """Enqueue one task per delivery; returns how many were enqueued.

    A backend that fails is logged, not raised: the delivery rows are the durable record, and
    the ``deliver-webhooks`` job enqueues whatever is still due.
    """
    from .tasks import deliver_webhook

    task = deliver_webhook
    if run_after is not None and task.get_backend().supports_defer:
        task = task.using(run_after=run_after)
    done = 0
    for delivery_id in delivery_ids:
        try:
            task.enqueue(delivery_id)
        except Exception:
            logger.exception("could not enqueue delivery %s (the sweeper will)", delivery_id)
        else:
            done += 1
    return done


# -- one attempt -------------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime) -> datetime | None:
    """Take the delivery for one attempt; the lease's end, or ``None`` if not ours to send."""
    lease = now + timedelta(seconds=attempt_timeout()) + LEASE_MARGIN
    claimed = (
        Delivery._base_manager.filter(
            pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=lease, attempts=F("attempts") + 1)
    )
    return lease if claimed else None


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").replace("\x00", "")
    return text[:EXCERPT_CHARS]


def delivery_attempt(*, delivery_id: int, clock: Clock = system_clock) -> str | None:
    """Make the delivery's next attempt if it is due and nobody else is making it.

    Returns the delivery's status afterwards, or ``None`` when there was nothing to do.
    """
    now = clock.now()
    lease = _claim(delivery_id, now)
    if lease is None:
        return None
    delivery = Delivery._base_manager.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.is_active and event.type != "webhook.test":
        answer = network.Answer(None, b"", 0, gettext("Not sent: the endpoint is disabled."))
        return _record(delivery, lease, answer, now, clock, give_up=True)
    try:
        target = network.destination(endpoint.url)
    except network.UnsafeDestination as refused:
        answer = network.Answer(None, b"", 0, str(refused)[:255])
    else:
        body = json.dumps(event.envelope(), separators=(",", ":"))
        headers = signing.signature_headers(
            message_id=event.event_id, body=body, secrets=_secrets(endpoint, now),
            at=signing.signing_time(),
        )
        answer = network.post(target, body.encode(), headers, timeout=attempt_timeout())
    return _record(delivery, lease, answer, now, clock)


def _secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def _record(delivery: Delivery, lease: datetime, answer: network.Answer, started: datetime,
            clock: Clock, *, give_up: bool = False) -> str:
    """Log the attempt and write what follows from it, if the lease is still ours."""
    now = clock.now()
    succeeded = answer.status is not None and 200 <= answer.status < 300
    number = delivery.attempts  # read after the claim counted this attempt
    in_round = number - delivery.attempts_before_resend
    error = answer.error
    if answer.status is not None and not succeeded:
        error = gettext("HTTP %(status)d: only a 2xx answer counts as delivered.") % {
            "status": answer.status}
    if succeeded:
        status = Delivery.Status.DELIVERED
    elif give_up or in_round >= MAX_ATTEMPTS:
        status = Delivery.Status.FAILED
    else:
        status = Delivery.Status.PENDING
    next_at = now + retry_delay(in_round) if status == Delivery.Status.PENDING else now
    with transaction.atomic():
        DeliveryAttempt._base_manager.create(
            merchant_id=delivery.merchant_id, endpoint_id=delivery.endpoint_id,
            delivery_id=delivery.pk, number=number, started_at=started, succeeded=succeeded,
            status_code=answer.status, latency_ms=answer.latency_ms,
            response_excerpt=_excerpt(answer.body), error=error[:255],
        )
        mine = Delivery._base_manager.filter(pk=delivery.pk, locked_until=lease).update(
            status=status, locked_until=None, next_attempt_at=next_at,
            delivered_at=now if succeeded else None,
        )
        if mine and not give_up:
            _endpoint_health(delivery.endpoint, succeeded, now)
        if mine and status == Delivery.Status.PENDING:
            transaction.on_commit(partial(enqueue, [delivery.pk], run_after=next_at))
    return status


def _endpoint_health(endpoint: WebhookEndpoint, succeeded: bool, now: datetime) -> None:
    """A success clears the endpoint's failing streak; a failure starts it, and a streak older
    than ``WEBHOOKS_DISABLE_AFTER_DAYS`` disables the endpoint (guarded updates: several
    workers may report on one endpoint at once)."""
    endpoints = WebhookEndpoint._base_manager.filter(pk=endpoint.pk)
    if succeeded:
        if endpoint.failing_since is not None:  # as read at the claim: most often healthy
            endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    cutoff = now - timedelta(days=settings.WEBHOOKS_DISABLE_AFTER_DAYS)
    disabled = endpoints.filter(is_active=True, failing_since__lte=cutoff).update(
        is_active=False, disabled_at=now, updated_at=now,
        disabled_reason=gettext(
            "Disabled automatically: every delivery failed for %(days)d days."
        ) % {"days": settings.WEBHOOKS_DISABLE_AFTER_DAYS},
    )
    if disabled:
        logger.warning("webhook endpoint %s disabled after failing since %s",
                       endpoint.pk, endpoint.failing_since)
