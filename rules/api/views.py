"""Rules, orders, refunds, preview and events over REST (SPEC 15). Thin: services decide."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.auth import ApiKeyPrincipal, HasMerchantApiKey
from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import document
from loyaltysite.api.views import ProgramApi, validated
from loyaltysite.errors import (
    CurrencyMismatch,
    IdempotencyConflict,
    InvalidValue,
    MemberInactive,
    MemberNotFound,
    ValidationFailed,
)
from loyaltysite.formatting import money_str
from members.api.serializers import MemberOut

from .. import selectors, services
from ..errors import InvalidRuleConfig, RefundExceedsOrder
from ..models import EarningRule, Order
from .batch import OrderBatchIn, OrderBatchOut, batch_orders, run_batch
from .filters import OrderFilter, RuleFilter
from .serializers import (
    EventIn,
    EventResultOut,
    OrderIn,
    OrderOut,
    OrderResultOut,
    PreviewIn,
    PreviewOut,
    RefundIn,
    RefundOut,
    RuleIn,
    RuleOut,
)

_datetime = serializers.DateTimeField()


def _when(moment: datetime | None) -> str | None:
    return _datetime.to_representation(moment) if moment is not None else None


ORDER_EXAMPLE = {
    "order_id": "A-10293", "external_id": "cust-1042", "amount": "30.50", "currency": "EUR",
    "items": [
        {"sku": "LATTE-L", "category": "coffee", "quantity": 2, "price": "4.25"},
        {"sku": "BEANS-1KG", "category": "beans", "quantity": 1, "price": "22.00"},
    ],
    "occurred_at": "2026-03-01T09:30:00Z",
}


class RuleListApi(ProgramApi):
    pagination_class = PagePagination
    filterset_class = RuleFilter

    @document(
        "rules_list", tag="rules", summary="List earning rules",
        description="The program's earning rules (deleted ones left out), with a plain-words "
        "`summary` of each.",
        responses=RuleOut(many=True),
    )
    def get(self, request, program):
        qs = selectors.rule_list(program=self.program()).select_related("program")
        return self.paginate(qs, RuleOut)

    @document(
        "rules_create", tag="rules", summary="Create an earning rule",
        description="A rule awards points on orders (`order`, `category`, `sku`, `tier_bonus`) "
        "or events (`event`), or once (`welcome`, `birthday`), within its window, caps, "
        "cooldown and budget. Its `config` depends on its `kind`.",
        request=RuleIn, responses={201: RuleOut}, errors=(InvalidRuleConfig, InvalidValue),
        examples=[OpenApiExample(
            "Double points on coffee", request_only=True,
            value={"name": "Double points on coffee", "kind": "category",
                   "config": {"categories": ["coffee"], "multiplier": "2"},
                   "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-31T23:59:59Z"},
        ), OpenApiExample(
            "50 points for a review", request_only=True,
            value={"name": "Review bonus", "kind": "event", "max_per_member": 5,
                   "config": {"event_type": "review", "points": 50,
                              "conditions": {"outcome": "approved"}}},
        )],
    )
    def post(self, request, program):
        target = self.program()
        data = validated(RuleIn, request.data)

        def run():
            rule = services.rule_create(program=target, **data)
            return http.HTTP_201_CREATED, render(RuleOut, rule)

        return self.idempotent(run, program=target)


class RuleDetailApi(ProgramApi):
    def rule(self) -> EarningRule:
        return selectors.rule_get(program=self.program(), rule_id=self.kwargs["rule"])

    @document("rules_retrieve", tag="rules", summary="Get an earning rule",
              description="One rule, with its config and how much of its budget is spent.",
              responses=RuleOut)
    def get(self, request, program, rule):
        return Response(render(RuleOut, self.rule()))

    @document(
        "rules_partial_update", tag="rules", summary="Change an earning rule",
        description="Send only the fields to change; a new `config` is checked against the "
        "rule's kind. Awards already made are kept.",
        request=RuleIn, responses=RuleOut, errors=(InvalidRuleConfig, InvalidValue),
    )
    def patch(self, request, program, rule):
        target = self.rule()
        data = validated(RuleIn, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            return http.HTTP_200_OK, render(RuleOut, services.rule_update(rule=target, **data))

        return self.idempotent(run, program=self.program())

    @document("rules_destroy", tag="rules", summary="Delete an earning rule",
              description="The rule stops awarding at once; its past awards stay in the ledger.",
              responses={204: None})
    def delete(self, request, program, rule):
        target = self.rule()

        def run():
            services.rule_delete(rule=target)
            return http.HTTP_204_NO_CONTENT, None

        return self.idempotent(run, program=self.program())


# ---------------------------------------------------------------------------------------------
# Orders


def order_result_body(result: services.OrderResult, pending_days: int) -> dict[str, Any]:
    order, entry = result.order, result.order.entry
    pending = bool(entry is not None and entry.pending_delta)
    return {
        "order_id": order.order_id,
        "status": order.status,
        "currency": order.currency,
        "amount": money_str(order.amount, order.currency),
        "points": order.points_earned,
        "pending": pending,
        "available_at": _when(entry.created_at + timedelta(days=pending_days))
        if pending else None,
        "awards": order.awards,
        "entry": entry.pk if entry is not None else None,
        "enrolled": result.enrolled,
        "member": render(MemberOut, result.member),
    }


class OrderListApi(ProgramApi):
    pagination_class = PagePagination
    filterset_class = OrderFilter

    @document(
        "orders_list", tag="orders", summary="List orders",
        description="Recorded orders, newest first, with what each earned and what refunds "
        "took back.",
        responses=OrderOut(many=True),
    )
    def get(self, request, program):
        qs = selectors.order_list(program=self.program()).order_by("-id")
        return self.paginate(qs, OrderOut)

    @document(
        "orders_create", tag="orders", summary="Record a completed order",
        description="Earns base points (`amount` times the program's earn rate) and every "
        "matching rule, in one ledger entry, pending for the program's return window. "
        "Name the customer by exactly one of `member`, `external_id` or `card_id`; an "
        "unknown `external_id` enrols a new member when the program auto-enrols. `amount` is "
        "what the customer paid in money; `points_discount` (the part paid with points) earns "
        "nothing; `items`, when given, must add up to `amount + points_discount`. Idempotent "
        "per `order_id` and per `Idempotency-Key`: a repeat replays the first answer, the same "
        "id with another body is `IDEMPOTENCY_CONFLICT`.",
        request=OrderIn, responses={201: OrderResultOut},
        errors=(MemberNotFound, MemberInactive, CurrencyMismatch, InvalidValue),
        examples=[OpenApiExample("A latte order", value=ORDER_EXAMPLE, request_only=True)],
    )
    def post(self, request, program):
        target = self.program()
        data = validated(OrderIn, request.data)
        data["order_id"] = data["order_id"].strip()

        def run():
            result = services.order_record(program=target, actor=self.actor, **data)
            return http.HTTP_201_CREATED, order_result_body(result, target.pending_days)

        try:
            return self.idempotent(run, program=target, key=f"order:{data['order_id']}")
        except IntegrityError:
            earlier = recorded_earlier(target, data)
            if earlier is None:
                raise
            response = Response(earlier, status=http.HTTP_201_CREATED)
            response["Idempotent-Replayed"] = "true"
            return response


def recorded_earlier(program, data: dict[str, Any]) -> dict[str, Any] | None:
    """The answer for an order id recorded longer ago than idempotency keys are kept (the
    order's row is still there), ``None`` when there is no such order; another amount or
    currency under the same id is ``IDEMPOTENCY_CONFLICT``."""
    order = Order._base_manager.filter(
        merchant_id=program.merchant_id, program_id=program.pk, order_id=data["order_id"]
    ).select_related("entry", "member__customer", "member__tier").first()
    if order is None:
        return None
    if order.amount != data["amount"] or order.currency != data["currency"]:
        raise IdempotencyConflict(field="order_id")
    result = services.OrderResult(order=order, member=order.member, evaluation=None,
                                  enrolled=False)
    return order_result_body(result, program.pending_days)


BATCH_EXAMPLE = {"orders": [
    ORDER_EXAMPLE,
    {"order_id": "A-10294", "card_id": "ZY1X-5CEZ-W6WK-3DQ4", "amount": "4.25", "currency": "EUR"},
]}


class OrderBatchApi(ProgramApi):
    @document(
        "orders_batch", tag="orders", summary="Record up to 500 orders at once",
        description="For a point of sale syncing after being offline, or a back-fill. Each "
        "element of `orders` is the body of a `POST /orders/` and is recorded exactly as that "
        "would record it; its result (in the same position) carries the `status` and the "
        "`body` that call would have answered, problem documents included: bad input or a "
        "refusal in one order is that order's 4xx, the others are still recorded. Idempotent "
        "per `order_id` like single orders (a replayed batch earns nothing twice; a replayed "
        "order answers its first answer with `replayed: true`; the same id with another body "
        "is `IDEMPOTENCY_CONFLICT`), and as a whole per `Idempotency-Key`. Recorded in chunks "
        "of 100, one transaction each, with set-based writes. More than 500 orders, or none, "
        "is a 400 naming `orders`.",
        request=OrderBatchIn, responses={200: OrderBatchOut},
        examples=[OpenApiExample("Two orders synced by a till", value=BATCH_EXAMPLE,
                                 request_only=True)],
    )
    def post(self, request, program):
        target = self.program()
        orders = batch_orders(request.data)
        orders_path = request.path.removesuffix("batch/")
        keyed = self.idempotency_key() is not None

        def run():
            return http.HTTP_200_OK, run_batch(
                program=target, orders=orders, orders_path=orders_path, actor=self.actor,
                merchant_id=self.merchant_id, one_transaction=keyed,
            )

        return self.idempotent(run, program=target)


class OrderDetailApi(ProgramApi):
    @document("orders_retrieve", tag="orders", summary="Get an order",
              description="An order by your order id: what it earned, what refunds took back "
              "and what is left to refund.", responses=OrderOut)
    def get(self, request, program, order_id):
        order = selectors.order_get(program=self.program(), order_id=order_id)
        return Response(render(OrderOut, order))


class PreviewPermission(HasMerchantApiKey):
    """A preview writes nothing: read-only keys (a checkout page) may ask for one."""

    def has_permission(self, request, view) -> bool:
        if request.method == "POST" and isinstance(request.user, ApiKeyPrincipal):
            return True
        return super().has_permission(request, view)


class OrderPreviewApi(ProgramApi):
    permission_classes = [PreviewPermission]
    idempotent_writes = False  # writes nothing: no key to honour, nothing to conflict with

    @document(
        "orders_preview", tag="orders", summary="Preview what an order would earn",
        description="The same body as `POST /orders/` (send the checkout's payload as it is; "
        "`order_id` is ignored and the customer is optional), evaluated the same way, writing "
        "nothing. Without a customer, or for an unknown `external_id`, it answers for a new "
        "member. Read-only keys may call it.",
        request=PreviewIn, responses=PreviewOut,
        errors=(MemberNotFound, MemberInactive, CurrencyMismatch, InvalidValue),
        examples=[OpenApiExample("A latte order", value=ORDER_EXAMPLE, request_only=True)],
    )
    def post(self, request, program):
        target = self.program()
        data = validated(PreviewIn, request.data)
        data.pop("order_id", None)
        result = services.order_preview(program=target, **data)
        evaluation = result.evaluation
        return Response({
            "points": evaluation.total,
            "pending": result.pending and evaluation.total > 0,
            "awards": [a.as_dict() for a in evaluation.awards],
            "skipped": evaluation.skipped,
            "new_member": result.new_member,
            "member": render(MemberOut, result.member) if result.member is not None else None,
        })


class OrderRefundApi(ProgramApi):
    @document(
        "orders_refund", tag="orders", summary="Refund an order (in money or by items)",
        description="Reverses the order's points in proportion, cumulatively (partial refunds "
        "never take back more than the order earned), pending points first, never below a "
        "zero balance (what could not be taken back is the `points_shortfall`); points that "
        "paid part of the order are given back in proportion. Give exactly one of `amount` "
        "or `items`. Send your `refund_id` to make the call idempotent without a key.",
        request=RefundIn, responses={201: RefundOut},
        errors=(RefundExceedsOrder, CurrencyMismatch, InvalidValue),
        examples=[OpenApiExample(
            "A returned bag of beans", request_only=True,
            value={"items": [{"sku": "BEANS-1KG", "quantity": 1}], "refund_id": "R-5521",
                   "reason": "Returned unopened"},
        ), OpenApiExample(
            "A partial refund in money", request_only=True,
            value={"amount": "8.50", "currency": "EUR", "refund_id": "R-5522"},
        )],
    )
    def post(self, request, program, order_id):
        target = self.program()
        data = validated(RefundIn, request.data)
        refund_id = data.pop("refund_id", None)
        selectors.order_get(program=target, order_id=order_id)  # 404 before any key is kept

        def run():
            result = services.order_refund(program=target, order_id=order_id, actor=self.actor,
                                           **data)
            refund, order = result.refund, result.order
            return http.HTTP_201_CREATED, {
                "refund": {
                    "id": refund.pk, "amount": money_str(refund.amount, order.currency),
                    "points_reversed": refund.points_reversed,
                    "points_shortfall": refund.points_shortfall,
                    "points_returned": refund.points_returned,
                },
                "order": render(OrderOut, order),
                "member": render(MemberOut, result.member),
            }

        key = f"refund:{order_id}:{refund_id}" if refund_id else None
        return self.idempotent(run, program=target, key=key)


# ---------------------------------------------------------------------------------------------
# Events


class EventListApi(ProgramApi):
    @document(
        "events_create", tag="events", summary="Record a customer action",
        description="Every active `event` rule whose `event_type` and conditions match "
        "awards its points (caps and cooldowns apply). Name the customer by exactly one of "
        "`member`, `external_id` or `card_id`. Idempotent per `event_id` and per "
        "`Idempotency-Key`. A failure inside rule evaluation is logged and answered as "
        "nothing awarded (`failed: true`), never as a 500.",
        request=EventIn, responses={201: EventResultOut},
        errors=(MemberNotFound, MemberInactive, InvalidValue),
        examples=[OpenApiExample(
            "An approved product review", request_only=True,
            value={"type": "review", "external_id": "cust-1042", "event_id": "rev-88121",
                   "outcome": "approved", "metadata": {"stars": 5, "sku": "BEANS-1KG"},
                   "occurred_at": "2026-03-02T18:04:00Z"},
        )],
    )
    def post(self, request, program):
        target = self.program()
        data = validated(EventIn, request.data)

        def run():
            result = services.event_record(program=target, actor=self.actor, **data)
            event = result.event
            return http.HTTP_201_CREATED, {
                "event_id": event.event_id, "type": event.type,
                "points": event.points_earned, "awards": event.awards, "failed": event.failed,
                "enrolled": result.enrolled, "member": render(MemberOut, result.member),
            }

        key = f"event:{data['event_id']}" if data.get("event_id") else None
        return self.idempotent(run, program=target, key=key)
