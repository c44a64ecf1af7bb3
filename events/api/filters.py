from __future__ import annotations

import django_filters
from django import forms

from events.catalogue import EVENT_TYPES, GROUPS, group_of, wildcard
from events.models import Delivery, OutboxEvent, WebhookEndpoint
from loyaltysite.ids import parse_id


class IdField(forms.CharField):
    """An id as ``loyaltysite.ids.parse_id`` reads it (ASCII digits within a bigint)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        parsed = parse_id(value)
        if parsed is None:
            raise forms.ValidationError("Enter a valid id.", code="invalid")
        return parsed


class IdFilter(django_filters.Filter):
    field_class = IdField


class WebhookFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    failed_attempts = django_filters.BooleanFilter(
        method="filter_failed_attempts", label="With at least one failed attempt"
    )

    class Meta:
        model = Delivery
        fields = ["status", "failed_attempts"]

    def filter_failed_attempts(self, queryset, name, value):
        failing = queryset.filter(log__succeeded=False).values("pk")
        return queryset.filter(pk__in=failing) if value else queryset.exclude(pk__in=failing)


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(
        choices=[(t, t) for t in (*EVENT_TYPES, *(wildcard(g) for g in GROUPS))],
        method="filter_type",
    )
    member = IdFilter(field_name="member_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = OutboxEvent
        fields = ["type", "member", "created_after", "created_before"]

    def filter_type(self, queryset, name, value):
        if value.endswith(".*"):
            group = value[:-2]
            return queryset.filter(type__in=[t for t in EVENT_TYPES if group_of(t) == group])
        return queryset.filter(type=value)
