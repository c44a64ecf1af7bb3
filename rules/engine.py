"""Rule evaluation: pure code over already-loaded rows, no queries, no writes.

Orders, events, the preview and the console's "Try it" all evaluate through here, so they
cannot disagree. How an order earns:

* **Base points**: the money paid (``amount``) times the program's ``earn_rate``.
* **Tier benefit**: a member whose tier has an ``earn_multiplier`` above 1 earns the extra
  (multiplier - 1) times the base points, once per order, as its own award line.
* Each matching **rule** adds an award, computed from the exact figures and rounded once, with
  the program's rounding mode, on that award's total. A ``multiplier`` of N means "N times the
  base rate in total": the rule awards the extra (N-1) times base on what it applies to.
* **Stacking and priority**: rules are considered highest priority first (ties: oldest first).
  Stackable rules always combine. Of the non-stackable rules, only the first that matches and
  is still available (cap, cooldown, budget) fires: they are mutually exclusive.
* A rule's **window** is checked against the order's or event's ``occurred_at``; caps and
  cooldowns against the member's earlier awards; a budget caps the award at what is left.
* An unexpected error inside one rule is logged and that rule awards nothing; the others still
  count (an event call never fails because of a rule).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from .config import EVENT_FIELDS
from .models import EarningRule

logger = logging.getLogger(__name__)

Kind = EarningRule.Kind
ORDER_KINDS = (Kind.ORDER, Kind.CATEGORY, Kind.SKU, Kind.TIER_BONUS)
ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}
MISSING = object()


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    price: Decimal
    paid: Decimal  # this line's share of the money paid


@dataclass(frozen=True)
class OrderFacts:
    amount: Decimal  # money paid: what earns
    lines: tuple[Line, ...]
    at: datetime


@dataclass(frozen=True)
class EventFacts:
    type: str
    outcome: str = ""
    status: str = ""
    scope: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True)
class History:
    """A member's earlier awards from one rule."""

    count: int = 0
    last_at: datetime | None = None


NO_HISTORY = History()


@dataclass
class AwardLine:
    rule: EarningRule | None
    points: int
    kind: str
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.pk if self.rule is not None else None,
            "name": self.name, "kind": self.kind, "points": self.points,
        }


@dataclass
class Evaluation:
    awards: list[AwardLine] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[int | None] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(a.points for a in self.awards)

    @property
    def rule_awards(self) -> list[AwardLine]:
        return [a for a in self.awards if a.rule is not None]


def round_points(raw: Decimal, rounding: str) -> int:
    return int(raw.quantize(Decimal(1), rounding=ROUNDING.get(rounding, ROUND_DOWN)))


def lines_with_paid_share(
    items: Iterable[Mapping[str, Any]], *, amount: Decimal
) -> tuple[Line, ...]:
    """Order lines with each line's share of the money paid (in proportion to its value)."""
    raw = [(i.get("sku", ""), i.get("category", ""), int(i["quantity"]), Decimal(str(i["price"])))
           for i in items]
    gross = sum((q * p for _, _, q, p in raw), Decimal(0))
    return tuple(
        Line(sku=s, category=c, quantity=q, price=p,
             paid=(q * p * amount / gross) if gross else Decimal(0))
        for s, c, q, p in raw
    )


# ---------------------------------------------------------------------------------------------
# Availability: window, cap, cooldown, budget.


def in_window(rule: EarningRule, at: datetime) -> bool:
    return (rule.starts_at is None or rule.starts_at <= at) and (
        rule.ends_at is None or at < rule.ends_at
    )


def budget_left(rule: EarningRule) -> int | None:
    if rule.budget_points is None:
        return None
    return max(0, rule.budget_points - rule.budget_spent)


def member_limit(rule: EarningRule) -> int | None:
    """How many times one member may get ``rule`` (a welcome: once), ``None``: no limit."""
    return 1 if rule.kind == Kind.WELCOME else rule.max_per_member


def unavailable_reason(rule: EarningRule, history: History, *, at: datetime,
                       now: datetime) -> str | None:
    """Why the rule cannot fire for this member now, or ``None``."""
    if not rule.is_active or rule.deleted_at is not None:
        return "inactive"
    if not in_window(rule, at):
        return "outside its active window"
    limit = member_limit(rule)
    if limit is not None and history.count >= limit:
        return "member cap reached"
    if rule.cooldown_hours and history.last_at is not None and (
        now - history.last_at < timedelta(hours=rule.cooldown_hours)
    ):
        return "cooling down"
    left = budget_left(rule)
    if left is not None and left <= 0:
        return "budget spent"
    return None


# ---------------------------------------------------------------------------------------------
# What one rule gives (raw, before rounding), or None when it does not match.


def _rate_award(config: Mapping[str, Any], value: Decimal, earn_rate: Decimal) -> Decimal:
    if "multiplier" in config:
        return value * earn_rate * (Decimal(config["multiplier"]) - 1)
    return value * Decimal(config["points_per_unit"])


def order_rule_raw(
    rule: EarningRule, facts: OrderFacts, *, earn_rate: Decimal, tier_id: int | None
) -> Decimal | None:
    config = rule.config or {}
    if rule.kind == Kind.ORDER:
        if facts.amount < Decimal(config.get("min_amount", "0")):
            return None
        if "points" in config:
            return Decimal(config["points"])
        return _rate_award(config, facts.amount, earn_rate)
    if rule.kind in (Kind.CATEGORY, Kind.SKU):
        attr, names = ("category", "categories") if rule.kind == Kind.CATEGORY else ("sku", "skus")
        wanted = set(config[names])
        lines = [line for line in facts.lines if getattr(line, attr) in wanted]
        if not lines:
            return None
        if "points_per_item" in config:
            return Decimal(config["points_per_item"] * sum(line.quantity for line in lines))
        return _rate_award(config, sum((line.paid for line in lines), Decimal(0)), earn_rate)
    if rule.kind == Kind.TIER_BONUS:
        if tier_id is None or tier_id != config.get("tier"):
            return None
        return _rate_award(config, facts.amount, earn_rate)
    return None


def _lookup(facts: EventFacts, key: str) -> Any:
    if key in EVENT_FIELDS:
        value = getattr(facts, key)
        return value if value not in (None, "") else MISSING
    node: Any = facts.metadata
    for segment in key.split(".")[1:]:
        if not isinstance(node, Mapping) or segment not in node:
            return MISSING
        node = node[segment]
    return node


def _same(actual: Any, expected: Any) -> bool:
    if actual is MISSING:
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, str) != isinstance(expected, str):
        return False
    return actual == expected


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def condition_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return any(_same(actual, option) for option in expected)
    if isinstance(expected, dict):
        (op, operand), = expected.items()
        if op == "exists":
            return (actual is not MISSING) is operand
        if op == "eq":
            return _same(actual, operand)
        if op == "ne":
            return not _same(actual, operand)
        if op == "in":
            return any(_same(actual, option) for option in operand)
        if op == "not_in":
            return not any(_same(actual, option) for option in operand)
        if not _number(actual):
            return False
        return {
            "gt": actual > operand, "gte": actual >= operand,
            "lt": actual < operand, "lte": actual <= operand,
        }[op]
    return _same(actual, expected)


def event_rule_raw(rule: EarningRule, facts: EventFacts) -> Decimal | None:
    config = rule.config or {}
    if rule.kind != Kind.EVENT or config.get("event_type") != facts.type:
        return None
    for key, expected in (config.get("conditions") or {}).items():
        if not condition_matches(_lookup(facts, key), expected):
            return None
    return Decimal(config["points"])


# ---------------------------------------------------------------------------------------------
# Putting it together.


def _apply_rules(
    evaluation: Evaluation,
    rules: Sequence[EarningRule],
    raw_for,
    *,
    rounding: str,
    history: Mapping[int, History],
    at: datetime,
    now: datetime,
) -> Evaluation:
    exclusive_taken = False
    for rule in sorted(rules, key=lambda r: (-r.priority, r.pk or 0)):
        try:
            raw = raw_for(rule)
            if raw is None:
                continue
            why = unavailable_reason(rule, history.get(rule.pk, NO_HISTORY), at=at, now=now)
            if why is None and not rule.stackable and exclusive_taken:
                why = "a non-stackable rule with higher priority already applies"
            if why is not None:
                evaluation.skipped.append({"rule": rule.pk, "name": rule.name, "reason": why})
                continue
            points = round_points(raw, rounding)
            left = budget_left(rule)
            if left is not None:
                points = min(points, left)
        except Exception:  # one broken rule must not break earning
            logger.exception("earning rule %s failed to evaluate", rule.pk)
            evaluation.failed.append(rule.pk)
            continue
        if points <= 0:
            continue
        if not rule.stackable:
            exclusive_taken = True
        evaluation.awards.append(AwardLine(rule=rule, points=points, kind=rule.kind,
                                           name=rule.name))
    return evaluation


def evaluate_order(
    *,
    earn_rate: Decimal,
    rounding: str,
    rules: Sequence[EarningRule],
    facts: OrderFacts,
    history: Mapping[int, History],
    tier_id: int | None,
    now: datetime,
    tier_multiplier: Decimal = Decimal(1),
    tier_name: str = "",
) -> Evaluation:
    evaluation = Evaluation()
    base = round_points(facts.amount * earn_rate, rounding)
    if base > 0:
        evaluation.awards.append(AwardLine(rule=None, points=base, kind="base", name="Base rate"))
    if tier_multiplier > 1:
        # The member's tier benefit, once per order, on the base rate only: "N times the
        # base" like a multiplier rule, so tier_bonus rules and other rules stack beside it.
        extra = round_points(facts.amount * earn_rate * (tier_multiplier - 1), rounding)
        if extra > 0:
            evaluation.awards.append(AwardLine(
                rule=None, points=extra, kind="tier", name=f"{tier_name} tier x{tier_multiplier}",
            ))
    order_rules = [r for r in rules if r.kind in ORDER_KINDS]
    return _apply_rules(
        evaluation, order_rules,
        lambda rule: order_rule_raw(rule, facts, earn_rate=earn_rate, tier_id=tier_id),
        rounding=rounding, history=history, at=facts.at, now=now,
    )


def evaluate_event(
    *,
    rounding: str,
    rules: Sequence[EarningRule],
    facts: EventFacts,
    history: Mapping[int, History],
    now: datetime,
) -> Evaluation:
    event_rules = [r for r in rules if r.kind == Kind.EVENT]
    return _apply_rules(
        Evaluation(), event_rules, lambda rule: event_rule_raw(rule, facts),
        rounding=rounding, history=history, at=facts.at or now, now=now,
    )


def evaluate_fixed(
    *, rules: Sequence[EarningRule], kind: str, history: Mapping[int, History], now: datetime
) -> Evaluation:
    """Welcome and birthday rules: fixed points, same availability and stacking."""
    chosen = [r for r in rules if r.kind == kind]
    return _apply_rules(
        Evaluation(), chosen, lambda rule: Decimal((rule.config or {}).get("points", 0)),
        rounding="down", history=history, at=now, now=now,
    )
