"""Events (customer actions), welcome and birthday awards.

Every matching event rule fires (subject to stacking, caps, cooldowns and budgets) and the
total is one ledger credit, spendable at once (no return window for actions). A failure inside
rule evaluation or awarding is logged and the event is answered and stored as "nothing
awarded": an integration's event call never fails with a 500 because of loyalty.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import LoyaltyError
from members.models import Member, Program

from .. import engine, selectors
from ..models import Award, EarningRule, Event
from .common import (
    Customer,
    check_occurred_at,
    credit,
    joined_transaction,
    lock_active,
    record_awards,
    resolve_member,
    spend_budgets,
    with_figures,
)

logger = logging.getLogger(__name__)


@dataclass
class EventResult:
    event: Event
    member: Member
    evaluation: engine.Evaluation
    enrolled: bool


def event_record(
    *,
    program: Program,
    type: str,
    customer: Customer,
    event_id: str = "",
    outcome: str = "",
    status: str = "",
    scope: str = "",
    metadata: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    actor: str,
    clock: Clock = system_clock,
) -> EventResult:
    now = clock.now()
    check_occurred_at(occurred_at, now)
    facts = engine.EventFacts(
        type=type, outcome=outcome, status=status, scope=scope, metadata=dict(metadata or {}),
        at=occurred_at or now,
    )
    with joined_transaction():
        found, enrolled = resolve_member(program=program, customer=customer, enrol=True,
                                         clock=clock, lock=True)
        earlier = event_id and Event._base_manager.filter(
            merchant_id=program.merchant_id, program_id=program.pk, event_id=event_id
        ).first()
        if earlier:  # recorded before (longer ago than idempotency keys are kept)
            return EventResult(event=earlier, member=with_figures(found, None),
                               evaluation=engine.Evaluation(), enrolled=False)
        failed = False
        entry = None
        try:
            with transaction.atomic():  # a failure undoes the awarding only
                rules = selectors.live_rules(
                    program=program, kinds=[EarningRule.Kind.EVENT], at=facts.at,
                    member_id=found.pk,
                )
                evaluation = engine.evaluate_event(
                    rounding=program.rounding, rules=rules, facts=facts,
                    history=selectors.history_of(rules), now=now,
                )
                spend_budgets(evaluation)
                entry = credit(
                    member=found, evaluation=evaluation, actor=actor,
                    reason=f"Event {type}", reference=event_id or type, pending_days=0,
                    metadata={"event_id": event_id, "event_type": type}, clock=clock,
                )
        except LoyaltyError:
            raise
        except Exception:
            logger.exception("awarding event %r (%s) of program %s failed", event_id, type,
                             program.pk)
            evaluation, entry, failed = engine.Evaluation(failed=[None]), None, True
        event = Event._base_manager.create(
            merchant_id=program.merchant_id, program_id=program.pk, member_id=found.pk,
            event_id=event_id, type=type, outcome=outcome, status=status, scope=scope,
            metadata=dict(metadata or {}), points_earned=evaluation.total,
            awards=[a.as_dict() for a in evaluation.awards], failed=failed or bool(
                evaluation.failed), entry=entry, actor=actor[:128], occurred_at=facts.at,
            created_at=now,
        )
        record_awards(member=found, evaluation=evaluation, entry=entry, now=now, event=event)
    return EventResult(event=event, member=with_figures(found, entry),
                       evaluation=evaluation, enrolled=enrolled)


def _award_fixed(
    *, member: Member, kind: str, reference: str, reason: str, actor: str, clock: Clock,
    extra_history_filter: dict[str, Any] | None = None,
) -> int:
    now = clock.now()
    program = member.program
    if not selectors.live_rules(program=program, kinds=[kind], at=now):
        return 0  # the usual case costs one query and no lock
    with joined_transaction():
        locked = lock_active(member)
        rules = selectors.live_rules(program=program, kinds=[kind], at=now, member_id=member.pk)
        if extra_history_filter is not None:
            already = Award._base_manager.filter(
                member_id=member.pk, rule__kind=kind, **extra_history_filter
            ).exists()
            if already:
                return 0
        evaluation = engine.evaluate_fixed(
            rules=rules, kind=kind, history=selectors.history_of(rules), now=now
        )
        spend_budgets(evaluation)
        entry = credit(
            member=locked, evaluation=evaluation, actor=actor, reason=reason,
            reference=reference, pending_days=0, metadata={"kind": kind}, clock=clock,
        )
        record_awards(member=locked, evaluation=evaluation, entry=entry, now=now)
    return evaluation.total


def award_welcome(*, member: Member, clock: Clock = system_clock,
                  actor: str = "system:welcome") -> int:
    """Welcome points, once per member, from the program's active welcome rules."""
    try:
        return _award_fixed(member=member, kind=EarningRule.Kind.WELCOME, reference="welcome",
                            reason="Welcome", actor=actor, clock=clock)
    except LoyaltyError:
        return 0  # e.g. an inactive member: no welcome, and enrolment goes on


def award_birthday(*, member: Member, clock: Clock = system_clock,
                   actor: str = "system:birthday") -> int:
    """Birthday points, at most once a calendar year (of the program's time zone), from the
    active birthday rules."""
    tz = member.program.tz
    year = clock.now().astimezone(tz).year
    try:
        return _award_fixed(
            member=member, kind=EarningRule.Kind.BIRTHDAY, reference=f"birthday:{year}",
            reason="Happy birthday", actor=actor, clock=clock,
            extra_history_filter={"created_at__gte": datetime(year, 1, 1, tzinfo=tz),
                                  "created_at__lt": datetime(year + 1, 1, 1, tzinfo=tz)},
        )
    except LoyaltyError:
        return 0
