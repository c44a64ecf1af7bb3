"""Tiers in the merchant console: Owners edit them, Managers read them."""

from __future__ import annotations

from django.contrib import admin

from members.admin import MerchantScopedAdmin

from .models import Tier


@admin.register(Tier)
class TierAdmin(MerchantScopedAdmin):
    merchant_source = "program"
    list_display = ["name", "program", "rank", "threshold_points", "earn_multiplier"]
    list_filter = ["program"]
    list_select_related = ["program"]
    search_fields = ["name"]
    ordering = ["program", "rank"]
    fields = ["program", "name", "rank", "threshold_points", "earn_multiplier", "perks"]
