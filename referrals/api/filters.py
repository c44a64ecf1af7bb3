from __future__ import annotations

import django_filters

from loyaltysite.api import filters as strict
from members.models import normalize_card_id

from ..models import Referral, normalize_referral_code


class ReferralFilter(django_filters.FilterSet):
    referrer = strict.IdFilter(field_name="referrer_id", help_text="The referrer's member id.")
    referrer_card_id = django_filters.CharFilter(method="filter_referrer_card_id",
                                                 help_text="The referrer's card id.")
    referee = strict.IdFilter(field_name="referee_id", help_text="The referred member's id.")
    status = strict.ChoiceFilter(choices=Referral.Status.choices)
    channel = strict.ChoiceFilter(choices=Referral.Channel.choices)
    code = django_filters.CharFilter(method="filter_code", help_text="The referral code.")
    source = django_filters.CharFilter(help_text="What the attribution came with (an order id).")
    created_after = strict.DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="Created at or after this time.")
    created_before = strict.DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                           help_text="Created before this time.")

    class Meta:
        model = Referral
        fields = [
            "referrer", "referrer_card_id", "referee", "status", "channel", "code", "source",
            "created_after", "created_before",
        ]

    def filter_referrer_card_id(self, queryset, name, value):
        return queryset.filter(referrer__card_id=normalize_card_id(value))

    def filter_code(self, queryset, name, value):
        return queryset.filter(code__code=normalize_referral_code(value))
