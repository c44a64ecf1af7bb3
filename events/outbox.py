"""``emit``: how every app writes a domain event (SPEC 11).

Call it inside the transaction that makes the change, after the change: the event commits or
rolls back with it. Apps may import this module from anywhere (it imports only ``members`` and
``loyaltysite``); it never imports them back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

from loyaltysite.clock import Clock, system_clock
from members.models import Member

from .models import OutboxEvent

# Called after each event is written, still inside the transaction (delivery scheduling).
_listeners: list[Callable[[OutboxEvent], None]] = []


def on_emit(listener: Callable[[OutboxEvent], None]) -> None:
    """Run ``listener(event)`` after every ``emit`` (idempotent per function)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _next_sequence(member_id: int) -> int:
    """The member's next event number. The UPDATE locks the member row (writers of a member's
    points hold that lock already), so numbers follow commit order with no gap or repeat."""
    table = connection.ops.quote_name(Member._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_sequence = event_sequence + 1 WHERE id = %s"
            " RETURNING event_sequence",  # only the table name is formatted in
            [member_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"member {member_id} does not exist")
    return row[0]


def member_figures(member: Member) -> dict[str, Any]:
    """The member's figures as events carry them (read from ``member`` as it is now)."""
    return {
        "id": member.pk,
        "card_id": member.card_id,
        "status": member.status,
        "balance": member.balance,
        "pending_points": member.pending_points,
        "reserved_points": member.reserved_points,
        "lifetime_points": member.lifetime_points,
        "tier_id": member.tier_id,
    }


def emit(
    type: str,
    *,
    merchant_id: int,
    data: dict[str, Any],
    program_id: int | None = None,
    member_id: int | None = None,
    clock: Clock = system_clock,
) -> OutboxEvent:
    """Write one domain event in the current transaction (which must exist)."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"emit({type!r}) must run inside the transaction of the change it reports"
        )
    sequence = _next_sequence(member_id) if member_id is not None else None
    event = OutboxEvent._base_manager.create(
        merchant_id=merchant_id, program_id=program_id, member_id=member_id, type=type,
        sequence=sequence, data=data, created_at=clock.now(),
    )
    for listener in _listeners:
        listener(event)
    return event


__all__ = ["emit", "member_figures", "on_emit"]
