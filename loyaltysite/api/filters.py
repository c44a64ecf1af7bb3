"""List filters that refuse what their schema refuses, and the schema made from them.

django-filter's own filters are lenient where the schema cannot follow: ``NumberFilter`` takes
``1.5`` and ``١٢`` for an id, ``BooleanFilter`` ignores ``is_active=maybe``. These refuse any
value outside what :func:`filter_parameters` documents, with a 400 naming the parameter
(the view raises the FilterSet's errors). The OpenAPI parameters of a list are generated from
its FilterSet, so the documented filters are exactly the working ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms

from loyaltysite.errors import InvalidValue
from loyaltysite.ids import MAX_ID, parse_id

from .fields import RFC3339, parse_rfc3339


class _Strict:
    """A filter field that refuses an empty value (``?status=``) instead of ignoring it:
    absent is "no filter", present must be valid."""

    def to_python(self, value: Any) -> Any:
        if value is None:
            return None
        if value == "":
            raise forms.ValidationError("Give a value, or leave the parameter out.",
                                        code="blank")
        return self.parse(value)

    def validate(self, value: Any) -> None:
        """Parsing validated it already."""


class _IdField(_Strict, forms.Field):
    def parse(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise forms.ValidationError("Enter an id: a whole number from 1.", code="invalid")
        return number


class _BooleanField(_Strict, forms.Field):
    def parse(self, value: str) -> bool:
        if value not in ("true", "false"):
            raise forms.ValidationError("Enter true or false.", code="invalid")
        return value == "true"


class _DateTimeField(_Strict, forms.Field):
    def parse(self, value: str) -> datetime:
        parsed = None
        if RFC3339.fullmatch(value):
            try:
                parsed = parse_rfc3339(value)
            except InvalidValue:  # beyond what UTC holds: a bound past every row
                parsed = datetime.max.replace(tzinfo=UTC) if value[:4] > "5000" else \
                    datetime.min.replace(tzinfo=UTC)
        if parsed is None:
            raise forms.ValidationError(
                "Enter an RFC 3339 date-time with an offset, e.g. 2026-03-01T00:00:00Z.",
                code="invalid",
            )
        return parsed


class _ChoiceField(_Strict, forms.Field):
    def __init__(self, *, choices: Any = (), **kwargs: Any) -> None:
        kwargs.pop("null_label", None)
        kwargs.pop("empty_label", None)
        super().__init__(**kwargs)
        self.allowed = [str(value) for value, _label in choices]

    def parse(self, value: str) -> str:
        if value not in self.allowed:
            raise forms.ValidationError(f"Choose one of: {', '.join(self.allowed)}.",
                                        code="invalid_choice")
        return value


class IdFilter(django_filters.Filter):
    """An id: ASCII digits within a bigint."""

    field_class = _IdField


class BooleanFilter(django_filters.Filter):
    """``true`` or ``false``, nothing else."""

    field_class = _BooleanField


class DateTimeFilter(django_filters.Filter):
    """An RFC 3339 date-time with its offset."""

    field_class = _DateTimeField


class ChoiceFilter(django_filters.Filter):
    """One of ``choices``."""

    field_class = _ChoiceField

    def __init__(self, *args: Any, choices: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, choices=choices, **kwargs)


def filter_parameters(filterset_class: type[django_filters.FilterSet]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of ``filterset_class``, as its filters accept them."""
    parameters = []
    for name, flt in filterset_class.base_filters.items():
        schema: dict[str, Any]
        if isinstance(flt, IdFilter):
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif isinstance(flt, BooleanFilter):
            schema = {"type": "boolean"}
        elif isinstance(flt, DateTimeFilter):
            schema = {"type": "string", "format": "date-time"}
        elif isinstance(flt, ChoiceFilter):
            schema = {"type": "string", "enum": [str(v) for v, _ in flt.extra["choices"]]}
        else:
            schema = {"type": "string"}
        description = str(flt.extra.get("help_text") or flt.label or "")
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema,
                           **({"description": description} if description else {})})
    return parameters
