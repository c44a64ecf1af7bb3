"""Earning rules (filled in by the earning issue); ledger entries may point at a rule."""

from django.db import models
from django_scopes import ScopedManager


class EarningRule(models.Model):
    merchant = models.ForeignKey("members.Merchant", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey("members.Program", on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)

    objects = ScopedManager(merchant="merchant")

    def __str__(self) -> str:
        return self.name
