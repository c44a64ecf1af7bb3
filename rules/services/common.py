"""What orders, events and fixed awards share: finding the member, budgets, posting awards."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from ledger.hooks import apply_member_updates
from ledger.locking import lock_member
from ledger.models import Entry
from ledger.services import MAX_POINTS, points_credit
from loyaltysite.clock import Clock
from loyaltysite.db import prepared_cursor
from loyaltysite.errors import InvalidValue, MemberInactive, MemberNotFound
from members.models import Member, Program
from members.selectors import member_find
from members.services import member_get_or_enrol

from ..engine import AwardLine, Evaluation
from ..models import Award, EarningRule, Event, Order


@contextmanager
def joined_transaction() -> Iterator[None]:
    """A transaction of its own, or the caller's when there is one (no savepoint).

    A savepoint costs two round trips on the hot path, and the API runs every write inside the
    idempotency key's transaction, which a refusal rolls back whole. The services also check
    everything that can refuse a request before their first write, so a refusal leaves nothing
    behind either way.
    """
    if connection.in_atomic_block:
        yield
    else:
        with transaction.atomic():
            yield


@dataclass(frozen=True)
class Customer:
    """How a request names the customer: member id, card id or the merchant's external id."""

    member: str = ""
    card_id: str = ""
    external_id: str = ""

    @property
    def given(self) -> bool:
        return bool(self.member or self.card_id or self.external_id)


def resolve_member(
    *, program: Program, customer: Customer, enrol: bool, clock: Clock, lock: bool = False
) -> tuple[Member | None, bool]:
    """The member named by ``customer``; ``(member, enrolled_now)``.

    An unknown ``external_id`` enrols a new member when the program auto-enrols (``enrol``) or,
    for a preview (``enrol=False``), answers ``(None, False)``: it would be a new member.
    Otherwise an unknown customer is ``MEMBER_NOT_FOUND``.

    ``lock``: the member row is locked by the same query that finds it (member first: always),
    and refused unless active; it comes with its program, customer and tier loaded.
    """
    try:
        member = member_find(
            program=program, member_id=customer.member or None,
            external_id=customer.external_id or None, card_id=customer.card_id or None,
            lock=lock,
        )
        return (_active(member, program) if lock else member), False
    except MemberNotFound:
        if not (customer.external_id and program.auto_enrol) or customer.member or customer.card_id:
            raise
    if not enrol:
        return None, False
    member, created = member_get_or_enrol(
        program=program, external_id=customer.external_id, clock=clock
    )
    if lock:
        member = _active(member_find(program=program, member_id=member.pk, lock=True), program)
    return member, created


def _active(member: Member, program: Program) -> Member:
    if member.status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {member.card_id_display} is {member.status}.", field="member")
    member.program = program
    if member.tier_id is not None and getattr(member.tier, "pk", None) != member.tier_id:
        # A row locked after waiting for another writer is read again, but PostgreSQL keeps
        # the joined rows it read before the wait: the tier must follow the locked tier_id.
        member.refresh_from_db(fields=["tier"])
    return member


def lock_active(member: Member) -> Member:
    """Lock the member row (member first: always) and refuse a member who is not active."""
    locked = lock_member(member.pk)
    if locked.status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {locked.card_id_display} is {locked.status}.", field="member")
    return locked


def spend_budgets(evaluation: Evaluation) -> None:
    """Charge budgeted rules' awards against their budget, never beyond it.

    A guarded ``UPDATE ... WHERE budget_spent + x <= budget_points`` (one statement per
    budgeted rule, in primary-key order, after the member lock) holds under concurrency; when
    less than ``x`` is left, the award is cut to what is left, under the rule's row lock.
    """
    budgeted = sorted(
        (a for a in evaluation.rule_awards if a.rule.budget_points is not None),
        key=lambda a: a.rule.pk,
    )
    rules = EarningRule._base_manager
    for award in budgeted:
        charged = rules.filter(
            pk=award.rule.pk, budget_spent__lte=F("budget_points") - award.points
        ).update(budget_spent=F("budget_spent") + award.points)
        if charged:
            continue
        locked = rules.select_for_update().get(pk=award.rule.pk)
        award.points = max(0, min(award.points, locked.budget_points - locked.budget_spent))
        if award.points:
            rules.filter(pk=locked.pk).update(budget_spent=F("budget_spent") + award.points)
    if budgeted:
        evaluation.awards = [a for a in evaluation.awards if a.points > 0]


CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    """When a sale or an action happened: not in the future (beyond a few minutes of clock
    skew between the till and us) and not before 2000 (a year-1 date is a client bug)."""
    if occurred_at is None:
        return
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidValue("occurred_at is in the future.", field="occurred_at")
    if occurred_at < EARLIEST:
        raise InvalidValue("occurred_at is before 2000-01-01.", field="occurred_at")


def check_total(points: int, field: str = "amount") -> None:
    if points > MAX_POINTS:
        raise InvalidValue(
            f"This would earn {points} points, more than the {MAX_POINTS} one entry can hold.",
            field=field,
        )


def top_rule_id(awards: Sequence[AwardLine]) -> int | None:
    rule_awards = [a for a in awards if a.rule is not None]
    if not rule_awards:
        return None
    return max(rule_awards, key=lambda a: (a.points, a.rule.priority, -a.rule.pk)).rule.pk


def credit(
    *,
    member: Member,
    evaluation: Evaluation,
    actor: str,
    reason: str,
    reference: str,
    pending_days: int | None,
    metadata: dict[str, Any],
    clock: Clock,
) -> Entry | None:
    """One ledger credit for the evaluation's total (nothing when it is zero)."""
    total = evaluation.total
    if total <= 0:
        return None
    check_total(total)
    return points_credit(
        member=member, points=total, actor=actor, reason=reason, reference=reference,
        pending_days=pending_days, rule_id=top_rule_id(evaluation.awards),
        metadata={**metadata, "awards": [a.as_dict() for a in evaluation.awards]}, clock=clock,
    )


def record_awards(
    *,
    member: Member,
    evaluation: Evaluation,
    entry: Entry | None,
    now: datetime,
    order: Order | None = None,
    event: Event | None = None,
) -> None:
    awards = evaluation.rule_awards
    if not awards:
        return
    if connection.vendor == "postgresql":
        # Every order with points writes these: one prepared statement for any number of rows.
        with prepared_cursor() as cursor:
            cursor.execute(_awards_insert(order="%(aw_order)s::bigint", source=""), {
                "merchant": member.merchant_id, "program": member.program_id,
                "member": member.pk, "now": now, "aw_order": order.pk if order else None,
                **_award_params(evaluation, entry, event),
            })
        return
    Award._base_manager.bulk_create(
        Award(
            merchant_id=member.merchant_id, program_id=member.program_id, member_id=member.pk,
            rule_id=a.rule.pk, points=a.points, order=order, event=event, entry=entry,
            created_at=now,
        )
        for a in awards
    )


def awards_cte(*, evaluation: Evaluation, entry: Entry | None, order_cte: str
               ) -> tuple[str, dict[str, Any]]:
    """``record_awards`` of an order as a CTE for ``events.outbox.emit_with``'s statement
    (PostgreSQL), after the CTE ``order_cte`` that inserts the order; ``("", {})`` when the
    evaluation awarded no rule. It uses the event's ``merchant``, ``program``, ``member`` and
    ``now``, which are the order's."""
    if not evaluation.rule_awards:
        return "", {}
    sql = f"aw AS ({_awards_insert(order=f'{order_cte}.id', source=f'{order_cte}, ')})"
    return sql, _award_params(evaluation, entry, None)


def _awards_insert(*, order: str, source: str) -> str:
    """The awards' INSERT (PostgreSQL): one row per rule award, from two arrays."""
    return f"""INSERT INTO {connection.ops.quote_name(Award._meta.db_table)} (
        merchant_id, program_id, member_id, rule_id, points, order_id, event_id, entry_id,
        created_at)
    SELECT %(merchant)s, %(program)s, %(member)s, v.rule_id, v.points, {order},
           %(aw_event)s::bigint, %(aw_entry)s::bigint, %(now)s::timestamptz
    FROM {source}unnest(%(aw_rules)s::bigint[], %(aw_points)s::bigint[]) AS v(rule_id, points)
"""  # names only: every value is a parameter


def _award_params(evaluation: Evaluation, entry: Entry | None,
                  event: Event | None) -> dict[str, Any]:
    awards = evaluation.rule_awards
    return {"aw_event": event.pk if event else None, "aw_entry": entry.pk if entry else None,
            "aw_rules": [a.rule.pk for a in awards], "aw_points": [a.points for a in awards]}


def with_figures(member: Member, entry: Entry | None) -> Member:
    """``member`` (read under its lock, with customer and tier) carrying the figures after
    ``entry``: saves re-reading it. The locked row plus the earn entry's deltas are exactly what
    the ledger wrote (an earn entry adds to lifetime what it makes spendable).
    """
    if entry is not None:
        member.balance = entry.balance_after
        member.pending_points += entry.pending_delta
        member.reserved_points += entry.reserved_delta
        member.lifetime_points += entry.balance_delta
        member.last_activity_at = entry.created_at
    return apply_member_updates(member, entry)
