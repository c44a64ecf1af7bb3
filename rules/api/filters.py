"""List filters of the earning API."""

from __future__ import annotations

import django_filters

from loyaltysite.api import filters as strict
from members.models import normalize_card_id

from ..models import EarningRule, Order


class RuleFilter(django_filters.FilterSet):
    kind = strict.ChoiceFilter(choices=EarningRule.Kind.choices)
    is_active = strict.BooleanFilter()

    class Meta:
        model = EarningRule
        fields = ["kind", "is_active"]


class OrderFilter(django_filters.FilterSet):
    member = strict.IdFilter(field_name="member_id", help_text="The member's id.")
    card_id = django_filters.CharFilter(method="filter_card_id",
                                        help_text="The member's card id (dashes optional).")
    external_id = django_filters.CharFilter(field_name="member__customer__external_id",
                                            help_text="Your customer id.")
    status = strict.ChoiceFilter(choices=Order.Status.choices)
    created_after = strict.DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="Recorded at or after this time.")
    created_before = strict.DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                           help_text="Recorded before this time.")

    class Meta:
        model = Order
        fields = ["member", "card_id", "external_id", "status", "created_after",
                  "created_before"]

    def filter_card_id(self, queryset, name, value):
        return queryset.filter(member__card_id=normalize_card_id(value))
