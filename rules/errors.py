"""Errors of the earning app (codes stable, see SPEC 16)."""

from __future__ import annotations

from loyaltysite.errors import NotFound, Unprocessable


class OrderNotFound(NotFound):
    code, title = "ORDER_NOT_FOUND", "Order not found."


class RefundExceedsOrder(Unprocessable):
    code, title = "REFUND_EXCEEDS_ORDER", "The refund is larger than what is left to refund."
