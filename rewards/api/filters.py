from __future__ import annotations

import django_filters

from loyaltysite.api import filters as strict
from members.models import normalize_card_id
from rewards.models import Redemption, Reward, Voucher


class RewardFilter(django_filters.FilterSet):
    kind = strict.ChoiceFilter(choices=Reward.Kind.choices)
    is_active = strict.BooleanFilter()

    class Meta:
        model = Reward
        fields = ["kind", "is_active"]


class _MemberFilters(django_filters.FilterSet):
    member = strict.IdFilter(field_name="member_id", help_text="The member's id.")
    card_id = django_filters.CharFilter(method="filter_card_id",
                                        help_text="The member's card id (dashes optional).")
    external_id = django_filters.CharFilter(field_name="member__customer__external_id",
                                            help_text="Your customer id.")
    reward = strict.IdFilter(field_name="reward_id", help_text="The reward's id.")

    def filter_card_id(self, queryset, name, value):
        return queryset.filter(member__card_id=normalize_card_id(value))


class RedemptionFilter(_MemberFilters):
    status = strict.ChoiceFilter(choices=Redemption.Status.choices)
    kind = strict.ChoiceFilter(choices=Redemption.Kind.choices)
    order_id = django_filters.CharFilter()
    created_after = strict.DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="Created at or after this time.")
    created_before = strict.DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                           help_text="Created before this time.")

    class Meta:
        model = Redemption
        fields = [
            "status", "kind", "member", "card_id", "external_id", "reward", "order_id",
            "created_after", "created_before",
        ]


class VoucherFilter(_MemberFilters):
    status = strict.ChoiceFilter(choices=Voucher.Status.choices)

    class Meta:
        model = Voucher
        fields = ["status", "member", "card_id", "external_id", "reward"]
