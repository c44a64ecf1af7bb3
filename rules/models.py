"""Earning: the rules that decide points, and the orders, events and refunds they apply to.

Design
------
* ``EarningRule`` is configuration: common fields (window, priority, stacking, caps, cooldown,
  budget) plus a ``config`` document whose shape depends on ``kind`` and is validated strictly
  by ``rules.config`` before it is stored.
* An order or an event is evaluated by ``rules.engine`` (pure code, no queries) and posted as
  **one** ledger credit for the total, whose ``metadata`` holds the breakdown. Each rule that
  fired also gets an ``Award`` row: caps and cooldowns read them, the console counts them.
* ``Order`` remembers what an order earned and what was refunded, so refunds reverse points in
  proportion and never more than were earned. ``Event`` remembers what an action earned.
* Caps and cooldowns are checked while the member row is locked (``ledger.locking``), budgets
  with a guarded ``UPDATE ... WHERE budget_spent + x <= budget_points``: both hold under
  concurrent requests. Locks are always taken member first, then rule rows in primary-key order.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from loyaltysite.formatting import money_display

MONEY_DIGITS = 15
MONEY_PLACES = 3


class EarningRule(models.Model):
    """One way to earn points in a program (SPEC 6)."""

    class Kind(models.TextChoices):
        ORDER = "order", _("Order")
        CATEGORY = "category", _("Category")
        SKU = "sku", _("Product (SKU)")
        EVENT = "event", _("Event")
        TIER_BONUS = "tier_bonus", _("Tier bonus")
        WELCOME = "welcome", _("Welcome")
        BIRTHDAY = "birthday", _("Birthday")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE,
        related_name="rules",
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.ORDER)
    description = models.CharField(
        _("description"), max_length=255, blank=True, default="",
        help_text=_("Shown to customers; when blank, the rule is described in plain words."),
    )
    is_active = models.BooleanField(_("is active"), default=True)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    priority = models.IntegerField(
        _("priority"), default=0, help_text=_("Higher is considered first."),
    )
    stackable = models.BooleanField(
        _("stackable"), default=True,
        help_text=_("Stackable rules always combine. Of the non-stackable rules that match an "
                    "order or event, only the one with the highest priority fires."),
    )
    max_per_member = models.PositiveIntegerField(
        _("max per member"), null=True, blank=True,
        help_text=_("How many times one member can get it, ever.")
    )
    cooldown_hours = models.PositiveIntegerField(
        _("cooldown hours"), null=True, blank=True,
        help_text=_("Minimum hours between two awards to one member.")
    )
    budget_points = models.PositiveBigIntegerField(
        _("budget points"), null=True, blank=True,
        help_text=_("Total points this rule may award; blank: unlimited.")
    )
    budget_spent = models.BigIntegerField(
        _("budget spent"), default=0, editable=False,
        help_text=_("Points awarded against the budget so far (tracked when a budget is set)."),
    )
    config = models.JSONField(_("config"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), null=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), null=True, editable=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["-priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget_spent__gte=0), name="rules_rule_budget_spent_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(budget_points__isnull=True)
                | Q(budget_spent__lte=F("budget_points")),
                name="rules_rule_budget_not_overspent",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="rules_rule_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=["order", "category", "sku", "event", "tier_bonus", "welcome",
                              "birthday"]
                ),
                name="rules_rule_kind_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["program", "kind"],
                condition=Q(is_active=True, deleted_at__isnull=True),
                name="rules_rule_live",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    """A completed order and what it earned; refunds reduce it."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    # member, merchant and program: in PostgreSQL one foreign key to the member's (id, program,
    # merchant) key holds all three (loyaltysite.migration_ops.AnchorToMember)
    # indexed by rules_order_unique_id (merchant, program, order_id)
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
        db_index=False,
        db_constraint=False,
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
        db_constraint=False,
    )
    # indexed by rules_order_member_recent (member, -id)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    order_id = models.CharField(_("order id"), max_length=128)
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.DecimalField(
        _("amount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES,
        help_text=_("What the customer paid in money: the amount that earns."),
    )
    points_discount = models.DecimalField(
        _("points discount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0,
        help_text=_("The part of the order paid with points (earns nothing)."),
    )
    items = models.JSONField(_("items"), default=list, blank=True)
    points_earned = models.BigIntegerField(_("points earned"), default=0)
    points_reversed = models.BigIntegerField(_("points reversed"), default=0)
    points_shortfall = models.BigIntegerField(
        _("points shortfall"), default=0,
        help_text=_("Points a refund should have taken back but the member had spent.")
    )
    amount_refunded = models.DecimalField(
        _("amount refunded"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.COMPLETED)
    awards = models.JSONField(
        _("awards"), default=list, blank=True, help_text=_("The award breakdown."),
    )
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    actor = models.CharField(_("actor"), max_length=128, blank=True, default="")
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "order_id"], name="rules_order_unique_id"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="rules_order_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(points_discount__gte=0), name="rules_order_points_discount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="rules_order_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(points_earned__gte=0), name="rules_order_points_earned_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0)
                & Q(points_shortfall__gte=0)
                & Q(points_earned__gte=F("points_reversed") + F("points_shortfall")),
                name="rules_order_reversal_within_earned",
            ),
        ]
        indexes = [models.Index(fields=["member", "-id"], name="rules_order_member_recent")]

    def __str__(self) -> str:
        return f"Order {self.order_id}"

    @property
    def refundable(self):
        return self.amount - self.amount_refunded


class Refund(models.Model):
    """One refund of an order (whole or part) and the points it took back."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds",
    )
    amount = models.DecimalField(_("amount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    items = models.JSONField(_("items"), default=list, blank=True)
    points_reversed = models.BigIntegerField(_("points reversed"), default=0)
    points_shortfall = models.BigIntegerField(_("points shortfall"), default=0)
    points_returned = models.BigIntegerField(
        _("points returned"), default=0,
        help_text=_("Points that had paid part of the order, given back.")
    )
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="")
    actor = models.CharField(_("actor"), max_length=128, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="rules_refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"Refund {money_display(self.amount, self.order.currency)}"


class Event(models.Model):
    """A customer action (review, check-in, ...) and what it earned."""

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
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="events",
        db_constraint=False,
    )
    event_id = models.CharField(_("event id"), max_length=128, blank=True, default="")
    type = models.CharField(_("type"), max_length=64)
    outcome = models.CharField(_("outcome"), max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=64, blank=True, default="")
    scope = models.CharField(_("scope"), max_length=128, blank=True, default="")
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    points_earned = models.BigIntegerField(_("points earned"), default=0)
    awards = models.JSONField(_("awards"), default=list, blank=True)
    failed = models.BooleanField(
        _("failed"), default=False, help_text=_("Evaluation failed: logged, nothing awarded.")
    )
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    actor = models.CharField(_("actor"), max_length=128, blank=True, default="")
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "event_id"], condition=~Q(event_id=""),
                name="rules_event_unique_id",
            ),
        ]
        indexes = [models.Index(fields=["member", "-id"], name="rules_event_member_recent")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}".strip()


class Award(models.Model):
    """One rule firing for one member. Caps, cooldowns and the console's counts read these."""

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
    # indexed by rules_award_member_rule (member, rule, -created_at)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="awards",
        db_index=False,
        db_constraint=False,
    )
    # indexed by rules_award_rule (rule, created_at)
    rule = models.ForeignKey(
        EarningRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="awards",
        db_index=False,
    )
    points = models.BigIntegerField(_("points"))
    order = models.ForeignKey(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="rule_awards"
    )
    event = models.ForeignKey(
        Event, verbose_name=_("event"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="rule_awards"
    )
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="rules_award_points_gt_0"),
        ]
        indexes = [
            models.Index(fields=["member", "rule", "-created_at"], name="rules_award_member_rule"),
            models.Index(fields=["rule", "created_at"], name="rules_award_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.points:+d}"
