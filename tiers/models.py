"""Tiers, levels and streaks: the status ladder members climb (SPEC 7).

Design
------
* ``Tier``: one rung of a program's ladder. ``rank`` orders the rungs (higher is better) and
  the thresholds rise with it; what a threshold counts is the program's ``TierSettings.basis``
  (lifetime points, points earned in a rolling window, or money spent in one).
* The member row carries the cached standing (``Member.tier``, ``tier_value``, ``tier_offset``,
  ``streak`` and the ``streak_*`` dates), written only by ``tiers.services`` and read on every
  render of a member without another query. ``tier_value`` is the rolling-window figure
  (``Qualifying`` buckets summed over the window); ``tier_offset`` is what a long streak pause
  held back from the qualifying figure, so a member stepped down earns the gap back.
* Up at once, down slowly: an earn that crosses a threshold lifts the member in the earn's
  transaction (``tiers.hooks``); only the scheduled evaluation lowers, after the program's
  grace period below the threshold, one rung per evaluation period (``Standing`` remembers
  since when and the last step). A manual ``TierOverride`` pins the tier until it ends.
* ``TierChange`` is the append-only history of every change, with why and who.
* Streaks count consecutive active cycles (day, week or month in the program's time zone).
  ``StreakPause`` rows record pauses (their count per year is limited); ``StreakReward`` rows
  record milestone payouts, one per member per cycle (a unique constraint, so a race pays once).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

COLOUR = RegexValidator(r"^#[0-9A-Fa-f]{6}$", _("A colour such as #C9A227."))
# Fair pause rules (seed 003, SPEC 7): up to FREEZE days keeps the count, up to RESET days
# resets it, anything longer also lowers the tier by one.
PAUSE_FREEZE_DAYS = 15
PAUSE_RESET_DAYS = 45


class Tier(models.Model):
    """One rung of a program's ladder and what it gives."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE,
        related_name="tiers",
    )
    name = models.CharField(_("name"), max_length=64)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0, help_text=_("Higher is better."))
    threshold_points = models.PositiveBigIntegerField(
        _("threshold points"), default=0,
        help_text=_("Points needed (lifetime, or in the window) for a points basis."),
    )
    threshold_amount = models.DecimalField(
        _("threshold amount"), max_digits=14, decimal_places=2, default=Decimal(0),
        help_text=_("Money spent in the window, for a spend basis."),
    )
    earn_multiplier = models.DecimalField(
        _("earn multiplier"), max_digits=6, decimal_places=3, default=Decimal("1"),
        help_text=_("Orders earn this many times the base rate (1 = no bonus)."),
    )
    perks = models.TextField(_("perks"), blank=True, default="")
    colour = models.CharField(_("colour"), max_length=7, default="#8A8F98", validators=[COLOUR])
    streak_multiplier = models.DecimalField(
        _("streak multiplier"), max_digits=6, decimal_places=3, default=Decimal("1"),
        help_text=_("Streak rewards at this tier: the base reward times this."),
    )
    streak_bonus_points = models.PositiveIntegerField(
        _("streak bonus points"), default=0,
        help_text=_("Points added to each streak reward at this tier."),
    )

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "rank"]
        permissions = [
            ("override_tier", "Can set or clear a member's tier override"),
            ("pause_streak", "Can pause and resume a member's streak"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "name"], name="tier_unique_name_per_program"
            ),
            models.UniqueConstraint(
                fields=["merchant", "program", "rank"], name="tier_unique_rank_per_program"
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=0), name="tier_earn_multiplier_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(streak_multiplier__gte=0), name="tier_streak_multiplier_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(threshold_amount__gte=0), name="tier_threshold_amount_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TierSettings(models.Model):
    """A program's ladder and streak rules (one row per program; defaults when absent)."""

    class Basis(models.TextChoices):
        LIFETIME_POINTS = "lifetime_points", _("Lifetime points")
        WINDOW_POINTS = "window_points", _("Points earned in a rolling window")
        WINDOW_SPEND = "window_spend", _("Money spent in a rolling window")

    class Cycle(models.TextChoices):
        OFF = "off", _("No streaks")
        DAY = "day", _("Day")
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")

    class Activity(models.TextChoices):
        ANY = "any", _("Any order or earn (automatic awards excepted)")
        ORDERS = "orders", _("Orders only")
        EVENT_TYPES = "event_types", _("Chosen event types ('order' counts orders)")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.OneToOneField(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE,
        related_name="tier_settings"
    )
    basis = models.CharField(
        _("basis"), max_length=16, choices=Basis, default=Basis.LIFETIME_POINTS,
    )
    window_months = models.PositiveSmallIntegerField(
        _("window months"), default=12, validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("The rolling window of a window basis, in months."),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"), default=30, validators=[MaxValueValidator(730)],
        help_text=_("Days a member may stay below their tier's threshold before stepping down."),
    )
    evaluation_days = models.PositiveSmallIntegerField(
        _("evaluation days"), default=30, validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text=_("At most one step down per this many days."),
    )
    streak_cycle = models.CharField(
        _("streak cycle"), max_length=8, choices=Cycle, default=Cycle.OFF,
    )
    streak_activity = models.CharField(
        _("streak activity"), max_length=16, choices=Activity, default=Activity.ANY,
    )
    streak_event_types = models.JSONField(_("streak event types"), default=list, blank=True)
    pauses_per_year = models.PositiveSmallIntegerField(
        _("pauses per year"), default=2, validators=[MaxValueValidator(52)],
        help_text=_("Pauses a member may start in any 12 months."),
    )
    max_pause_days = models.PositiveSmallIntegerField(
        _("max pause days"), default=90, validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    milestone_every = models.PositiveSmallIntegerField(
        _("milestone every"), default=0, validators=[MaxValueValidator(1000)],
        help_text=_("A streak reward every this many cycles (0: no rewards)."),
    )
    milestone_points = models.PositiveIntegerField(
        _("milestone points"), default=0, validators=[MaxValueValidator(1_000_000)],
        help_text=_("Base reward per cycle of the streak count, before the tier's policy."),
    )
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("tier and streak settings")
        verbose_name_plural = _("tier and streak settings")

    def __str__(self) -> str:
        return f"Tier and streak settings of {self.program}"

    @property
    def streaks_on(self) -> bool:
        return self.streak_cycle != self.Cycle.OFF


class TierChange(models.Model):
    """One change of a member's tier. Append-only."""

    class Reason(models.TextChoices):
        ENROLLED = "enrolled", _("Enrolled")
        EARNED = "earned", _("Earned")
        EVALUATED = "evaluated", _("Evaluated")
        OVERRIDE = "override", _("Override")
        OVERRIDE_ENDED = "override_ended", _("Override ended")
        STREAK_PAUSE = "streak_pause", _("Streak pause")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE,
        related_name="tier_changes"
    )
    from_tier = models.ForeignKey(
        Tier, verbose_name=_("from tier"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, verbose_name=_("to tier"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    # The names as they were: a tier renamed or deleted later leaves the history readable.
    from_name = models.CharField(_("from name"), max_length=64, blank=True, default="")
    to_name = models.CharField(_("to name"), max_length=64, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=16, choices=Reason)
    actor = models.CharField(_("actor"), max_length=128)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="tier_change_member_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.from_name or '-'} → {self.to_name or '-'} ({self.reason})"


class TierOverride(models.Model):
    """A tier set by hand: evaluation leaves the member alone until it ends."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE,
        related_name="tier_overrides"
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), null=True, on_delete=models.SET_NULL,
        related_name="overrides",
        help_text=_("Empty only once the tier was deleted after the override ended."),
    )
    previous_tier = models.ForeignKey(
        Tier, verbose_name=_("previous tier"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=255)
    actor = models.CharField(_("actor"), max_length=128)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.CharField(_("ended by"), max_length=128, blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(ended_at__isnull=True),
                name="tier_override_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("created_at")),
                name="tier_override_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=False) | Q(tier__isnull=False),
                name="tier_override_open_has_tier",
            ),
        ]
        indexes = [
            models.Index(
                fields=["ends_at"], condition=Q(ended_at__isnull=True),
                name="tier_override_open_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier} for {self.member_id}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Standing(models.Model):
    """Evaluation bookkeeping for a member below their tier's threshold (or just stepped down).

    Rows exist only for members the evaluation is watching, so the table stays small.
    """

    member = models.OneToOneField(
        "members.Member", verbose_name=_("member"), primary_key=True, on_delete=models.CASCADE,
        related_name="+"
    )
    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    below_since = models.DateTimeField(_("below since"), null=True, blank=True)
    stepped_down_at = models.DateTimeField(_("stepped down at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("standing")
        verbose_name_plural = _("standings")

    def __str__(self) -> str:
        return f"Standing of {self.member_id}"


class Qualifying(models.Model):
    """What a member earned (points) and spent (money) on one day: the rolling-window sums.

    Written only for programs with a window basis; the day is in the program's time zone.
    """

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="+",
    )
    day = models.DateField(_("day"))
    points = models.BigIntegerField(_("points"), default=0)
    spend = models.DecimalField(_("spend"), max_digits=18, decimal_places=2, default=Decimal(0))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("qualifying")
        verbose_name_plural = _("qualifying days")
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="tier_qualifying_member_day"),
        ]
        indexes = [models.Index(fields=["program", "day"], name="tier_qualifying_program_day")]

    def __str__(self) -> str:
        return f"{self.member_id} on {self.day}"


class StreakPause(models.Model):
    """One pause of a member's streak, from its start to its resumption."""

    class Outcome(models.TextChoices):
        FROZEN = "frozen", _("Streak kept")
        RESET = "reset", _("Streak reset")
        RESET_AND_LOWERED = "lowered", _("Streak reset, tier lowered")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE,
        related_name="streak_pauses"
    )
    started_on = models.DateField(_("started on"))
    until = models.DateField(_("until"))
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="")
    actor = models.CharField(_("actor"), max_length=128)
    created_at = models.DateTimeField(_("created at"))
    resumed_on = models.DateField(_("resumed on"), null=True, blank=True)
    resumed_by = models.CharField(_("resumed by"), max_length=128, blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome, blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("streak pause")
        verbose_name_plural = _("streak pauses")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(resumed_on__isnull=True),
                name="streak_pause_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=Q(until__gt=F("started_on")), name="streak_pause_until_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "started_on"], name="streak_pause_member_started"),
            models.Index(
                fields=["until"], condition=Q(resumed_on__isnull=True), name="streak_pause_open_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Pause {self.started_on}–{self.until}"


class StreakReward(models.Model):
    """A milestone reward paid: at most one per member per cycle, whoever races to pay it."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE,
        related_name="streak_rewards"
    )
    cycle = models.DateField(
        _("cycle"), help_text=_("First day of the cycle the milestone was reached in."),
    )
    count = models.PositiveIntegerField(_("count"))
    points = models.PositiveIntegerField(_("points"))
    tier_name = models.CharField(_("tier name"), max_length=64, blank=True, default="")
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    created_at = models.DateTimeField(_("created at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("streak reward")
        verbose_name_plural = _("streak rewards")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "member", "cycle"], name="streak_reward_once_per_cycle"
            ),
        ]

    def __str__(self) -> str:
        return f"Streak {self.count}: {self.points}"
