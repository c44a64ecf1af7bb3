"""List filters of the earning API."""

from __future__ import annotations

import django_filters

from ..models import EarningRule, Order


class RuleFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EarningRule.Kind.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = EarningRule
        fields = ["kind", "is_active"]


class OrderFilter(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)

    class Meta:
        model = Order
        fields = ["member", "status"]
