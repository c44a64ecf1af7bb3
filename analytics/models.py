"""Pre-aggregated analytics (SPEC 12): per merchant, per program, per day.

Design
------
* ``ProgramDay`` holds one program's flows of one day (in the program's time zone): points
  issued, redeemed, expired; members enrolled; orders, revenue and repeat orders; referral
  codes shared, referees enrolled, conversions. ``RuleDay`` and ``RewardDay`` break the points
  down by earning rule and by reward.
* ``ProgramSnapshot`` holds the program's standing when the job ran (members, active members,
  points outstanding split spendable / pending / reserved, the tier mix) and the highest id of
  each insert-only source it had seen (``watermarks``). The dashboard adds what came after them
  (a primary-key range: cheap) to show today live.
* ``analytics.jobs.rollup`` rewrites whole days: running it twice, or re-running a day, writes
  the same rows. These tables are derived data, written only by ``analytics.services``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class ProgramDay(models.Model):
    """One program's flows on one day (the program's time zone)."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    day = models.DateField(_("day"))
    issued = models.BigIntegerField(
        _("issued"), default=0, help_text=_("Earned, and added by adjustments."),
    )
    redeemed = models.BigIntegerField(_("redeemed"), default=0)
    expired = models.BigIntegerField(_("expired"), default=0)
    reversed = models.BigIntegerField(
        _("reversed"), default=0, help_text=_("Taken back by order refunds."),
    )
    adjusted_out = models.BigIntegerField(
        _("adjusted out"), default=0, help_text=_("Removed by adjustments."),
    )
    enrolled = models.IntegerField(_("enrolled"), default=0)
    orders = models.IntegerField(_("orders"), default=0)
    repeat_orders = models.IntegerField(
        _("repeat orders"), default=0, help_text=_("Orders of members who had ordered before.")
    )
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=3, default=0)
    refunded = models.DecimalField(_("refunded"), max_digits=18, decimal_places=3, default=0)
    codes_shared = models.IntegerField(_("codes shared"), default=0)
    referred = models.IntegerField(_("referred"), default=0)
    converted = models.IntegerField(_("converted"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["program", "day"]
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day"], name="analytics_programday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day}"


class RuleDay(models.Model):
    """What one earning rule awarded on one day."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    day = models.DateField(_("day"))
    rule = models.ForeignKey(
        "rules.EarningRule", verbose_name=_("rule"), on_delete=models.CASCADE, related_name="+",
    )
    awards = models.IntegerField(_("awards"), default=0)
    points = models.BigIntegerField(_("points"), default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("rule day")
        verbose_name_plural = _("rule days")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day", "rule"], name="analytics_ruleday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} {self.day}"


class RewardDay(models.Model):
    """What one reward's confirmed redemptions took on one day."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    day = models.DateField(_("day"))
    reward = models.ForeignKey(
        "rewards.Reward", verbose_name=_("reward"), on_delete=models.CASCADE, related_name="+",
    )
    redemptions = models.IntegerField(_("redemptions"), default=0)
    points = models.BigIntegerField(_("points"), default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("reward day")
        verbose_name_plural = _("reward days")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day", "reward"], name="analytics_rewardday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"reward {self.reward_id} {self.day}"


class ProgramSnapshot(models.Model):
    """A program's standing when the rollup job ran (one row per program and day)."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+",
    )
    day = models.DateField(_("day"))
    taken_at = models.DateTimeField(_("taken at"))
    members = models.IntegerField(_("members"), default=0)
    active_status = models.IntegerField(
        _("active status"), default=0, help_text=_("Members whose status is active."),
    )
    active_30 = models.IntegerField(
        _("active 30"), default=0, help_text=_("Members with activity in 30 days."),
    )
    active_90 = models.IntegerField(
        _("active 90"), default=0, help_text=_("Members with activity in 90 days."),
    )
    spendable = models.BigIntegerField(_("spendable"), default=0)
    pending = models.BigIntegerField(_("pending"), default=0)
    reserved = models.BigIntegerField(_("reserved"), default=0)
    # [{"tier": id or null, "members": n}, ...]
    tiers = models.JSONField(_("tiers"), default=list)
    # {"entry": id, "member": id, "order": id, "refund": id, "award": id}: the highest id of
    # each insert-only source the figures include.
    watermarks = models.JSONField(_("watermarks"), default=dict)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("program snapshot")
        verbose_name_plural = _("program snapshots")
        ordering = ["program", "-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day"], name="analytics_snapshot_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} at {self.taken_at}"
