from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from loyaltysite.ids import parse_id
from members.models import normalize_card_id

from ..models import Referral, normalize_referral_code


class IdField(forms.CharField):
    """A row id in ASCII digits (``loyaltysite.ids.parse_id``), refused as a field error."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        pk = parse_id(value)
        if pk is None:
            raise forms.ValidationError(_("Enter a valid id."), code="invalid")
        return pk


class IdFilter(django_filters.Filter):
    field_class = IdField


class ReferralFilter(django_filters.FilterSet):
    referrer = IdFilter(field_name="referrer_id")
    referrer_card_id = django_filters.CharFilter(method="filter_referrer_card_id")
    referee = IdFilter(field_name="referee_id")
    status = django_filters.ChoiceFilter(choices=Referral.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Referral.Channel.choices)
    code = django_filters.CharFilter(method="filter_code")
    source = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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
