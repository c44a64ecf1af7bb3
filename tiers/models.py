"""Tier definitions. This issue only needs the row members point at; evaluation comes later."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager


class Tier(models.Model):
    merchant = models.ForeignKey("members.Merchant", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField(default=0, help_text="Higher is better.")
    threshold_points = models.PositiveBigIntegerField(default=0)
    earn_multiplier = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("1"))
    perks = models.TextField(blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "name"], name="tier_unique_name_per_program"
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=0), name="tier_earn_multiplier_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name
