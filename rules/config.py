"""The ``config`` document of each rule kind: strict validation and plain-words descriptions.

Kinds and their config (every key not listed is refused, naming the field):

``order``       exactly one of ``multiplier`` (> 1: the order earns N times the base rate, the
                rule awards the extra N-1), ``points_per_unit`` (extra points per currency unit
                paid) or ``points`` (a fixed bonus); optional ``min_amount``.
``category``    ``categories`` (list of names) and exactly one of ``multiplier`` or
                ``points_per_unit``, applied to the matching lines.
``sku``         ``skus`` (list) and exactly one of ``multiplier``, ``points_per_unit`` or
                ``points_per_item`` (fixed points per unit of quantity).
``event``       ``event_type``, ``points`` and optional ``conditions`` (see below).
``tier_bonus``  ``tier`` (a tier id of the program) and ``multiplier`` (> 1), on the base.
``welcome``     ``points``, once per member, on enrolment.
``birthday``    ``points``, once a year, on the member's birthday.

Conditions map a field of the event to what it must be. Keys: ``outcome``, ``status``,
``scope``, ``metadata.<key>`` (nested keys with dots: ``metadata.device.os``). Values: a
scalar (equal), a list of scalars (one of them), or one operator: ``{"eq": x}``,
``{"ne": x}``, ``{"in": [...]}``, ``{"not_in": [...]}``, ``{"gt"|"gte"|"lt"|"lte": number}``,
``{"exists": true|false}``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidRuleConfig
from .models import EarningRule

Kind = EarningRule.Kind
MAX_MULTIPLIER = Decimal("100")
MAX_RATE = Decimal("100000")
MAX_FIXED_POINTS = 10_000_000
MAX_LIST = 200
MAX_CONDITIONS = 20
MAX_DEPTH = 5
NAME_RE = re.compile(r"^[^\x00-\x1f]{1,64}$")
EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
KEY_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
EVENT_FIELDS = ("outcome", "status", "scope")
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists")

# kind -> (required keys, keys of which exactly one is required, optional keys)
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    Kind.ORDER: ((), ("multiplier", "points_per_unit", "points"), ("min_amount",)),
    Kind.CATEGORY: (("categories",), ("multiplier", "points_per_unit"), ()),
    Kind.SKU: (("skus",), ("multiplier", "points_per_unit", "points_per_item"), ()),
    Kind.EVENT: (("event_type", "points"), (), ("conditions",)),
    Kind.TIER_BONUS: (("tier", "multiplier"), (), ()),
    Kind.WELCOME: (("points",), (), ()),
    Kind.BIRTHDAY: (("points",), (), ()),
}


def _fail(field: str, message: str) -> InvalidRuleConfig:
    return InvalidRuleConfig(f"{field}: {message}", field=field)


def _decimal(value: Any, field: str, *, above: Decimal, at_most: Decimal) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(field, "must be a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(field, "must be a number.") from None
    if not number.is_finite():
        raise _fail(field, "must be a finite number.")
    if number.as_tuple().exponent < -4:
        raise _fail(field, "at most 4 decimal places.")
    if number <= above or number > at_most:
        raise _fail(field, f"must be greater than {above} and at most {at_most}.")
    return format(number.normalize(), "f")  # "10", not "1E+1"; "2.50" -> "2.5"


def _int(value: Any, field: str, *, minimum: int = 1, maximum: int = MAX_FIXED_POINTS) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, "must be an integer.")
    if not minimum <= value <= maximum:
        raise _fail(field, f"must be between {minimum} and {maximum}.")
    return value


def _names(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(field, "must be a non-empty list of names.")
    if len(value) > MAX_LIST:
        raise _fail(field, f"at most {MAX_LIST} names.")
    names = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or not NAME_RE.match(name.strip() or "\x00"):
            raise _fail(f"{field}[{index}]", "must be a name of 1 to 64 characters.")
        names.append(name.strip())
    return sorted(set(names), key=names.index)


def _scalar(value: Any, field: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and len(value) > 200:
            raise _fail(field, "at most 200 characters.")
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    raise _fail(field, "must be a string, a number, true, false or null.")


def _scalars(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list) or not value or len(value) > 50:
        raise _fail(field, "must be a list of 1 to 50 values.")
    return [_scalar(item, f"{field}[{index}]") for index, item in enumerate(value)]


def condition_key_ok(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    if key in EVENT_FIELDS:
        return True
    head, _, path = key.partition(".")
    if head != "metadata" or not path:
        return False
    segments = path.split(".")
    return len(segments) <= MAX_DEPTH and all(KEY_SEGMENT_RE.match(s) for s in segments)


def validate_conditions(conditions: Any, field: str = "config.conditions") -> dict[str, Any]:
    if not isinstance(conditions, dict):
        raise _fail(field, "must be an object mapping event fields to values.")
    if len(conditions) > MAX_CONDITIONS:
        raise _fail(field, f"at most {MAX_CONDITIONS} conditions.")
    clean: dict[str, Any] = {}
    for key, expected in conditions.items():
        where = f"{field}.{key}"
        if not condition_key_ok(key):
            raise _fail(
                where, "unknown condition: use outcome, status, scope or metadata.<key>."
            )
        if isinstance(expected, list):
            clean[key] = _scalars(expected, where)
        elif isinstance(expected, dict):
            if len(expected) != 1:
                raise _fail(where, "an operator object has exactly one operator.")
            (op, operand), = expected.items()
            if op not in OPERATORS:
                raise _fail(
                    f"{where}.{op}", f"unknown operator; use one of {', '.join(OPERATORS)}."
                )
            if op in ("in", "not_in"):
                operand = _scalars(operand, f"{where}.{op}")
            elif op in ("gt", "gte", "lt", "lte"):
                if isinstance(operand, bool) or not isinstance(operand, int | float):
                    raise _fail(f"{where}.{op}", "must be a number.")
                _scalar(operand, f"{where}.{op}")
            elif op == "exists":
                if not isinstance(operand, bool):
                    raise _fail(f"{where}.{op}", "must be true or false.")
            else:
                operand = _scalar(operand, f"{where}.{op}")
            clean[key] = {op: operand}
        else:
            clean[key] = _scalar(expected, where)
    return clean


def validate_config(kind: str, config: Any, *, program_id: int | None = None) -> dict[str, Any]:
    """The normalised config for ``kind``; raises ``InvalidRuleConfig`` naming the field."""
    if kind not in SHAPES:
        raise _fail("kind", f"must be one of {', '.join(SHAPES)}.")
    if not isinstance(config, dict):
        raise _fail("config", "must be an object.")
    required, one_of, optional = SHAPES[kind]
    known = set(required) | set(one_of) | set(optional)
    for key in config:
        if key not in known:
            raise _fail(f"config.{key}", f"unknown field for a {kind} rule.")
    for key in required:
        if key not in config:
            raise _fail(f"config.{key}", "this field is required.")
    if one_of:
        chosen = [key for key in one_of if key in config]
        if len(chosen) != 1:
            field = f"config.{chosen[1] if chosen else one_of[0]}"
            raise _fail(field, f"give exactly one of {', '.join(one_of)}.")
    clean: dict[str, Any] = {}
    for key, value in config.items():
        field = f"config.{key}"
        if key == "multiplier":
            clean[key] = _decimal(value, field, above=Decimal(1), at_most=MAX_MULTIPLIER)
        elif key == "points_per_unit":
            clean[key] = _decimal(value, field, above=Decimal(0), at_most=MAX_RATE)
        elif key == "min_amount":
            clean[key] = _decimal(value, field, above=Decimal(-1), at_most=Decimal(10) ** 12)
            if Decimal(clean[key]) < 0:
                raise _fail(field, "must not be negative.")
        elif key in ("points", "points_per_item"):
            clean[key] = _int(value, field)
        elif key in ("categories", "skus"):
            clean[key] = _names(value, field)
        elif key == "event_type":
            if not isinstance(value, str) or not EVENT_TYPE_RE.match(value):
                raise _fail(field, "letters, digits and _ . : - only, at most 64 characters.")
            clean[key] = value
        elif key == "conditions":
            clean[key] = validate_conditions(value)
        elif key == "tier":
            clean[key] = _tier(value, field, program_id)
    return clean


def _tier(value: Any, field: str, program_id: int | None) -> int:
    tier_id = _int(value, field, maximum=2**63 - 1)
    if program_id is not None:
        from tiers.models import Tier

        if not Tier._base_manager.filter(pk=tier_id, program_id=program_id).exists():
            raise _fail(field, "no such tier in this program.")
    return tier_id


# ---------------------------------------------------------------------------------------------
# Plain words, for the customer portal and the console.


def _times(multiplier: str) -> str:
    return f"{Decimal(multiplier).normalize():f}×"


def _money(value: str, currency: str) -> str:
    return f"{Decimal(value).normalize():f} {currency}"


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe(rule: EarningRule, *, currency: str, point_names: str = "points",
             tier_name: str | None = None) -> str:
    """What the rule gives, in a sentence a customer understands."""
    if rule.description:
        return rule.description
    c = rule.config or {}
    kind = rule.kind
    if kind == Kind.ORDER:
        if "multiplier" in c:
            text = f"Earn {_times(c['multiplier'])} {point_names} on your orders"
        elif "points_per_unit" in c:
            text = (f"Earn {Decimal(c['points_per_unit']).normalize():f} extra {point_names} "
                    f"per {currency} spent")
        else:
            text = f"Earn {c.get('points')} bonus {point_names} with an order"
        if c.get("min_amount") and Decimal(c["min_amount"]) > 0:
            text += f" of {_money(c['min_amount'], currency)} or more"
    elif kind in (Kind.CATEGORY, Kind.SKU):
        what = _joined(c.get("categories") or c.get("skus") or ["selected products"])
        if "multiplier" in c:
            text = f"Earn {_times(c['multiplier'])} {point_names} on {what}"
        elif "points_per_unit" in c:
            text = (f"Earn {Decimal(c['points_per_unit']).normalize():f} extra {point_names} "
                    f"per {currency} spent on {what}")
        else:
            text = f"Earn {c.get('points_per_item')} {point_names} for each {what} you buy"
    elif kind == Kind.EVENT:
        action = str(c.get("event_type", "")).replace("_", " ").replace("-", " ")
        text = f"Earn {c.get('points')} {point_names} for each {action}"
        if (c.get("conditions") or {}).get("outcome") not in (None, ""):
            outcome = c["conditions"]["outcome"]
            if isinstance(outcome, str):
                text += f" ({outcome})"
    elif kind == Kind.TIER_BONUS:
        times = _times(c.get("multiplier", "1"))
        text = f"{tier_name or 'Tier'} members earn {times} {point_names}"
    elif kind == Kind.WELCOME:
        text = f"Get {c.get('points')} {point_names} when you join"
    elif kind == Kind.BIRTHDAY:
        text = f"Get {c.get('points')} {point_names} on your birthday"
    else:  # pragma: no cover - kinds are constrained
        text = rule.name
    limits = []
    if rule.max_per_member == 1 and kind not in (Kind.WELCOME,):
        limits.append("once per customer")
    elif rule.max_per_member:
        limits.append(f"up to {rule.max_per_member} times")
    if rule.cooldown_hours:
        limits.append(f"at most once every {rule.cooldown_hours} hours")
    if rule.ends_at:
        limits.append(f"until {rule.ends_at:%d %b %Y}")
    return text + (f" ({', '.join(limits)})" if limits else "") + "."
