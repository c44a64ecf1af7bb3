"""The console's webhook endpoint form: the event types as check boxes, the URL checked the
way the service checks it (a field error, not a failed save)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from loyaltysite.errors import LoyaltyError
from members.forms import MerchantScopedForm

from .catalogue import CATALOGUE, SUBSCRIBABLE_GROUPS, SUBSCRIBABLE_TYPES, wildcard
from .models import WebhookEndpoint
from .services import endpoint_url_check


def _choices() -> list[tuple[str, str]]:
    groups = [(wildcard(g), _("Every %(group)s event") % {"group": g})
              for g in SUBSCRIBABLE_GROUPS]
    types = [(t, f"{t}: {CATALOGUE[t][0]}") for t in SUBSCRIBABLE_TYPES]
    return groups + types


class WebhookEndpointForm(MerchantScopedForm):
    event_types = forms.MultipleChoiceField(
        choices=_choices, required=False, widget=forms.CheckboxSelectMultiple,
        label=_("Event types"),
        help_text=_("Leave all unticked to receive every event."),
    )

    url = forms.URLField(max_length=2000, assume_scheme="https", label=_("URL"),
                         help_text=_("Where events are POSTed, e.g. "
                                     "https://crm.example.com/hooks/loyalty"))

    class Meta:
        model = WebhookEndpoint
        fields = ["merchant", "url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            return endpoint_url_check(url)
        except LoyaltyError as error:
            raise forms.ValidationError(error.detail) from None
