"""Errors of the earning app (codes stable, see SPEC 16)."""

from __future__ import annotations

from loyaltysite.errors import NotFound, Unprocessable


class OrderNotFound(NotFound):
    code, title = "ORDER_NOT_FOUND", "Order not found."


class InvalidRuleConfig(Unprocessable):
    """A rule's ``config`` does not fit its kind (each kind takes its own keys and ranges, and
    a tier bonus names one of the program's tiers): refused as a rule of the operation."""

    code, title = "INVALID_RULE_CONFIG", "The rule's config does not fit its kind."
    bad_input = True


class RefundExceedsOrder(Unprocessable):
    code, title = "REFUND_EXCEEDS_ORDER", "The refund is larger than what is left to refund."
