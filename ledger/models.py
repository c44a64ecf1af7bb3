"""The points ledger: the source of truth for every member's points.

Design
------
* ``Entry`` is append-only. Each entry records the signed ``points`` it moved (the figure a
  customer reads in their history) and, explicitly, how it changed each of the member's three
  buckets: ``balance_delta`` (spendable), ``pending_delta`` and ``reserved_delta``. So for every
  member ``SUM(balance_delta) == balance``, ``SUM(pending_delta) == pending_points`` and
  ``SUM(reserved_delta) == reserved_points``: the invariant is a plain aggregate, checked by
  tests and by ``ledger.selectors.member_ledger_discrepancies``.
* Each kind allows only some delta shapes; check constraints hold them in the database, as
  they hold ``balance_after >= 0`` and the non-zero ``points``.
* Every credit creates a ``Lot`` (``remaining``, ``available_at``, ``expires_at``). Debits and
  holds consume lots first-to-expire first; expiry turns what remains of a lot into an
  ``expire`` entry; the pending job turns matured pending lots spendable.
* A ``Hold`` is a reservation: points moved from balance to reserved, later confirmed (spent)
  or released (given back, to the very lots they came from).
* ``IdempotencyKey`` remembers the first outcome of a keyed write (status and body).
* On PostgreSQL, triggers (django-pgtrigger) make entries append-only and a key's outcome
  write-once, even for raw SQL: the database refuses the UPDATE or DELETE.
* The member row (``members.Member``) carries the cached figures and is the lock: every writer
  takes ``SELECT ... FOR UPDATE`` on it first (``ledger.locking``), so writers on one member
  serialise and nothing is lost.

Only ``ledger.services`` writes these tables or the member's figures.
"""

from __future__ import annotations

import pgtrigger
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Entry(models.Model):
    """One posted change to a member's points. Never updated or deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earn")
        ADJUST = "adjust", _("Adjustment")
        REDEEM = "redeem", _("Redeem")
        RESERVE = "reserve", _("Reserve")
        RELEASE = "release", _("Release")
        EXPIRE = "expire", _("Expire")
        REVERSE = "reverse", _("Reversal")
        AVAILABLE = "available", _("Now spendable")

    # member, merchant and program: in PostgreSQL one foreign key to the member's (id, program,
    # merchant) key holds all three (loyaltysite.migration_ops.AnchorToMember)
    # indexed by ledger_entry_ref (merchant, program, reference): no index of its own
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
        db_index=False,
        db_constraint=False,
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
        db_constraint=False,
    )
    # indexed by ledger_entry_member_newest (member, -created_at, -id)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT,
        related_name="entries", db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    points = models.BigIntegerField(_("points"))
    balance_delta = models.BigIntegerField(_("balance delta"), default=0)
    pending_delta = models.BigIntegerField(_("pending delta"), default=0)
    reserved_delta = models.BigIntegerField(_("reserved delta"), default=0)
    balance_after = models.BigIntegerField(_("balance after"))
    reference = models.CharField(_("reference"), max_length=128, blank=True, default="")
    rule = models.ForeignKey(
        "rules.EarningRule", verbose_name=_("rule"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+"
    )
    reverses = models.ForeignKey(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="reversals"
    )
    actor = models.CharField(_("actor"), max_length=128, help_text=_("Who or what caused it."))
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="")
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["-id"]
        permissions = [("adjust_points", "Can adjust a member's points, with a reason")]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="ledger_entry_points_nonzero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_entry_balance_after_gte_0"
            ),
            # Transfers between buckets move nothing in or out of the member's holdings;
            # every other kind's points are exactly what it added to or took from them.
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["reserve", "release", "available"])
                    & Q(balance_delta=-(F("pending_delta") + F("reserved_delta")))
                )
                | (
                    ~Q(kind__in=["reserve", "release", "available"])
                    & Q(points=F("balance_delta") + F("pending_delta") + F("reserved_delta"))
                ),
                name="ledger_entry_deltas_match_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["earn", "release", "available"]) | Q(points__gt=0),
                name="ledger_entry_credit_kinds_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["redeem", "reserve", "expire", "reverse"]) | Q(points__lt=0),
                name="ledger_entry_debit_kinds_negative",
            ),
        ]
        triggers = [
            # Append-only, even for raw SQL (the check constraints above hold a row's shape;
            # this holds its history). TRUNCATE, which test teardown uses, is not a row event.
            pgtrigger.Protect(name="ledger_entry_append_only",
                              operation=pgtrigger.Update | pgtrigger.Delete),
        ]
        indexes = [
            # Newest first by time, then id. Ordering on created_at (which the primary key
            # cannot provide) keeps the planner on this index even for a member whose entries
            # are all old, where an id-ordered scan of the primary key would walk the table.
            models.Index(
                fields=["member", "-created_at", "-id"], name="ledger_entry_member_newest"
            ),
            models.Index(fields=["merchant", "program", "reference"], name="ledger_entry_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"


class Lot(models.Model):
    """What remains of one credit: consumed first-to-expire first, expires as a whole."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="lots",
    )
    entry = models.OneToOneField(
        Entry, verbose_name=_("entry"), on_delete=models.PROTECT, related_name="lot",
    )
    points = models.BigIntegerField(_("points"))
    remaining = models.BigIntegerField(_("remaining"))
    pending = models.BooleanField(_("pending"), default=False)
    available_at = models.DateTimeField(_("available at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="ledger_lot_points_gt_0"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("points")),
                name="ledger_lot_remaining_within_points",
            ),
        ]
        indexes = [
            models.Index(
                fields=["member", "expires_at", "id"],
                condition=Q(remaining__gt=0),
                name="ledger_lot_open_fifo",
            ),
            models.Index(
                fields=["expires_at"], condition=Q(remaining__gt=0), name="ledger_lot_open_expiry"
            ),
            models.Index(
                fields=["available_at"], condition=Q(pending=True), name="ledger_lot_pending_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Lot {self.pk}: {self.remaining}/{self.points}"


class Hold(models.Model):
    """Points reserved for a redemption: confirmed (spent) or released (given back)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CONFIRMED = "confirmed", _("Confirmed")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    # member, merchant and program: in PostgreSQL one foreign key to the member's (id, program,
    # merchant) key holds all three (loyaltysite.migration_ops.AnchorToMember)
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
        db_constraint=False,
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
        db_constraint=False,
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="holds",
        db_constraint=False,
    )
    points = models.BigIntegerField(_("points"))
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    reference = models.CharField(_("reference"), max_length=128, blank=True, default="")
    # [[lot_id, points], ...]: where the held points came from, so a release puts them back.
    allocations = models.JSONField(_("allocations"), default=list)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"))
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="ledger_hold_points_gt_0"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="ledger_hold_active_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Hold {self.pk}: {self.points} ({self.status})"


class IdempotencyKey(models.Model):
    """The first outcome of a keyed write, replayed for the same request (SPEC 5)."""

    # indexed by the (merchant, key) unique constraint
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
        db_index=False,
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), null=True, on_delete=models.CASCADE,
        related_name="+"
    )
    key = models.CharField(_("key"), max_length=255, help_text=_("'<program id or ->:<key>'"))
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True)
    response_body = models.JSONField(_("response body"), null=True)
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "key"], name="ledger_idempotency_key_unique"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="ledger_idem_created")]
        triggers = [
            # A key's outcome is written once (its row is inserted first, in the transaction of
            # the write, and its outcome set at the end); nothing else about it ever changes.
            pgtrigger.Protect(
                name="ledger_idempotency_outcome_once", operation=pgtrigger.Update,
                condition=(
                    pgtrigger.Q(old__status_code__isnull=False)
                    | pgtrigger.Q(old__key__df=pgtrigger.F("new__key"))
                    | pgtrigger.Q(old__fingerprint__df=pgtrigger.F("new__fingerprint"))
                    | pgtrigger.Q(old__merchant_id__df=pgtrigger.F("new__merchant_id"))
                    | pgtrigger.Q(old__created_at__df=pgtrigger.F("new__created_at"))
                ),
            ),
            # Kept at least 24 hours (SPEC 5); the purge job removes older ones. A claim with no
            # outcome yet is only ever seen by the transaction that made it, which may give it
            # back (a batch's orders that then run one by one: idempotency.release_many).
            pgtrigger.Protect(
                name="ledger_idempotency_kept_24h", operation=pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    "OLD.created_at > NOW() - INTERVAL '24 hours' AND OLD.status_code IS NOT NULL"
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.key
