"""The earning rule form of the merchant console, with its "Try it" sample.

No JSON to write: the form shows the fields of the rule's kind (``KIND_FIELDS``, from
``rules.config.SHAPES``: multiplier or points per unit, minimum amount, categories, SKUs, event
type, tier, and the event's conditions as rows of field / operator / value) and builds the
``config`` document itself; ``rules.config.validate_config`` then checks it exactly as the API
does, and its complaints land on the field they name. ``static/rules/rule_form.js`` shows
only the current kind's fields (without JavaScript every field shows; those of other kinds
are ignored).
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from loyaltysite.errors import LoyaltyError
from members.forms import MerchantScopedForm
from tiers.models import Tier

from .config import MAX_CONDITIONS, SHAPES
from .models import EarningRule
from .services import rule_clean, rule_try
from .services.rules import RULE_FIELDS

SAMPLE_HELP = _(
    'An order, e.g. {"amount": "25.00", "items": [{"sku": "ESP-1", "category": "coffee", '
    '"quantity": 2, "price": "12.50"}]} (add "tier": <tier id> for a tier bonus), or an event, '
    'e.g. {"type": "review", "outcome": "approved", "metadata": {"stars": 5}}.'
)

CONDITION_ROWS = MAX_CONDITIONS
CONDITION_KEYS = ("field", "op", "value")
# The operators a row offers, as ``rules.config`` writes them (``missing`` is ``exists: false``).
OPERATOR_CHOICES = [
    ("", _("---------")),
    ("eq", _("is")),
    ("ne", _("is not")),
    ("in", _("is one of")),
    ("not_in", _("is none of")),
    ("gt", _("is more than")),
    ("gte", _("is at least")),
    ("lt", _("is less than")),
    ("lte", _("is at most")),
    ("exists", _("is present")),
    ("missing", _("is absent")),
]
LIST_SPLIT = re.compile(r"[,\n]")


def condition_names(index: int) -> tuple[str, str, str]:
    return tuple(f"cond_{index}_{key}" for key in CONDITION_KEYS)  # type: ignore[return-value]


def _kind_fields() -> dict[str, list[str]]:
    """The form fields each kind shows (its config keys; ``conditions`` is the rows)."""
    return {
        str(kind): [key for group in shape for key in group]
        for kind, shape in SHAPES.items()
    }


KIND_FIELDS = _kind_fields()
CONFIG_FIELDS = ("multiplier", "points_per_unit", "points", "points_per_item", "min_amount",
                 "categories", "skus", "event_type", "tier")


def _parse_scalar(text: str) -> Any:
    """A typed value as a merchant writes it: ``5`` and ``4.5`` are numbers, ``true`` and
    ``false`` booleans, ``"5"`` (quoted) the text 5, anything else text."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d{1,15}\.\d{1,10}", text):
        return float(text)
    return text


def _show_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _parse_scalar(value) != value:
        return f'"{value}"'  # text that would read as a number or boolean
    return "" if value is None else str(value)


def conditions_to_rows(conditions: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A saved ``conditions`` document as form rows ``(field, operator, value)``."""
    rows = []
    for key, expected in (conditions or {}).items():
        if isinstance(expected, list):
            rows.append((key, "in", ", ".join(_show_scalar(v) for v in expected)))
        elif isinstance(expected, dict) and len(expected) == 1:
            (op, operand), = expected.items()
            if op == "exists":
                rows.append((key, "exists" if operand else "missing", ""))
            elif isinstance(operand, list):
                rows.append((key, op, ", ".join(_show_scalar(v) for v in operand)))
            else:
                rows.append((key, op, _show_scalar(operand)))
        else:
            rows.append((key, "eq", _show_scalar(expected)))
    return rows


def config_initial(config: dict[str, Any]) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if key in ("categories", "skus"):
            initial[key] = ", ".join(value)
        elif key == "conditions":
            for index, row in enumerate(conditions_to_rows(value)[:CONDITION_ROWS]):
                initial.update(zip(condition_names(index), row, strict=True))
        elif key in CONFIG_FIELDS:
            initial[key] = value
    return initial


class EarningRuleForm(MerchantScopedForm):
    """Checks the rule exactly as the API does; "Try it" evaluates it without saving.

    ``trying`` is set by the admin when the "Try it" button was pressed: the form then runs
    the sample through the same evaluation as orders and events and keeps the outcome in
    ``try_result`` (or ``try_error``) for the panel beside the form. The form is then not valid
    (nothing may be saved), but by a marker the admin does not show (``TRIED``): the page comes
    back with the unsaved edits and the panel, not an error banner.
    """

    TRIED = "tried"
    CONDITION_ROWS = CONDITION_ROWS
    merchant_source = "program"
    trying = False

    multiplier = forms.DecimalField(
        label=_("Multiplier"), required=False, max_digits=12, decimal_places=4,
        widget=UnfoldAdminDecimalFieldWidget,
        help_text=_("2 earns twice the base rate (the rule adds the extra)."),
    )
    points_per_unit = forms.DecimalField(
        label=_("Extra points per currency unit"), required=False, max_digits=12,
        decimal_places=4, widget=UnfoldAdminDecimalFieldWidget,
    )
    points = forms.IntegerField(label=_("Points"), required=False,
                                widget=UnfoldAdminIntegerFieldWidget,
                                help_text=_("A fixed number of points."))
    points_per_item = forms.IntegerField(
        label=_("Points per item bought"), required=False, widget=UnfoldAdminIntegerFieldWidget,
    )
    min_amount = forms.DecimalField(
        label=_("Minimum order amount"), required=False, max_digits=15, decimal_places=3,
        min_value=0,
        widget=UnfoldAdminDecimalFieldWidget, help_text=_("Optional; in the program's currency."),
    )
    categories = forms.CharField(
        label=_("Categories"), required=False, widget=UnfoldAdminTextInputWidget,
        help_text=_("Category names of the order lines, separated by commas."),
    )
    skus = forms.CharField(
        label=_("SKUs"), required=False, widget=UnfoldAdminTextInputWidget,
        help_text=_("Product SKUs, separated by commas."),
    )
    event_type = forms.CharField(
        label=_("Event type"), required=False, max_length=64, widget=UnfoldAdminTextInputWidget,
        help_text=_("e.g. review, sign_up, check-in."),
    )
    tier = forms.ModelChoiceField(
        label=_("Tier"), required=False, queryset=Tier.objects.none(),
        widget=UnfoldAdminSelectWidget,
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
        ]

    try_result: dict[str, Any] | None = None
    try_error: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        if instance is not None and instance.pk and not kwargs.get("initial"):
            kwargs["initial"] = config_initial(instance.config)
        super().__init__(*args, **kwargs)
        tiers = Tier._base_manager.select_related("program").order_by("program_id", "rank")
        merchant_id = self.scoped_merchant_id or getattr(instance, "merchant_id", None)
        if merchant_id is not None:
            tiers = tiers.filter(merchant_id=merchant_id)
        self.fields["tier"].queryset = tiers
        self.fields["tier"].label_from_instance = lambda t: f"{t.program} – {t.name}"
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(KIND_FIELDS)

    def condition_rows(self) -> list[tuple[str, str, str]]:
        return [condition_names(i) for i in range(CONDITION_ROWS)]

    # -- building the config --------------------------------------------------------------
    def _config(self, kind: str, cleaned: dict[str, Any]) -> dict[str, Any] | None:
        required, one_of, optional = SHAPES[kind]
        config: dict[str, Any] = {}
        for key in (*required, *one_of, *optional):
            if key == "conditions":
                conditions = self._conditions(cleaned)
                if conditions:
                    config[key] = conditions
                continue
            value = cleaned.get(key)
            if value in (None, ""):
                continue
            if key in ("categories", "skus"):
                value = [part.strip() for part in LIST_SPLIT.split(value) if part.strip()]
            elif key == "tier":
                value = value.pk
            elif isinstance(value, Decimal):
                value = format(value.normalize(), "f")
            config[key] = value
        for key in required:
            if key not in config and key != "conditions" and key in self.fields:
                self.add_error(key, _("Required for this kind of rule."))
        if one_of:
            chosen = [key for key in one_of if key in config]
            if len(chosen) != 1:
                labels = ", ".join(str(self.fields[k].label) for k in one_of)
                self.add_error(chosen[1] if len(chosen) > 1 else one_of[0],
                               _("Fill in exactly one of: %(fields)s.") % {"fields": labels})
        return None if self.errors else config

    def _conditions(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        conditions: dict[str, Any] = {}
        for field_name, op_name, value_name in self.condition_rows():
            field = (cleaned.get(field_name) or "").strip()
            op = cleaned.get(op_name) or ""
            raw = (cleaned.get(value_name) or "").strip()
            if not field and not op and not raw:
                continue
            if not field:
                self.add_error(field_name, _("Which field of the event?"))
                continue
            if field in conditions:
                self.add_error(field_name, _("Only one condition per field."))
                continue
            op = op or "eq"
            if op in ("exists", "missing"):
                conditions[field] = {"exists": op == "exists"}
            elif not raw:
                self.add_error(value_name, _("A value is required for this operator."))
            elif op in ("in", "not_in"):
                values = [_parse_scalar(v) for v in raw.split(",") if v.strip()]
                conditions[field] = values if op == "in" else {"not_in": values}
            elif op in ("gt", "gte", "lt", "lte"):
                value = _parse_scalar(raw)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.add_error(value_name, _("A number is needed for this operator."))
                else:
                    conditions[field] = {op: value}
            else:
                value = _parse_scalar(raw)
                conditions[field] = value if op == "eq" else {op: value}
        return conditions

    def _place_error(self, error: LoyaltyError) -> None:
        """Put ``validate_config``'s complaint (``config.multiplier``, ``config.skus[2]``,
        ``config.conditions.metadata.stars.gt``) on the field it names."""
        path = error.field or ""
        if path.startswith("config.conditions."):
            key = path.removeprefix("config.conditions.")
            for field_name, _op, value_name in self.condition_rows():
                wanted = (self.cleaned_data.get(field_name) or "").strip()
                if wanted and (key == wanted or key.startswith((f"{wanted}.", f"{wanted}["))):
                    target = field_name if "unknown condition" in error.detail else value_name
                    self.add_error(target, error.detail)
                    return
        name = path.removeprefix("config.").split(".")[0].split("[")[0]
        self.add_error(name if name in self.fields else None, error.detail)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        program = cleaned.get("program") or getattr(self.instance, "program", None)
        kind = cleaned.get("kind") or self.instance.kind
        if self.errors or program is None or kind not in SHAPES:
            return cleaned
        config = self._config(kind, cleaned)
        if config is None:
            return cleaned
        candidate = copy.copy(self.instance)
        candidate.program = program
        for name in RULE_FIELDS:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        candidate.config = config
        try:
            rule_clean(candidate)
        except LoyaltyError as error:
            self._place_error(error)
            return cleaned
        cleaned["config"] = candidate.config
        self.instance.config = candidate.config
        if self.trying:
            self._try(candidate)
        return cleaned

    def _try(self, candidate: EarningRule) -> None:
        raw = (self.cleaned_data.get("try_sample") or "").strip()
        try:
            sample = json.loads(raw or "{}")
        except ValueError as error:
            self.try_error = str(_("The sample is not valid JSON: %(error)s") % {"error": error})
        else:
            if not isinstance(sample, dict):
                self.try_error = str(_("The sample must be a JSON object."))
            else:
                tier = sample.pop("tier", None)
                try:
                    self.try_result = rule_try(
                        rule=candidate, sample=sample,
                        tier_id=tier if isinstance(tier, int) else None,
                    )
                except (LoyaltyError, ValueError, TypeError, ArithmeticError,
                        KeyError) as error:
                    detail = getattr(error, "detail", None) or str(error)
                    self.try_error = str(_("The sample cannot be evaluated: %(detail)s")
                                         % {"detail": detail})
        # Never saved: the admin hides this marker and shows the panel instead.
        raise forms.ValidationError(self.TRIED, code=self.TRIED)


def _condition_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for index in range(CONDITION_ROWS):
        field_name, op_name, value_name = condition_names(index)
        fields[field_name] = forms.CharField(
            label=_("Field") if index == 0 else "", required=False, max_length=200,
            widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "outcome / metadata.stars"}),
        )
        fields[op_name] = forms.ChoiceField(
            label=_("Operator") if index == 0 else "", required=False, choices=OPERATOR_CHOICES,
            widget=UnfoldAdminSelectWidget,
        )
        fields[value_name] = forms.CharField(
            label=_("Value") if index == 0 else "", required=False, max_length=2000,
            widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "approved / 4 / a, b"}),
        )
    return fields


EarningRuleForm.base_fields.update(_condition_fields())
EarningRuleForm.declared_fields.update(_condition_fields())
