"""PostgreSQL fast paths for the two hottest ledger writes: credit and debit.

They do exactly what the ORM code in ``ledger.services`` does (which still runs on SQLite, and
on PostgreSQL whenever a fast path declines), in fewer round trips:

* a credit is one statement: data-modifying CTEs update the member (the UPDATE takes the row
  lock; under READ COMMITTED a concurrent writer's change is re-read before it applies, so
  nothing is lost), insert the entry with the new balance, and insert the lot. Outside a
  transaction it commits by itself: one round trip instead of six.
* a debit locks the member first (lots must be read after the lock, never from a snapshot
  taken before it), then consumes lots first-to-expire first, updates the member and inserts
  the entry in one statement.

Both answer ``None`` when the member is not in a state they handle (inactive, missing, not
enough points): the caller then takes the ORM path, which raises the right error.
The tests run on both databases, so each path is proven against the same expectations, and
``tests/ledger/test_fast_path.py`` compares the rows both paths write.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from events.outbox import emitted as schedule_emitted
from events.outbox import event_params
from loyaltysite.db import prepared_cursor

from . import events, hooks
from .models import Entry

ENABLED = True  # tests switch it off to compare both paths


def available() -> bool:
    return ENABLED and connection.vendor == "postgresql"


def _entry(row_id: int, **fields: Any) -> Entry:
    entry = Entry(id=row_id, **fields)
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def _json(value: dict[str, Any]) -> Any:
    return Entry._meta.get_field("metadata").get_db_prep_save(value, connection)


# ``{bump}``, ``{events}`` and ``{ids}`` are where ``ledger.events`` adds the entry's event.
CREDIT_TEMPLATE = """
WITH d AS (
    SELECT COALESCE(%(pending_days)s::integer, p.pending_days) AS days,
           p.expiry_policy, p.expiry_months
    FROM members_member mm JOIN members_program p ON p.id = mm.program_id
    WHERE mm.id = %(member)s
), m AS (
    UPDATE members_member mm SET
        balance = mm.balance + CASE WHEN d.days > 0 THEN 0 ELSE %(points)s END,
        pending_points = mm.pending_points + CASE WHEN d.days > 0 THEN %(points)s ELSE 0 END,
        lifetime_points = mm.lifetime_points
            + CASE WHEN d.days > 0 OR NOT %(lifetime)s THEN 0 ELSE %(points)s END,
        last_activity_at = %(now)s{bump}
    FROM d
    WHERE mm.id = %(member)s AND (NOT %(require_active)s OR mm.status = 'active')
    RETURNING mm.id, mm.merchant_id, mm.program_id, mm.balance, mm.pending_points,
              mm.reserved_points, mm.lifetime_points, d.days, d.expiry_policy, d.expiry_months,
              mm.customer_id, mm.card_id, mm.status, mm.tier_id, mm.event_sequence
), e AS (
    INSERT INTO ledger_entry (
        merchant_id, program_id, member_id, kind, points, balance_delta, pending_delta,
        reserved_delta, balance_after, reference, rule_id, reverses_id, actor, reason,
        metadata, created_at)
    SELECT m.merchant_id, m.program_id, m.id, 'earn', %(points)s,
           CASE WHEN m.days > 0 THEN 0 ELSE %(points)s END,
           CASE WHEN m.days > 0 THEN %(points)s ELSE 0 END,
           0, m.balance, %(reference)s, %(rule)s, NULL, %(actor)s, %(reason)s,
           %(metadata)s, %(now)s
    FROM m
    RETURNING id, merchant_id, program_id, balance_delta, pending_delta, balance_after, kind,
              points, reason, reference
), l AS (
    INSERT INTO ledger_lot (
        merchant_id, member_id, entry_id, points, remaining, pending, available_at,
        expires_at, created_at)
    SELECT e.merchant_id, m.id, e.id, %(points)s, %(points)s, m.days > 0,
           %(now)s + m.days * interval '1 day',
           CASE WHEN %(explicit_expiry)s THEN %(expires_at)s::timestamptz
                WHEN m.expiry_policy = 'after_earn'
                THEN %(now)s + make_interval(months => m.expiry_months::integer)
                ELSE NULL END,
           %(now)s
    FROM e, m
    RETURNING id
){events}
SELECT e.id, e.merchant_id, e.program_id, e.balance_delta, e.pending_delta, e.balance_after,
       m.pending_points, m.reserved_points, m.lifetime_points{ids}
FROM e, m
"""
CREDIT_SQL = events.plain_sql(CREDIT_TEMPLATE)


def credit(
    *,
    member_id: int,
    points: int,
    now: datetime,
    actor: str,
    reason: str,
    reference: str,
    pending_days: int | None,
    expires_at: datetime | None | bool,
    rule_id: int | None,
    metadata: dict[str, Any] | None,
    require_active: bool,
    lifetime: bool,
) -> Entry | None:
    explicit = expires_at is not True
    params = {
        "member": member_id, "points": points, "now": now, "actor": actor[:128],
        "reason": reason[:255], "reference": reference[:128], "pending_days": pending_days,
        "explicit_expiry": explicit, "expires_at": expires_at if explicit else None,
        "rule": rule_id, "metadata": _json(metadata or {}), "require_active": require_active,
        "lifetime": lifetime,
    }
    sql = CREDIT_SQL
    event_type = events.event_type_for(Entry.Kind.EARN)
    if event_type is not None:
        sql = events.fast_path_sql(CREDIT_TEMPLATE)
        params.update(event_params(event_type, now))
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    (entry_id, merchant_id, program_id, balance_delta, pending_delta, balance_after,
     pending_points, reserved_points, lifetime_points, *deliveries) = row
    emitted(deliveries)
    entry = _entry(
        entry_id, merchant_id=merchant_id, program_id=program_id, member_id=member_id,
        kind=Entry.Kind.EARN, points=points, balance_delta=balance_delta,
        pending_delta=pending_delta, reserved_delta=0, balance_after=balance_after,
        reference=params["reference"], rule_id=rule_id, reverses_id=None,
        actor=params["actor"], reason=params["reason"], metadata=metadata or {},
        created_at=now,
    )
    # the member's figures as the statement left them (RETURNING): an answer needs no re-read
    entry.member_figures = {
        "balance": balance_after, "pending_points": pending_points,
        "reserved_points": reserved_points, "lifetime_points": lifetime_points,
        "last_activity_at": now,
    }
    _after_post(entry, pending_points, reserved_points, lifetime_points,
                lifetime_delta=balance_delta if lifetime else 0)
    return entry


def emitted(deliveries: list) -> None:
    """Schedule the deliveries the statement fanned its event out to (if it wrote one)."""
    if deliveries:
        schedule_emitted(list(deliveries[0] or []))


def _after_post(entry: Entry, pending_points: int, reserved_points: int, lifetime_points: int,
                *, lifetime_delta: int) -> None:
    if hooks.active():
        hooks.after_post(hooks.Posted(
            entry=entry, member_id=entry.member_id, merchant_id=entry.merchant_id,
            program_id=entry.program_id, balance=entry.balance_after,
            pending_points=pending_points, reserved_points=reserved_points,
            lifetime_points=lifetime_points, lifetime_delta=lifetime_delta,
        ))


LOCK_SQL = "SELECT balance, status FROM members_member WHERE id = %s FOR UPDATE"

# The member's spendable lots taken first-to-expire first (what ``_consume_lots`` does), for
# the debit and the reservation: ``take`` is each lot's share, ``lots`` the UPDATE of them.
TAKE_LOTS = """WITH ordered AS (
    SELECT id, remaining,
           SUM(remaining) OVER (ORDER BY expires_at ASC NULLS LAST, id) AS running
    FROM ledger_lot
    WHERE member_id = %(member)s AND remaining > 0 AND NOT pending
), take AS (
    SELECT id, running, LEAST(remaining, %(points)s - (running - remaining)) AS taken
    FROM ordered WHERE running - remaining < %(points)s
), lots AS (
    UPDATE ledger_lot l SET remaining = l.remaining - take.taken
    FROM take WHERE l.id = take.id
    RETURNING l.id
)"""
# ``[[lot id, points], ...]`` in the order taken, and how many points the lots gave.
ALLOCATIONS = """(SELECT COALESCE(jsonb_agg(jsonb_build_array(id, taken) ORDER BY running),
                               '[]'::jsonb) FROM take)"""
TAKEN = "(SELECT COALESCE(SUM(taken), 0) FROM take)"

DEBIT_TEMPLATE = TAKE_LOTS + """, m AS (
    UPDATE members_member mm SET balance = mm.balance - %(points)s,
        last_activity_at = %(now)s{bump}
    WHERE mm.id = %(member)s
    RETURNING mm.id, mm.merchant_id, mm.program_id, mm.balance, mm.pending_points,
              mm.reserved_points, mm.lifetime_points, mm.customer_id, mm.card_id, mm.status,
              mm.tier_id, mm.event_sequence
), e AS (
    INSERT INTO ledger_entry (
        merchant_id, program_id, member_id, kind, points, balance_delta, pending_delta,
        reserved_delta, balance_after, reference, rule_id, reverses_id, actor, reason,
        metadata, created_at)
    SELECT m.merchant_id, m.program_id, %(member)s, %(kind)s, -%(points)s, -%(points)s, 0, 0,
           m.balance, %(reference)s, NULL, NULL, %(actor)s, %(reason)s,
           %(metadata)s::jsonb || jsonb_build_object('lots', """ + ALLOCATIONS + """),
           %(now)s
    FROM m
    RETURNING id, merchant_id, program_id, balance_after, metadata, kind, points, reason,
              reference
){events}
SELECT e.id, e.merchant_id, e.program_id, e.balance_after, e.metadata,
       """ + TAKEN + """,
       m.pending_points, m.reserved_points, m.lifetime_points{ids}
FROM e, m
"""
DEBIT_SQL = events.plain_sql(DEBIT_TEMPLATE)


def debit(
    *,
    member_id: int,
    points: int,
    now: datetime,
    actor: str,
    reason: str,
    reference: str,
    kind: str,
    metadata: dict[str, Any] | None,
) -> Entry | None:
    with transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(LOCK_SQL, [member_id])
        locked = cursor.fetchone()
        if locked is None or locked[1] != "active" or locked[0] < points:
            return None  # the ORM path raises the matching error
        params = {
            "member": member_id, "points": points, "now": now, "actor": actor[:128],
            "reason": reason[:255], "reference": reference[:128], "kind": kind,
            "metadata": _json(metadata or {}),
        }
        sql = DEBIT_SQL
        event_type = events.event_type_for(kind)
        if event_type is not None:
            sql = events.fast_path_sql(DEBIT_TEMPLATE)
            params.update(event_params(event_type, now))
        cursor.execute(sql, params)
        (entry_id, merchant_id, program_id, balance_after, stored, taken, pending_points,
         reserved_points, lifetime_points, *deliveries) = cursor.fetchone()
        if taken != points:
            # The cached balance said there was enough: lots and cache disagree.
            raise RuntimeError(f"ledger lots of member {member_id} are short by "
                               f"{points - taken} points")
        if isinstance(stored, str):
            stored = json.loads(stored)
        entry = _entry(
            entry_id, merchant_id=merchant_id, program_id=program_id, member_id=member_id,
            kind=kind, points=-points, balance_delta=-points, pending_delta=0,
            reserved_delta=0, balance_after=balance_after, reference=params["reference"],
            rule_id=None, reverses_id=None, actor=params["actor"], reason=params["reason"],
            metadata=stored, created_at=now,
        )
        emitted(deliveries)
        _after_post(entry, pending_points, reserved_points, lifetime_points, lifetime_delta=0)
    return entry


# ---------------------------------------------------------------------------------------------
# Reservations: a hold and its confirmation (the caller holds the member's lock and has made
# every check; these write what ``points_reserve`` and ``hold_confirm`` write, in one statement)

RESERVE_SQL = TAKE_LOTS + """, m AS (
    UPDATE members_member mm SET balance = mm.balance - %(points)s,
        reserved_points = mm.reserved_points + %(points)s, last_activity_at = %(now)s
    WHERE mm.id = %(member)s
    RETURNING mm.id, mm.merchant_id, mm.program_id, mm.balance, mm.pending_points,
              mm.reserved_points, mm.lifetime_points
), e AS (
    INSERT INTO ledger_entry (
        merchant_id, program_id, member_id, kind, points, balance_delta, pending_delta,
        reserved_delta, balance_after, reference, rule_id, reverses_id, actor, reason,
        metadata, created_at)
    SELECT m.merchant_id, m.program_id, m.id, 'reserve', -%(points)s, -%(points)s, 0,
           %(points)s, m.balance, %(reference)s, NULL, NULL, %(actor)s, %(reason)s,
           '{}'::jsonb, %(now)s
    FROM m
    RETURNING id, merchant_id, program_id, balance_after
), h AS (
    INSERT INTO ledger_hold (
        merchant_id, program_id, member_id, points, status, reference, allocations,
        expires_at, created_at, settled_at)
    SELECT m.merchant_id, m.program_id, m.id, %(points)s, 'active', %(reference)s,
           """ + ALLOCATIONS + """,
           %(expires_at)s, %(now)s, NULL
    FROM m
    RETURNING id, allocations
)
SELECT e.id, e.merchant_id, e.program_id, e.balance_after, h.id, h.allocations,
       """ + TAKEN + """,
       m.pending_points, m.reserved_points, m.lifetime_points
FROM e, m, h
"""


def reserve(*, member_id: int, points: int, now: datetime, expires_at: datetime, actor: str,
            reason: str, reference: str) -> tuple[Entry, dict[str, Any]]:
    """``points_reserve``'s writes for a member the caller locked and checked: the lots
    consumed first-to-expire first, the member's figures, the ``reserve`` entry and the hold,
    in one statement. Returns the entry and the hold's columns."""
    params = {"member": member_id, "points": points, "now": now, "expires_at": expires_at,
              "actor": actor[:128], "reason": reason[:255], "reference": reference[:128]}
    with prepared_cursor() as cursor:
        cursor.execute(RESERVE_SQL, params)
        (entry_id, merchant_id, program_id, balance_after, hold_id, allocations, taken,
         pending_points, reserved_points, lifetime_points) = cursor.fetchone()
    if taken != points:
        # The cached balance said there was enough: lots and cache disagree.
        raise RuntimeError(f"ledger lots of member {member_id} are short by "
                           f"{points - taken} points")
    entry = _entry(
        entry_id, merchant_id=merchant_id, program_id=program_id, member_id=member_id,
        kind=Entry.Kind.RESERVE, points=-points, balance_delta=-points, pending_delta=0,
        reserved_delta=points, balance_after=balance_after, reference=params["reference"],
        rule_id=None, reverses_id=None, actor=params["actor"], reason=params["reason"],
        metadata={}, created_at=now,
    )
    _after_post(entry, pending_points, reserved_points, lifetime_points, lifetime_delta=0)
    hold = {"id": hold_id, "merchant_id": merchant_id, "program_id": program_id,
            "member_id": member_id, "points": points, "status": "active",
            "reference": params["reference"], "allocations": _loaded(allocations),
            "expires_at": expires_at, "created_at": now, "settled_at": None}
    return entry, hold


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# ``{bump}``, ``{events}`` and ``{ids}`` as in the credit's template (the points.redeemed event)
CONFIRM_TEMPLATE = """
WITH m AS (
    UPDATE members_member mm SET reserved_points = mm.reserved_points - %(points)s{bump}
    WHERE mm.id = %(member)s
    RETURNING mm.id, mm.merchant_id, mm.program_id, mm.balance, mm.pending_points,
              mm.reserved_points, mm.lifetime_points, mm.customer_id, mm.card_id, mm.status,
              mm.tier_id, mm.event_sequence
), e AS (
    INSERT INTO ledger_entry (
        merchant_id, program_id, member_id, kind, points, balance_delta, pending_delta,
        reserved_delta, balance_after, reference, rule_id, reverses_id, actor, reason,
        metadata, created_at)
    SELECT m.merchant_id, m.program_id, m.id, 'redeem', -%(points)s, 0, 0, -%(points)s,
           m.balance, %(reference)s, NULL, NULL, %(actor)s, %(reason)s,
           jsonb_build_object('hold', %(hold)s::bigint), %(now)s
    FROM m
    RETURNING id, merchant_id, program_id, balance_after, kind, points, reason, reference
), h AS (
    UPDATE ledger_hold SET status = 'confirmed', settled_at = %(now)s,
        reference = %(hold_reference)s
    WHERE id = %(hold)s
    RETURNING id
){events}
SELECT e.id, e.merchant_id, e.program_id, e.balance_after, m.pending_points,
       m.reserved_points, m.lifetime_points, (SELECT count(*) FROM h){ids}
FROM e, m
"""
CONFIRM_SQL = events.plain_sql(CONFIRM_TEMPLATE)


def confirm(*, member_id: int, hold_id: int, points: int, now: datetime, actor: str,
            reason: str, reference: str, hold_reference: str) -> Entry:
    """``hold_confirm``'s writes for a hold the caller locked (with its member) and checked:
    the ``redeem`` entry and its event, the member's figures and the hold, in one statement."""
    params = {"member": member_id, "points": points, "now": now, "actor": actor[:128],
              "reason": reason[:255], "reference": reference[:128], "hold": hold_id,
              "hold_reference": hold_reference[:128]}
    sql = CONFIRM_SQL
    event_type = events.event_type_for(Entry.Kind.REDEEM)
    if event_type is not None:
        sql = events.fast_path_sql(CONFIRM_TEMPLATE)
        params.update(event_params(event_type, now))
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        (entry_id, merchant_id, program_id, balance_after, pending_points, reserved_points,
         lifetime_points, settled, *deliveries) = cursor.fetchone()
    if settled != 1:
        raise RuntimeError(f"hold {hold_id} was not settled by its confirmation")
    entry = _entry(
        entry_id, merchant_id=merchant_id, program_id=program_id, member_id=member_id,
        kind=Entry.Kind.REDEEM, points=-points, balance_delta=0, pending_delta=0,
        reserved_delta=-points, balance_after=balance_after, reference=params["reference"],
        rule_id=None, reverses_id=None, actor=params["actor"], reason=params["reason"],
        metadata={"hold": hold_id}, created_at=now,
    )
    emitted(deliveries)
    _after_post(entry, pending_points, reserved_points, lifetime_points, lifetime_delta=0)
    return entry
