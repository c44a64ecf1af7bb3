"""Earning rules: create, change, delete, and try one against a sample without saving."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import InvalidValue, ValidationFailed
from members.models import Program

from .. import engine
from ..config import validate_config
from ..models import EarningRule
from .orders import order_facts

RULE_FIELDS = {
    "name", "kind", "description", "is_active", "starts_at", "ends_at", "priority", "stackable",
    "max_per_member", "cooldown_hours", "budget_points", "config",
}


def _check_fields(fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - RULE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field '{unknown[0]}'.", field=unknown[0])


def rule_clean(rule: EarningRule) -> EarningRule:
    """Check a rule as a whole (whether saved or not); normalises its config."""
    if not (rule.name or "").strip():
        raise ValidationFailed("name must not be blank.", field="name")
    rule.name = rule.name.strip()
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        raise InvalidValue("ends_at must be after starts_at.", field="ends_at")
    if rule.budget_points is not None and rule.budget_points < rule.budget_spent:
        raise InvalidValue(
            f"budget_points cannot be below the {rule.budget_spent} points already awarded.",
            field="budget_points",
        )
    rule.config = validate_config(rule.kind, rule.config, program_id=rule.program_id)
    return rule


def rule_create(*, program: Program, clock: Clock = system_clock, **fields: Any) -> EarningRule:
    _check_fields(fields)
    now = clock.now()
    rule = EarningRule(
        merchant_id=program.merchant_id, program=program, created_at=now, updated_at=now,
        **fields,
    )
    rule_clean(rule)
    rule.save()
    return rule


@transaction.atomic
def rule_update(*, rule: EarningRule, clock: Clock = system_clock, **fields: Any) -> EarningRule:
    """Change a rule. ``budget_spent`` is re-read under the row lock so a budget cannot be
    lowered below what concurrent orders have just awarded."""
    _check_fields(fields)
    locked = EarningRule._base_manager.select_for_update().get(pk=rule.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    rule_clean(locked)
    locked.updated_at = clock.now()
    locked.save()
    return locked


def rule_delete(*, rule: EarningRule, clock: Clock = system_clock) -> EarningRule:
    """Soft delete: the rule stops applying and answers 404; awards and entries keep it."""
    rule.deleted_at = clock.now()
    rule.is_active = False
    rule.save(update_fields=["deleted_at", "is_active"])
    return rule


def rule_try(
    *, rule: EarningRule, sample: Mapping[str, Any], tier_id: int | None = None,
    clock: Clock = system_clock,
) -> dict[str, Any]:
    """What ``rule`` (saved or not) would give for a sample order or event, for a new member.

    A sample with ``type`` is an event; otherwise an order (``amount``, ``currency``,
    ``items``, ...). Nothing is written.
    """
    program = rule.program
    now = clock.now()
    rule_clean(rule)
    occurred_at = sample.get("occurred_at")
    if isinstance(occurred_at, str):
        from django.utils.dateparse import parse_datetime

        occurred_at = parse_datetime(occurred_at)
    at: datetime = occurred_at or now
    if rule.kind == EarningRule.Kind.EVENT or "type" in sample:
        facts = engine.EventFacts(
            type=str(sample.get("type", "")), outcome=str(sample.get("outcome", "")),
            status=str(sample.get("status", "")), scope=str(sample.get("scope", "")),
            metadata=dict(sample.get("metadata") or {}), at=at,
        )
        evaluation = engine.evaluate_event(
            rounding=program.rounding, rules=[rule], facts=facts, history={}, now=now
        )
    elif rule.kind in (EarningRule.Kind.WELCOME, EarningRule.Kind.BIRTHDAY):
        evaluation = engine.evaluate_fixed(rules=[rule], kind=rule.kind, history={}, now=now)
    else:
        facts = order_facts(
            program=program, amount=Decimal(str(sample.get("amount", "0"))),
            currency=sample.get("currency", program.currency), items=sample.get("items") or (),
            points_discount=Decimal(str(sample.get("points_discount", "0"))),
            occurred_at=occurred_at, now=now,
        )
        evaluation = engine.evaluate_order(
            earn_rate=program.earn_rate, rounding=program.rounding, rules=[rule], facts=facts,
            history={}, tier_id=tier_id, now=now,
        )
    rule_points = sum(a.points for a in evaluation.rule_awards)
    return {
        "matched": rule_points > 0,
        "rule_points": rule_points,
        "total_points": evaluation.total,
        "awards": [a.as_dict() for a in evaluation.awards],
        "skipped": evaluation.skipped,
        "failed": bool(evaluation.failed),
    }
