"""Scheduled work of the events app (``run_jobs``): the delivery sweeper and retention.

``deliver-webhooks`` is the safety net under the tasks: it gives deliveries whose worker died
mid-request back (an expired lease), and enqueues every pending delivery that is overdue and
was not enqueued lately (a task lost with its backend, a backend that cannot defer retries).
``purge-events`` deletes events older than ``EVENTS_RETENTION_DAYS`` whose deliveries are
finished (their deliveries and log with them), expiry warnings whose day has passed, and
finished task results of the database backend.
"""

from __future__ import annotations

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db.models import Q

from loyaltysite.clock import Clock

from .delivery import enqueue
from .models import Delivery, ExpiryWarning, OutboxEvent

# A delivery due for longer than this is taken to have lost its task.
OVERDUE = timedelta(minutes=2)
# ...and is enqueued again at most this often while it stays due.
REENQUEUE_EVERY = timedelta(minutes=10)


def deliver_webhooks(*, clock: Clock, batch_size: int) -> int:
    """Release expired leases and enqueue overdue deliveries. Returns how many were enqueued."""
    now = clock.now()
    pending = Delivery._base_manager.filter(status=Delivery.Status.PENDING)
    pending.filter(locked_until__lt=now).update(locked_until=None)
    stranded = pending.filter(
        next_attempt_at__lte=now - OVERDUE, locked_until__isnull=True
    ).filter(Q(swept_at__isnull=True) | Q(swept_at__lte=now - REENQUEUE_EVERY))
    enqueued = 0
    last = 0
    while True:
        ids = list(stranded.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[
            :batch_size])
        if not ids:
            return enqueued
        Delivery._base_manager.filter(pk__in=ids).update(swept_at=now)
        enqueued += enqueue(ids)
        last = ids[-1]


def purge_events(*, clock: Clock, batch_size: int) -> int:
    """Delete what is past retention, a batch at a time. Returns how many events went."""
    now = clock.now()
    cutoff = now - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    old = OutboxEvent._base_manager.filter(created_at__lt=cutoff).exclude(
        deliveries__status=Delivery.Status.PENDING
    )
    purged = 0
    while True:
        # By primary key, not by an index on created_at (one index less on every event written):
        # ids grow with time, so the old rows are the first ones the scan meets.
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        OutboxEvent._base_manager.filter(pk__in=ids).delete()
        purged += len(ids)
    ExpiryWarning._base_manager.filter(expires_on__lt=(now - timedelta(days=1)).date()).delete()
    if apps.is_installed("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return purged


JOBS = [
    ("deliver-webhooks", deliver_webhooks),
    ("purge-events", purge_events),
]
