"""The earning rule form of the merchant console, with its "Try it" sample."""

from __future__ import annotations

import copy
import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextareaWidget

from loyaltysite.errors import LoyaltyError
from members.forms import MerchantScopedForm

from .models import EarningRule
from .services import rule_clean, rule_try
from .services.rules import RULE_FIELDS

SAMPLE_HELP = _(
    'An order, e.g. {"amount": "25.00", "items": [{"sku": "ESP-1", "category": "coffee", '
    '"quantity": 2, "price": "12.50"}]} (add "tier": <tier id> for a tier bonus), or an event, '
    'e.g. {"type": "review", "outcome": "approved", "metadata": {"stars": 5}}.'
)


class EarningRuleForm(MerchantScopedForm):
    """Checks the rule exactly as the API does; "Try it" evaluates it without saving.

    ``trying`` is set by the admin when the "Try it" button was pressed: the form then runs the
    sample through the same evaluation as orders and events and, on purpose, does not validate,
    so nothing is saved and the page shows the result next to the unsaved changes.
    """

    merchant_source = "program"
    trying = False

    config = forms.JSONField(
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
        help_text=_("Depends on the kind: see the reference below."),
    )
    try_sample = forms.CharField(
        label=_("Sample order or event (JSON)"), required=False, help_text=SAMPLE_HELP,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 4}),
    )

    class Meta:
        model = EarningRule
        fields = [
            "program", "name", "kind", "description", "is_active", "starts_at", "ends_at",
            "priority", "stackable", "max_per_member", "cooldown_hours", "budget_points",
            "config",
        ]

    try_result: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        program = cleaned.get("program") or getattr(self.instance, "program", None)
        if self.errors or program is None:
            return cleaned
        candidate = copy.copy(self.instance)
        candidate.program = program
        for name in RULE_FIELDS:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            rule_clean(candidate)
        except LoyaltyError as error:
            field = (error.field or "").split(".")[0].split("[")[0]
            self.add_error(field if field in self.fields else None, error.detail)
            return cleaned
        cleaned["config"] = candidate.config
        if self.trying:
            self._try(candidate)
        return cleaned

    def _try(self, candidate: EarningRule) -> None:
        raw = (self.cleaned_data.get("try_sample") or "").strip()
        try:
            sample = json.loads(raw or "{}")
        except ValueError as error:
            self.add_error("try_sample", _("Not valid JSON: %(error)s") % {"error": error})
            return
        if not isinstance(sample, dict):
            self.add_error("try_sample", _("The sample must be a JSON object."))
            return
        tier = sample.pop("tier", None)
        try:
            self.try_result = rule_try(rule=candidate, sample=sample,
                                       tier_id=tier if isinstance(tier, int) else None)
        except (LoyaltyError, ValueError, TypeError, ArithmeticError, KeyError) as error:
            detail = getattr(error, "detail", None) or str(error)
            self.add_error("try_sample", _("The sample cannot be evaluated: %(detail)s")
                           % {"detail": detail})
            return
        # Never saved: the page comes back with the result and the unsaved changes.
        raise forms.ValidationError(
            _("Tried against the sample; nothing was saved. Press Save to keep the rule."),
            code="tried",
        )
