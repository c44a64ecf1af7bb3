"""``emit``: how every app writes a domain event (SPEC 11).

Call it inside the transaction that makes the change, after the change: the event commits or
rolls back with it. Apps may import this module from anywhere (it imports only ``members`` and
``loyaltysite``); it never imports them back.

What one ``emit`` writes, in the caller's transaction: the event (for a member, numbered with
the member's next ``sequence`` and carrying ``data.member``, the member's figures as they are
now, after the change), and one ``Delivery`` per active endpoint of the merchant that wants
the type. The deliveries' tasks are enqueued once the transaction commits. On PostgreSQL all
of it is one statement; the ledger's fast paths fold the same SQL (``event_ctes``) into their
own single statement, so an earn stays one round trip, and ``emit_with`` runs a caller's own
writes (an order, its awards) as CTEs of the event's statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from loyaltysite.clock import Clock, system_clock
from loyaltysite.db import prepared_cursor
from members.models import Customer, Member

from .catalogue import wants
from .models import (
    Delivery,
    EventIdField,
    OutboxEvent,
    WebhookEndpoint,
    new_event_id,
    uuid7,
)


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The member's figures every member event carries: the member's columns, and the customer's
# ``external_id`` (the id the merchant's own systems know).
FIGURES = ("id", "card_id", "external_id", "status", "balance", "pending_points",
           "reserved_points", "lifetime_points", "tier_id")


def member_figures(member: Member) -> dict[str, Any]:
    """The member's figures as events carry them (read from ``member`` as it is now).

    ``member_figures_sql`` is the same object built by PostgreSQL; a test holds them equal.
    """
    special = {"external_id": lambda: member.customer.external_id,
               "card_id": lambda: member.card_id_display}
    return {name: special[name]() if name in special else getattr(member, name)
            for name in FIGURES}


def _figure_columns(member: str, customer: str | None = None) -> list[str]:
    """SQL for each of ``FIGURES`` over a member row; ``external_id`` from the customer row,
    or, without one, from a subquery on the member's customer."""
    external = (f"{customer}.external_id" if customer else
                f"(SELECT c.external_id FROM {_table(Customer)} c WHERE c.id = {member}"
                ".customer_id)")
    card = " || '-' || ".join(  # the printed form, as card_id_display writes it
        f"substr({member}.card_id, {start}, 4)" for start in (1, 5, 9, 13))
    columns = {"external_id": external, "card_id": card}
    return [columns.get(name, f"{member}.{name}") for name in FIGURES]


def member_figures_sql(member: str, customer: str) -> str:
    """``member_figures`` as a PostgreSQL expression over a member row and its customer row."""
    pairs = zip(FIGURES, _figure_columns(member, customer), strict=True)
    return "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"


def event_ctes(*, source: str, merchant: str, program: str, member: str, sequence: str,
               data: str) -> str:
    """Two CTEs for a PostgreSQL statement: ``ev`` writes one event from the row(s) of
    ``source`` (a FROM list; each other argument is an SQL expression over it), and
    ``ev_deliveries`` fans it out to the merchant's active endpoints that want its type (the
    rule of ``catalogue.wants``). Parameters: ``event_id``, ``event_type``, ``now``.
    Select ``DELIVERY_IDS`` to learn which deliveries to schedule."""
    return f"""ev AS (
    INSERT INTO {_table(OutboxEvent)} (
        merchant_id, program_id, member_id, event_id, type, sequence, data, created_at)
    SELECT {merchant}, {program}, {member}, %(event_id)s, %(event_type)s, {sequence}, {data},
           %(now)s
    FROM {source}
    RETURNING id, merchant_id, type, sequence, data, created_at
), ev_deliveries AS (
    INSERT INTO {_table(Delivery)} (
        merchant_id, endpoint_id, event_id, status, attempts, attempts_before_resend,
        next_attempt_at, created_at)
    SELECT ev.merchant_id, w.id, ev.id, 'pending', 0, 0, ev.created_at, ev.created_at
    FROM ev JOIN {_table(WebhookEndpoint)} w ON w.merchant_id = ev.merchant_id AND w.is_active
    WHERE w.event_types = '[]'::jsonb OR w.event_types ? ev.type
       OR w.event_types ? (split_part(ev.type, '.', 1) || '.*')
    RETURNING id
)"""


DELIVERY_IDS = "ARRAY(SELECT id FROM ev_deliveries)"


def event_params(event_type: str, now: datetime) -> dict[str, Any]:
    return {"event_id": uuid7(now), "event_type": event_type, "now": now}


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder)


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@cache
def _member_event_sql(ctes: str = "", extra: str = "", data: str = "%(data)s::jsonb") -> str:
    """The member event's statement; ``ctes`` run first in it, ``extra`` is selected beside,
    ``data`` is the SQL of the event's data (the member's figures are added to it)."""
    return f"""WITH {ctes + ", " if ctes else ""}s AS (
    UPDATE {_table(Member)} m SET event_sequence = m.event_sequence + 1
    FROM {_table(Customer)} c
    WHERE m.id = %(member)s AND c.id = m.customer_id
    RETURNING m.event_sequence AS sequence, {member_figures_sql("m", "c")} AS figures
), {event_ctes(source="s", merchant="%(merchant)s", program="%(program)s",
               member="%(member)s", sequence="s.sequence",
               data=f"{data} || jsonb_build_object('member', s.figures)")}
SELECT ev.id, ev.sequence, ev.data, {DELIVERY_IDS}{extra} FROM ev"""


def _plain_event_sql() -> str:
    return f"""WITH s AS (SELECT 1), {event_ctes(
        source="s", merchant="%(merchant)s", program="%(program)s", member="NULL::bigint",
        sequence="NULL::bigint", data="%(data)s::jsonb")}
SELECT ev.id, ev.sequence, ev.data, {DELIVERY_IDS} FROM ev"""


def _emit_postgresql(event: OutboxEvent, ctes: str = "", extra: str = "",
                     more: dict[str, Any] | None = None,
                     data: str = "%(data)s::jsonb") -> tuple[list[int], tuple]:
    params = {
        "merchant": event.merchant_id, "program": event.program_id, "member": event.member_id,
        "event_id": EventIdField.as_uuid(event.event_id), "event_type": event.type,
        "now": event.created_at,
        "data": _json(event.data), **(more or {}),
    }
    sql = (_member_event_sql(ctes, extra, data) if event.member_id is not None
           else _plain_event_sql())
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"member {event.member_id} does not exist")
    event.pk, event.sequence, stored, delivery_ids, *selected = row
    event.data = _loaded(stored)
    event._state.adding = False
    event._state.db = connection.alias
    return list(delivery_ids or []), tuple(selected)


def _next_sequence(member_id: int) -> tuple[int, dict[str, Any]]:
    """The member's next event number and their figures now. The UPDATE locks the member row
    (writers of a member's points hold that lock already), so numbers follow commit order with
    no gap or repeat."""
    table = _table(Member)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_sequence = event_sequence + 1 WHERE id = %s RETURNING "
            f"event_sequence, {', '.join(_figure_columns(table))}",  # names only, no input
            [member_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"member {member_id} does not exist")
    return row[0], dict(zip(FIGURES, row[1:], strict=True))


def _emit_orm(event: OutboxEvent) -> list[int]:
    """The same as ``_emit_postgresql`` in several queries (SQLite)."""
    if event.member_id is not None:
        event.sequence, figures = _next_sequence(event.member_id)
        event.data = {**event.data, "member": figures}
    event.data = json.loads(_json(event.data))  # as stored (and as PostgreSQL returns it)
    event.save(force_insert=True)
    endpoints = WebhookEndpoint._base_manager.filter(
        merchant_id=event.merchant_id, is_active=True
    ).values_list("id", "event_types")
    deliveries = Delivery._base_manager.bulk_create(
        Delivery(merchant_id=event.merchant_id, endpoint_id=endpoint_id, event=event,
                 next_attempt_at=event.created_at, created_at=event.created_at)
        for endpoint_id, types in endpoints
        if wants(types, event.type)
    )
    return [d.pk for d in deliveries]


def emit(
    type: str,
    *,
    merchant_id: int,
    data: dict[str, Any],
    program_id: int | None = None,
    member_id: int | None = None,
    clock: Clock = system_clock,
    at: datetime | None = None,
) -> OutboxEvent:
    """Write one domain event in the current transaction (which must exist).

    With ``member_id``, ``data["member"]`` is (re)written with the member's figures as the
    transaction sees them now. ``at`` is the event's time when the caller has it already.
    """
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"emit({type!r}) must run inside the transaction of the change it reports"
        )
    created_at = at or clock.now()
    event = OutboxEvent(
        merchant_id=merchant_id, program_id=program_id, member_id=member_id, type=type,
        data=data, created_at=created_at, event_id=new_event_id(created_at),
    )
    if connection.vendor == "postgresql":
        delivery_ids, _ = _emit_postgresql(event)
    else:
        delivery_ids = _emit_orm(event)
    emitted(delivery_ids)
    return event


def emit_with(
    type: str,
    *,
    merchant_id: int,
    program_id: int | None,
    member_id: int,
    data: dict[str, Any],
    at: datetime,
    ctes: str,
    params: dict[str, Any],
    select: str,
    data_sql: str = "%(data)s::jsonb",
) -> tuple[OutboxEvent, tuple]:
    """``emit`` of a member's event on PostgreSQL in one statement with the caller's change:
    ``ctes`` (data-modifying CTEs with named ``params``, none of the event's own names:
    ``merchant``, ``program``, ``member``, ``event_id``, ``event_type``, ``now``, ``data``) run
    first, and ``select`` (``, expr, expr``) reads back what they wrote. One round trip for a
    write and its event; the event's ``data.member`` is the member's figures as ``emit``
    writes them. ``data_sql``: the data as SQL over ``%(data)s::jsonb`` and the CTEs, for a
    payload naming a key the statement makes (``jsonb_set(..., (SELECT id FROM x))``)."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"emit_with({type!r}) must run inside the transaction of the change it reports"
        )
    if connection.vendor != "postgresql":
        raise RuntimeError("emit_with is PostgreSQL's; elsewhere write the change, then emit")
    event = OutboxEvent(
        merchant_id=merchant_id, program_id=program_id, member_id=member_id, type=type,
        data=data, created_at=at, event_id=new_event_id(at),
    )
    delivery_ids, selected = _emit_postgresql(event, ctes, select, params, data_sql)
    emitted(delivery_ids)
    return event, selected


def emitted(delivery_ids: list[int]) -> None:
    """Schedule the deliveries an event fanned out to (their tasks run after the commit)."""
    if delivery_ids:
        from .delivery import schedule

        schedule(delivery_ids)


def emit_many(
    type: str,
    *,
    merchant_id: int,
    program_id: int | None,
    members: Iterable[tuple[int, dict[str, Any]]],
    clock: Clock = system_clock,
) -> list[OutboxEvent]:
    """``emit`` of one event for each of many members (a scheduled job's batch): one statement
    numbers them all (each member's next ``sequence``, with their figures), one inserts them,
    one fans them out to the endpoints that want the type, instead of a statement or three per
    event. The caller holds the members' row locks (a job locks its batch first, in
    primary-key order), so the numbers follow commit order as ``emit``'s do."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"emit_many({type!r}) must run inside the transaction of the change it reports"
        )
    batch = list(members)
    ids = [member_id for member_id, _ in batch]
    if len(set(ids)) != len(ids):
        raise ValueError("emit_many takes one event per member")
    table = _table(Member)
    numbered: dict[int, tuple[int, dict[str, Any]]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            cursor.execute(
                f"UPDATE {table} SET event_sequence = event_sequence + 1"
                f" WHERE id IN ({', '.join(['%s'] * len(chunk))})"
                f" RETURNING id, event_sequence, {', '.join(_figure_columns(table))}",
                chunk,
            )  # only names and placeholders are formatted in
            for row in cursor.fetchall():
                numbered[row[0]] = (row[1], dict(zip(FIGURES, row[2:], strict=True)))
    missing = set(ids) - set(numbered)
    if missing:
        raise LookupError(f"members {sorted(missing)[:5]} do not exist")
    now = clock.now()
    events = OutboxEvent._base_manager.bulk_create([
        OutboxEvent(
            merchant_id=merchant_id, program_id=program_id, member_id=member_id, type=type,
            sequence=numbered[member_id][0], created_at=now, event_id=new_event_id(now),
            data=json.loads(_json({**data, "member": numbered[member_id][1]})),
        )
        for member_id, data in batch
    ])
    endpoints = [
        endpoint_id for endpoint_id, types in WebhookEndpoint._base_manager.filter(
            merchant_id=merchant_id, is_active=True
        ).values_list("id", "event_types")
        if wants(types, type)
    ]
    if endpoints and events:
        deliveries = Delivery._base_manager.bulk_create(
            Delivery(merchant_id=merchant_id, endpoint_id=endpoint_id, event=event,
                     next_attempt_at=now, created_at=now)
            for event in events for endpoint_id in endpoints
        )
        emitted([d.pk for d in deliveries])
    return events


def _numbered_insert_sql() -> str:
    # One JSON document of [member id, sequence, event id, data] rows: a jsonb[] parameter
    # would be quoted element by element on the client, which costs more than the insert.
    return f"""WITH v AS (
    SELECT (e->>0)::bigint AS member_id, (e->>1)::bigint AS sequence, (e->>2)::uuid AS event_id,
           e->3 AS data
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
), ev AS (
    INSERT INTO {_table(OutboxEvent)} (merchant_id, program_id, member_id, event_id, type,
                                       sequence, data, created_at)
    SELECT %(merchant)s, %(program)s, v.member_id, v.event_id, %(type)s, v.sequence, v.data,
           %(now)s
    FROM v ORDER BY v.member_id
    RETURNING id
), dl AS (
    INSERT INTO {_table(Delivery)} (merchant_id, endpoint_id, event_id, status, attempts,
                                    attempts_before_resend, next_attempt_at, created_at)
    SELECT %(merchant)s, w.id, ev.id, 'pending', 0, 0, %(now)s, %(now)s
    FROM ev CROSS JOIN unnest(%(endpoints)s::bigint[]) AS w(id)
    RETURNING id
)
SELECT (SELECT count(*) FROM ev), ARRAY(SELECT id FROM dl)"""


def emit_numbered(
    type: str,
    *,
    merchant_id: int,
    program_id: int | None,
    events: Iterable[tuple[int, int, dict[str, Any]]],
    clock: Clock = system_clock,
) -> int:
    """Write events ``(member id, sequence, data)`` whose members the caller numbered itself,
    in its own statement, and whose ``data["member"]`` holds their figures after the change:
    a bulk write path that updates many members' rows (an import's balances) sets
    ``event_sequence = event_sequence + 1`` in that same UPDATE and takes the figures from its
    ``RETURNING`` (``member_figures_sql``), as the ledger's fast paths do for one member, so
    no member row is written twice. Fanned out to the endpoints that want the type like every
    event; on PostgreSQL one statement per 20,000. Returns how many were written."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"emit_numbered({type!r}) must run inside the transaction of the change it reports"
        )
    batch = list(events)
    endpoints = [
        endpoint_id for endpoint_id, types in WebhookEndpoint._base_manager.filter(
            merchant_id=merchant_id, is_active=True
        ).values_list("id", "event_types")
        if wants(types, type)
    ]
    now = clock.now()
    if connection.vendor != "postgresql":
        stored = OutboxEvent._base_manager.bulk_create([
            OutboxEvent(merchant_id=merchant_id, program_id=program_id, member_id=member_id,
                        type=type, sequence=sequence, data=json.loads(_json(data)),
                        created_at=now, event_id=new_event_id(now))
            for member_id, sequence, data in batch
        ])
        deliveries = Delivery._base_manager.bulk_create(
            Delivery(merchant_id=merchant_id, endpoint_id=endpoint_id, event=event,
                     next_attempt_at=now, created_at=now)
            for event in stored for endpoint_id in endpoints
        )
        emitted([d.pk for d in deliveries])
        return len(stored)
    written = 0
    delivery_ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(batch), 20_000):
            chunk = batch[start:start + 20_000]
            cursor.execute(_numbered_insert_sql(), {
                "rows": _json([[member_id, sequence, uuid7(now).hex, data]
                               for member_id, sequence, data in chunk]),
                "merchant": merchant_id, "program": program_id, "type": type, "now": now,
                "endpoints": endpoints,
            })
            count, deliveries = cursor.fetchone()
            written += count
            delivery_ids += deliveries or []
    emitted(delivery_ids)
    return written


__all__ = ["emit", "emit_many", "emit_numbered", "emit_with", "member_figures"]
