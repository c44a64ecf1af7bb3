"""Background tasks of the events app, on Django's task framework (django-tasks).

``deliver_webhook`` is enqueued when a transaction that wrote deliveries commits, again after
each failed attempt (for when the retry is due), and by the ``deliver-webhooks`` job for
whatever is due and unclaimed. Running it twice for one delivery sends it once: the claim in
``events.delivery`` decides.
"""

from __future__ import annotations

from django_scopes import scopes_disabled
from django_tasks import task

from .delivery import delivery_attempt


@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int) -> str | None:
    """Make one attempt of a delivery, if it is due; returns its status after."""
    with scopes_disabled():  # system work: the delivery names its merchant
        return delivery_attempt(delivery_id=delivery_id)
