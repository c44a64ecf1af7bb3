"""Input fields that accept exactly what the OpenAPI schema says, and nothing else.

DRF's own fields are lenient in ways a schema cannot describe and a generated client cannot
rely on: ``IntegerField`` takes ``"12"``, ``12.0`` and Arabic-Indic ``"١٢"``; ``DecimalField``
takes ``"١٢"``, ``"1e3"`` and a JSON float; ``CharField`` takes ``"   "`` and then calls it blank.
These fields refuse all of that with a 400 naming the field, and their schema (see
``loyaltysite.api.schema``) says exactly what they accept:

* :class:`Integer`: a JSON integer (not a string, a float or a boolean), within its bounds.
* :class:`DecimalString`: a JSON string of ASCII digits with an optional fraction
  (``"30.50"``): no sign unless negatives are allowed, no exponent, no spaces, no empty string.
  Money is sent as a string so that no client ever rounds it through a binary float.
* :class:`Text`: a string; when blanks are not allowed it must hold a character that is not
  white space (schema: ``pattern: \\S``), so what the schema accepts the server accepts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from loyaltysite.errors import InvalidValue
from loyaltysite.formatting import money_str


class Integer(serializers.IntegerField):
    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class DecimalString(serializers.DecimalField):
    """A decimal number written as a JSON string of ASCII digits (``"30.50"``)."""

    default_error_messages = {
        "invalid": "A decimal number written as a string of digits is required, e.g. \"30.50\".",
    }

    def __init__(self, *, max_digits: int, decimal_places: int, allow_negative: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("coerce_to_string", True)
        if not allow_negative:
            kwargs.setdefault("min_value", Decimal(0))
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)
        self.allow_negative = allow_negative
        whole = max_digits - decimal_places
        fraction = f"(\\.[0-9]{{1,{decimal_places}}})?" if decimal_places else ""
        sign = "-?" if allow_negative else ""
        top = self.max_value
        if top is not None and not allow_negative and top == 10 ** (len(str(int(top))) - 1):
            # A maximum that is a power of ten, in the pattern too, so that the schema says
            # what the server accepts: below it with fewer whole digits, or it exactly.
            digits = len(str(int(top))) - 1
            zeros = f"(\\.0{{1,{decimal_places}}})?" if decimal_places else ""
            self.pattern = f"^([0-9]{{1,{digits}}}{fraction}|{int(top)}{zeros})$"
        elif top is not None:
            raise ValueError("DecimalString's max_value must be a power of ten")
        else:
            self.pattern = f"^{sign}[0-9]{{1,{whole}}}{fraction}$"
        self._regex = re.compile(self.pattern)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not self._regex.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


# White space spelled out: ``\s`` differs between regex engines (Python's counts \x1c-\x1f,
# ECMAScript's does not), and a schema pattern must mean the same to every client.
SPACE = " \\t\\n\\r\\f\\v"
NOT_BLANK = f"[^{SPACE}]"


class Text(serializers.CharField):
    """A string, taken as sent (lengths count what was sent); unless ``allow_blank``, one with
    at least one character that is not white space."""

    default_error_messages = {
        "invalid": "A string is required.",
        "blank": "This field may not be blank.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        if not self.allow_blank:
            self.validators.append(RegexValidator(NOT_BLANK, self.error_messages["blank"],
                                                  code="blank"))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Pattern(serializers.CharField):
    """A string matching ``regex`` in full (``fullmatch``: in Python ``$`` also matches before
    a final newline, which the schema's reading of the pattern does not allow), as sent."""

    default_error_messages = {"invalid": "This value does not have the required format."}

    def __init__(self, regex: str, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.pattern = regex
        self._regex = re.compile(regex)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not self._regex.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    """JSON ``true`` or ``false`` only (DRF also takes ``"yes"``, ``1`` and ``"on"``)."""

    default_error_messages = {"invalid": "A JSON boolean (true or false) is required."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# RFC 3339 (what OpenAPI's ``date-time`` format means): a date, "T", a time, an offset.
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class DateTime(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset (``2026-03-01T09:30:00Z``); no naive times."""

    default_error_messages = {
        "invalid": "An RFC 3339 date-time with an offset is required, e.g. 2026-03-01T09:30:00Z.",
    }

    def to_internal_value(self, value: Any):
        if not isinstance(value, str) or not RFC3339.fullmatch(value):
            self.fail("invalid")
        try:
            parsed = parse_rfc3339(value)
        except InvalidValue as error:
            error.field = self.field_name
            raise
        if parsed is None:
            self.fail("invalid")
        return parsed


def parse_rfc3339(value: str) -> datetime | None:
    """``value`` (already matched against :data:`RFC3339`) in UTC; ``None`` if it is not a
    real date or time (February 30th). A moment that exists but that UTC cannot hold (year
    9999 at -05:00) is refused by a rule: ``INVALID_VALUE`` (422)."""
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidValue("This moment is out of the supported range.") from None


# What the schema calls an e-mail address, and exactly what the server takes: one "@", no
# white space, a dot in the domain. Stricter checks would refuse addresses the schema allows.
EMAIL_PATTERN = f"^[^@{SPACE}]+@[^@{SPACE}]+\\.[^@{SPACE}]+$"


class Email(Pattern):
    default_error_messages = {"invalid": "An e-mail address is required."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(EMAIL_PATTERN, **kwargs)


URL_PATTERN = f"^https?://[^{SPACE}/?#]+[^{SPACE}]*$"


class Url(Pattern):
    default_error_messages = {"invalid": "An http or https URL is required."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(URL_PATTERN, **kwargs)


DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Date(serializers.DateField):
    """An ISO 8601 calendar date (``1990-04-21``)."""

    default_error_messages = {"invalid": "A date is required, e.g. 1990-04-21."}

    def to_internal_value(self, value: Any):
        if not isinstance(value, str) or not DATE.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class Currency(serializers.ChoiceField):
    """An ISO 4217 code in capitals (``EUR``)."""

    def __init__(self, **kwargs: Any) -> None:
        from loyaltysite.currencies import CURRENCY_CHOICES

        super().__init__(choices=CURRENCY_CHOICES, **kwargs)
        self.error_messages["invalid_choice"] = "An ISO 4217 currency code is required, e.g. EUR."


def exactly_one_of(*names: str) -> dict[str, Any]:
    """Schema clause: the object has exactly one of ``names``."""
    return {"oneOf": [{"required": [name]} for name in names]}


def at_most_one_of(*names: str) -> dict[str, Any]:
    """Schema clause: the object has at most one of ``names``."""
    pairs = [[a, b] for i, a in enumerate(names) for b in names[i + 1:]]
    return {"not": {"anyOf": [{"required": pair} for pair in pairs]}}


class MoneyOut(serializers.Field):
    """Money in its currency's minor units (``"62.50"`` EUR, ``"1250"`` JPY), read-only.

    ``currency_source`` is where the object keeps its currency (a dotted path, or a key when
    the object is a dict): the same rule (``loyaltysite.formatting.money_str``) writes money
    in the API, the console, the portal and error messages.
    """

    def __init__(self, *, currency_source: str = "currency", **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency_source = currency_source

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        currency = instance
        for part in self.currency_source.split("."):
            currency = currency[part] if isinstance(currency, dict) else getattr(currency, part)
        return None if value is None else money_str(value, currency)

    def to_representation(self, value: Any) -> Any:
        return value
