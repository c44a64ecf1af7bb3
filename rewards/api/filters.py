from __future__ import annotations

import django_filters

from members.models import normalize_card_id
from rewards.models import Redemption, Reward, Voucher


class RewardFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Reward.Kind.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Reward
        fields = ["kind", "is_active"]


class _MemberFilters(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id")
    card_id = django_filters.CharFilter(method="filter_card_id")
    external_id = django_filters.CharFilter(field_name="member__customer__external_id")
    reward = django_filters.NumberFilter(field_name="reward_id")

    def filter_card_id(self, queryset, name, value):
        return queryset.filter(member__card_id=normalize_card_id(value))


class RedemptionFilter(_MemberFilters):
    status = django_filters.ChoiceFilter(choices=Redemption.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Redemption.Kind.choices)
    order_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Redemption
        fields = [
            "status", "kind", "member", "card_id", "external_id", "reward", "order_id",
            "created_after", "created_before",
        ]


class VoucherFilter(_MemberFilters):
    status = django_filters.ChoiceFilter(choices=Voucher.Status.choices)

    class Meta:
        model = Voucher
        fields = ["status", "member", "card_id", "external_id", "reward"]
