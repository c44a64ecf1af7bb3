from __future__ import annotations

import django_filters

from loyaltysite.api import filters as strict

from ..models import Tier, TierChange


class TierFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="iexact", help_text="A tier's name (any case).")

    class Meta:
        model = Tier
        fields = ["name"]


class TierChangeFilter(django_filters.FilterSet):
    reason = strict.ChoiceFilter(choices=TierChange.Reason.choices)
    created_after = strict.DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="Changed at or after this time.")
    created_before = strict.DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                           help_text="Changed before this time.")

    class Meta:
        model = TierChange
        fields = ["reason", "created_after", "created_before"]
