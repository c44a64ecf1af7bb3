"""The outbox, the webhook endpoints merchants configure, and the deliveries between them.

Design
------
* ``OutboxEvent`` is a domain event written in the transaction of the change it reports
  (``events.outbox.emit``, or the ledger's PostgreSQL fast paths in the same statement), so it
  exists if and only if the change committed. A receiver sees its ``envelope()``: ``id``
  (``evt_...``, unique, for de-duplication), ``type``, ``created_at``, ``program``, the
  ``member`` and their per-member ``sequence`` (1, 2, 3 ... in commit order), and ``data`` with
  the member's figures after the change.
* The same transaction fans the event out: one ``Delivery`` row per active ``WebhookEndpoint``
  of the merchant that wants the type. The delivery row is the durable work item: a task is
  enqueued for it once the transaction commits, and a sweeper job enqueues again whatever is
  due and unclaimed, so a lost task, a crashed worker or a task backend outage loses nothing.
* A worker claims a delivery with a guarded ``UPDATE`` that sets a lease (``locked_until``),
  sends it without holding a transaction, then writes one ``DeliveryAttempt`` (the log) and the
  outcome: delivered on a 2xx, otherwise the next attempt after an exponential, jittered delay
  (about three days in all), and the endpoint is disabled once it has failed for a set time.
  A worker killed mid-delivery leaves an expired lease behind: the delivery is sent again with
  the same event id (at least once).
* ``ExpiryWarning`` remembers that a member was warned about points expiring on a day, so the
  warning is sent once per member and expiry date.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from typing import Any

import pgtrigger
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

EVENT_ID_PREFIX = "evt_"


def uuid7(at: datetime | None = None) -> uuid.UUID:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Ids made later sort later, so the unique index takes each new one at its right edge (as a
    sequence would) instead of on a random page, and what an insert dirties stays small.
    """
    millis = int((at.timestamp() if at is not None else time.time()) * 1000)
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    value = ((millis & (1 << 48) - 1) << 80 | 0x7 << 76 | (random >> 62 & 0xFFF) << 64
             | 0b10 << 62 | random & (1 << 62) - 1)
    return uuid.UUID(int=value)


def new_event_id(at: datetime | None = None) -> str:
    return f"{EVENT_ID_PREFIX}{uuid7(at).hex}"


class EventIdField(models.UUIDField):
    """An event's public id, ``evt_`` and 32 hex digits, stored as a uuid.

    Python sees the public string (what receivers de-duplicate on); PostgreSQL stores 16 bytes
    in a native ``uuid`` column (SQLite: the 32 hex digits). Against the 40-character text it
    replaced, each outbox insert maintains one index fewer (no ``LIKE`` index) and a smaller
    unique one, compared as integers rather than through a collation.
    """

    @staticmethod
    def as_uuid(value: Any) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        text = str(value)
        return uuid.UUID(text.removeprefix(EVENT_ID_PREFIX))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        return None if value is None else f"{EVENT_ID_PREFIX}{self.as_uuid(value).hex}"

    def _parsed(self, value: Any) -> uuid.UUID:
        try:
            return self.as_uuid(value)
        except (AttributeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid",
                                  params={"value": value}) from exc

    def to_python(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        return f"{EVENT_ID_PREFIX}{self._parsed(value).hex}"

    def get_prep_value(self, value: Any) -> uuid.UUID | None:
        value = models.Field.get_prep_value(self, value)
        if value is None or value == "":
            return None
        return self._parsed(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = self.get_prep_value(value)
        if value is None:
            return None
        return value if connection.features.has_native_uuid_field else value.hex


class OutboxEvent(models.Model):
    # No index of their own on merchant and program: every earn writes a row here, and each
    # index is one more to maintain. Look-ups by merchant use the (merchant, type, -id) index;
    # programs are soft-deleted, so nothing deletes events by program on a hot path.
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
        db_index=False,
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="+", db_index=False,
    )
    # Look-ups by member (and the deletion of one) use the unique (member, sequence) index.
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="+", db_index=False,
    )
    event_id = EventIdField(_("event id"), unique=True, default=new_event_id, editable=False)
    type = models.CharField(_("type"), max_length=64)
    sequence = models.PositiveBigIntegerField(_("sequence"), null=True, blank=True)
    data = models.JSONField(_("data"), default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name_plural = _("outbox events")
        ordering = ["id"]
        verbose_name = _("event")
        constraints = [
            # Member first: it also serves the member's foreign key. The merchant is implied by
            # the member; it stays in the key as every tenant-owned unique key names it.
            models.UniqueConstraint(
                fields=["member", "sequence", "merchant"],
                condition=Q(member__isnull=False),
                name="events_outbox_member_sequence_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "type", "-id"], name="events_outbox_type_recent"),
        ]
        triggers = [
            # An event, once written, is history: never rewritten. Only the retention job
            # removes events, and only ones older than a day (none a delivery could still need).
            pgtrigger.Protect(name="events_outbox_append_only", operation=pgtrigger.Update),
            pgtrigger.Protect(
                name="events_outbox_kept_a_day", operation=pgtrigger.Delete,
                condition=pgtrigger.Condition("OLD.created_at > NOW() - INTERVAL '1 day'"),
            ),
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


class WebhookEndpoint(models.Model):
    """Where a merchant wants events sent, and which ones (none listed: every type)."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    url = models.URLField(_("url"), max_length=2000)
    description = models.CharField(_("description"), max_length=255, blank=True, default="")
    # Types (``points.earned``) or groups (``points.*``); empty means every type.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    # ``whsec_`` + base64 of 32 random bytes (the Standard Webhooks secret format).
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    # After a rotation the old secret still signs, beside the new one, until it expires.
    previous_secret = models.CharField(
        _("previous secret"), max_length=100, blank=True, default="", editable=False,
    )
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret expires at"), null=True, blank=True, editable=False,
    )
    is_active = models.BooleanField(_("is active"), default=True)
    # Since when every attempt has failed (reset by a success); disabled after a set time.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(
        _("disabled reason"), max_length=255, blank=True, default="", editable=False,
    )
    created_at = models.DateTimeField(_("created at"), editable=False)
    updated_at = models.DateTimeField(_("updated at"), editable=False)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]
        verbose_name = _("webhook endpoint")
        indexes = [
            models.Index(
                fields=["merchant"], condition=Q(is_active=True), name="events_endpoint_active"
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.url


class Delivery(models.Model):
    """One event for one endpoint: pending until a 2xx answer, or until retries run out."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE,
        related_name="deliveries"
    )
    event = models.ForeignKey(
        OutboxEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # A resend starts a new round of retries; the log's attempt numbers go on counting.
    attempts_before_resend = models.PositiveIntegerField(_("attempts before resend"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    # A worker's claim: until then no other worker sends this delivery.
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # When the sweeper last enqueued it (tasks enqueued on commit leave it empty).
    swept_at = models.DateTimeField(_("swept at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        permissions = [("resend_delivery", "Can send a webhook delivery again")]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="events_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"),
                name="events_delivery_due",
            ),
            models.Index(fields=["endpoint", "-id"], name="events_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: the log the console and the API show."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE,
        related_name="attempts"
    )
    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="log",
    )
    number = models.PositiveIntegerField(_("number"))
    started_at = models.DateTimeField(_("started at"))
    succeeded = models.BooleanField(_("succeeded"), default=False)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency ms"), default=0)
    response_excerpt = models.CharField(
        _("response excerpt"), max_length=500, blank=True, default="",
    )
    error = models.CharField(_("error"), max_length=255, blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name_plural = _("delivery attempts")
        ordering = ["-id"]
        verbose_name = _("delivery attempt")
        # The log of what was sent is never rewritten (it goes with its endpoint when that is
        # deleted).
        triggers = [pgtrigger.Protect(name="events_attempt_append_only",
                                      operation=pgtrigger.Update)]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="events_attempt_endpoint"),
            models.Index(
                fields=["endpoint", "-id"], condition=Q(succeeded=False),
                name="events_attempt_failures",
            ),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"


class ExpiryWarning(models.Model):
    """A member was told (``points.expiring``) that points expire on ``expires_on``."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="+",
    )
    expires_on = models.DateField(_("expires on"))
    points = models.BigIntegerField(_("points"))
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("expiry warning")
        verbose_name_plural = _("expiry warnings")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "member", "expires_on"], name="events_expiry_warning_once"
            ),
        ]
        indexes = [models.Index(fields=["expires_on"], name="events_expiry_warning_day")]

    def __str__(self) -> str:
        return f"{self.points} points expiring on {self.expires_on}"
