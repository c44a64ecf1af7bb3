"""Write paths of the earning app (see each module): rules, orders, events, awards."""

from .batch import members_locked, orders_record_many
from .common import Customer
from .events import EventResult, award_birthday, award_welcome, event_record
from .orders import (
    OrderResult,
    PreviewResult,
    RefundResult,
    order_facts,
    order_preview,
    order_record,
    order_refund,
)
from .rules import rule_clean, rule_create, rule_delete, rule_try, rule_update

__all__ = [
    "Customer", "EventResult", "OrderResult", "PreviewResult", "RefundResult",
    "award_birthday", "award_welcome", "event_record", "members_locked", "order_facts",
    "order_preview", "orders_record_many",
    "order_record", "order_refund", "rule_clean", "rule_create", "rule_delete", "rule_try",
    "rule_update",
]
