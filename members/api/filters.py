from __future__ import annotations

import django_filters

from members.models import Member, normalize_card_id


class MemberFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(field_name="customer__external_id")
    card_id = django_filters.CharFilter(method="filter_card_id")
    status = django_filters.ChoiceFilter(choices=Member.Status.choices)
    tier = django_filters.CharFilter(method="filter_tier")
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact")

    class Meta:
        model = Member
        fields = ["external_id", "card_id", "status", "tier", "email"]

    def filter_card_id(self, queryset, name, value):
        return queryset.filter(card_id=normalize_card_id(value))

    def filter_tier(self, queryset, name, value):
        if value.isdigit():
            return queryset.filter(tier_id=int(value))
        if value.lower() in {"none", "null"}:
            return queryset.filter(tier__isnull=True)
        return queryset.filter(tier__name__iexact=value)
