from __future__ import annotations

import django_filters

from loyaltysite.api import filters as strict
from loyaltysite.ids import is_ascii_digits, parse_id
from members.models import Member, normalize_card_id


class MemberFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(field_name="customer__external_id",
                                            help_text="Your customer id.")
    card_id = django_filters.CharFilter(method="filter_card_id",
                                        help_text="Card id, with or without dashes, any case.")
    status = strict.ChoiceFilter(choices=Member.Status.choices)
    tier = django_filters.CharFilter(method="filter_tier",
                                     help_text="Tier id or name; `none` for no tier.")
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact",
                                      help_text="E-mail address (any case).")

    class Meta:
        model = Member
        fields = ["external_id", "card_id", "status", "tier", "email"]

    def filter_card_id(self, queryset, name, value):
        return queryset.filter(card_id=normalize_card_id(value))

    def filter_tier(self, queryset, name, value):
        if is_ascii_digits(value):
            tier_id = parse_id(value)
            return queryset.filter(tier_id=tier_id) if tier_id else queryset.none()
        if value.lower() in {"none", "null"}:
            return queryset.filter(tier__isnull=True)
        return queryset.filter(tier__name__iexact=value)
