"""The ``points.*`` events: what the ledger tells the outbox about a posted entry (SPEC 11).

Every entry that moves points in or out of a member's holdings, or makes pending points
spendable, is an event in the posting's transaction. Reservations and their release are
transfers inside a redemption, which ``rewards`` reports as ``reward.*`` events.

The ORM path calls ``emit_entry`` (``events.outbox.emit``). The PostgreSQL fast paths put the
same event into their own single statement (``fast_path_sql``), so an earn stays one round
trip; ``entry_payload`` and ``ENTRY_SQL`` build the same object, which a test holds equal.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection

from events.outbox import DELIVERY_IDS, emit, event_ctes, member_figures_sql
from members.models import Customer

from .models import Entry

ENTRY_EVENTS: dict[str, str] = {
    Entry.Kind.EARN: "points.earned",
    Entry.Kind.ADJUST: "points.adjusted",
    Entry.Kind.REDEEM: "points.redeemed",
    Entry.Kind.REVERSE: "points.reversed",
    Entry.Kind.EXPIRE: "points.expired",
    Entry.Kind.AVAILABLE: "points.available",
}

# Benchmarks switch it off to measure what the outbox adds to an earn.
EMIT = True


def event_type_for(kind: str) -> str | None:
    return ENTRY_EVENTS.get(kind) if EMIT else None


def entry_payload(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "kind": str(entry.kind),
        "points": entry.points,
        "balance_after": entry.balance_after,
        "reason": entry.reason,
        "reference": entry.reference,
    }


ENTRY_SQL = (
    "jsonb_build_object('id', e.id, 'kind', e.kind, 'points', e.points, 'balance_after', "
    "e.balance_after, 'reason', e.reason, 'reference', e.reference)"
)


def emit_entry(entry: Entry) -> None:
    """Emit the entry's event, if its kind has one (the caller's transaction is open)."""
    event_type = event_type_for(entry.kind)
    if event_type is not None:
        emit(
            event_type, merchant_id=entry.merchant_id, program_id=entry.program_id,
            member_id=entry.member_id, data={"entry": entry_payload(entry)},
            at=entry.created_at,
        )


@cache
def fast_path_sql(template: str) -> str:
    """A fast path's statement that also writes the entry's event and its deliveries.

    ``template`` has ``{bump}`` (in the member UPDATE aliased ``mm``), ``{events}`` (after the
    last CTE) and ``{ids}`` (at the end of the final SELECT list); its CTEs ``e`` (the entry)
    and ``m`` (the member) return the columns the payloads read.
    """
    customer = connection.ops.quote_name(Customer._meta.db_table)
    data = f"jsonb_build_object('entry', {ENTRY_SQL}, 'member', {member_figures_sql('m', 'c')})"
    return template.format(
        bump=", event_sequence = mm.event_sequence + 1",
        events=", " + event_ctes(
            source=f"e, m JOIN {customer} c ON c.id = m.customer_id", merchant="m.merchant_id",
            program="m.program_id", member="m.id", sequence="m.event_sequence", data=data,
        ),
        ids=f", {DELIVERY_IDS}",
    )


def plain_sql(template: str) -> str:
    return template.format(bump="", events="", ids="")
