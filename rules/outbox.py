"""The ``order.*`` events (SPEC 11), written in the order's or the refund's transaction.

``events.outbox.emit`` adds the member's figures after the change; the ledger's own
``points.earned`` / ``points.reversed`` for the same order precede these.
"""

from __future__ import annotations

from typing import Any

from events.outbox import emit, emit_with
from loyaltysite.formatting import money_str

from .models import Order, Refund


def order_payload(order: Order) -> dict[str, Any]:
    currency = order.currency
    return {
        "order_id": order.order_id,
        "status": order.status,
        "currency": currency,
        "amount": money_str(order.amount, currency),
        "points_discount": money_str(order.points_discount, currency),
        "amount_refunded": money_str(order.amount_refunded, currency),
        "points_earned": order.points_earned,
        "points_reversed": order.points_reversed,
        "points_shortfall": order.points_shortfall,
        "entry": order.entry_id,
        "occurred_at": order.occurred_at,
    }


def emit_order_recorded(order: Order) -> None:
    emit("order.recorded", merchant_id=order.merchant_id, program_id=order.program_id,
         member_id=order.member_id, at=order.created_at, data=order_recorded_data(order))


def emit_order_recorded_with(order: Order, *, ctes: str, params: dict[str, Any],
                             select: str) -> tuple:
    """``emit_order_recorded`` in one statement with the order's own writes (PostgreSQL):
    ``events.outbox.emit_with``. The payload names no primary key, so it is known before."""
    _, selected = emit_with(
        "order.recorded", merchant_id=order.merchant_id, program_id=order.program_id,
        member_id=order.member_id, at=order.created_at, data=order_recorded_data(order), ctes=ctes,
        params=params, select=select,
    )
    return selected


def order_recorded_data(order: Order) -> dict[str, Any]:
    """``order.recorded``'s data but the member's figures (which ``emit`` adds)."""
    return {"order": {**order_payload(order), "awards": order.awards}}


def emit_order_refunded(order: Order, refund: Refund) -> None:
    currency = order.currency
    emit("order.refunded", merchant_id=order.merchant_id, program_id=order.program_id,
         member_id=order.member_id, at=refund.created_at, data={
             "order": order_payload(order),
             "refund": {
                 "id": refund.pk,
                 "amount": money_str(refund.amount, currency),
                 "points_reversed": refund.points_reversed,
                 "points_shortfall": refund.points_shortfall,
                 "points_returned": refund.points_returned,
                 "entry": refund.entry_id,
                 "reason": refund.reason,
             },
         })
