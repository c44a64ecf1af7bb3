from __future__ import annotations

import django_filters

from events.catalogue import EVENT_TYPES, GROUPS, group_of, wildcard
from events.models import Delivery, OutboxEvent, WebhookEndpoint
from loyaltysite.api import filters as strict


class WebhookFilter(django_filters.FilterSet):
    is_active = strict.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class DeliveryFilter(django_filters.FilterSet):
    status = strict.ChoiceFilter(choices=Delivery.Status.choices)
    failed_attempts = strict.BooleanFilter(
        method="filter_failed_attempts", help_text="With at least one failed attempt."
    )

    class Meta:
        model = Delivery
        fields = ["status", "failed_attempts"]

    def filter_failed_attempts(self, queryset, name, value):
        failing = queryset.filter(log__succeeded=False).values("pk")
        return queryset.filter(pk__in=failing) if value else queryset.exclude(pk__in=failing)


class EventFilter(django_filters.FilterSet):
    type = strict.ChoiceFilter(
        choices=[(t, t) for t in (*EVENT_TYPES, *(wildcard(g) for g in GROUPS))],
        method="filter_type", help_text="A type, or a group: `points.*`.",
    )
    member = strict.IdFilter(field_name="member_id", help_text="The member's id.")
    created_after = strict.DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="Created at or after this time.")
    created_before = strict.DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                           help_text="Created before this time.")

    class Meta:
        model = OutboxEvent
        fields = ["type", "member", "created_after", "created_before"]

    def filter_type(self, queryset, name, value):
        if value.endswith(".*"):
            group = value[:-2]
            return queryset.filter(type__in=[t for t in EVENT_TYPES if group_of(t) == group])
        return queryset.filter(type=value)
