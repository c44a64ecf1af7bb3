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
from django_scopes import ScopedManager


class ProgramDay(models.Model):
    """One program's flows on one day (the program's time zone)."""

    merchant = models.ForeignKey("members.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    issued = models.BigIntegerField(default=0, help_text="Earned, and added by adjustments.")
    redeemed = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0, help_text="Taken back by order refunds.")
    adjusted_out = models.BigIntegerField(default=0, help_text="Removed by adjustments.")
    enrolled = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    repeat_orders = models.IntegerField(
        default=0, help_text="Orders of members who had ordered before."
    )
    revenue = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    refunded = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    codes_shared = models.IntegerField(default=0)
    referred = models.IntegerField(default=0)
    converted = models.IntegerField(default=0)
    computed_at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["program", "day"]
        verbose_name = "daily figures"
        verbose_name_plural = "daily figures"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day"], name="analytics_programday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day}"


class RuleDay(models.Model):
    """What one earning rule awarded on one day."""

    merchant = models.ForeignKey("members.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    rule = models.ForeignKey("rules.EarningRule", on_delete=models.CASCADE, related_name="+")
    awards = models.IntegerField(default=0)
    points = models.BigIntegerField(default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day", "rule"], name="analytics_ruleday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} {self.day}"


class RewardDay(models.Model):
    """What one reward's confirmed redemptions took on one day."""

    merchant = models.ForeignKey("members.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reward = models.ForeignKey("rewards.Reward", on_delete=models.CASCADE, related_name="+")
    redemptions = models.IntegerField(default=0)
    points = models.BigIntegerField(default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day", "reward"], name="analytics_rewardday_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"reward {self.reward_id} {self.day}"


class ProgramSnapshot(models.Model):
    """A program's standing when the rollup job ran (one row per program and day)."""

    merchant = models.ForeignKey("members.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    taken_at = models.DateTimeField()
    members = models.IntegerField(default=0)
    active_status = models.IntegerField(default=0, help_text="Members whose status is active.")
    active_30 = models.IntegerField(default=0, help_text="Members with activity in 30 days.")
    active_90 = models.IntegerField(default=0, help_text="Members with activity in 90 days.")
    spendable = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    # [{"tier": id or null, "members": n}, ...]
    tiers = models.JSONField(default=list)
    # {"entry": id, "member": id, "order": id, "refund": id, "award": id}: the highest id of
    # each insert-only source the figures include.
    watermarks = models.JSONField(default=dict)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["program", "-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "day"], name="analytics_snapshot_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} at {self.taken_at}"
