"""What other apps hear when an order is recorded or refunded, inside its transaction.

Referrals convert on a referee's first qualifying order and claw back on its refund; tiers
count money spent. They register here from their ``AppConfig.ready()`` instead of ``rules``
importing them. Hooks run after the order's rows and its ledger entry are written, under the
member's row lock, so whatever they write commits or rolls back with the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .services.orders import OrderResult, RefundResult

OrderRecorded = Callable[["OrderResult"], None]
OrderRefunded = Callable[["RefundResult"], None]
_recorded: list[OrderRecorded] = []
_refunded: list[OrderRefunded] = []


def register_order_recorded(hook: OrderRecorded) -> None:
    if hook not in _recorded:
        _recorded.append(hook)


def register_order_refunded(hook: OrderRefunded) -> None:
    if hook not in _refunded:
        _refunded.append(hook)


def order_recorded(result: OrderResult) -> None:
    for hook in list(_recorded):
        hook(result)


def order_refunded(result: RefundResult) -> None:
    for hook in list(_refunded):
        hook(result)
