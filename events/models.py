"""The outbox: domain events written in the transaction of the change they report.

An event row exists if and only if its change committed (``events.outbox.emit`` refuses to run
outside a transaction). Delivery to merchants' webhooks reads this table afterwards, so a crash
between the change and a delivery loses nothing: the event is still here, and is sent again.

The envelope a receiver sees: ``id`` (``evt_...``, unique, for de-duplication), ``type``,
``created_at``, ``program``, the ``member`` and their per-member ``sequence`` (1, 2, 3 ... in
the order the member's changes committed), and ``data``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class OutboxEvent(models.Model):
    merchant = models.ForeignKey("members.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        "members.Program", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    type = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "member", "sequence"],
                condition=Q(member__isnull=False),
                name="events_outbox_member_sequence_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "type", "-id"], name="events_outbox_type_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    def envelope(self) -> dict[str, object]:
        """What a webhook receiver gets (the Standard Webhooks payload)."""
        return {
            "id": self.event_id,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "program": self.program_id,
            "member": self.member_id,
            "sequence": self.sequence,
            "data": self.data,
        }
