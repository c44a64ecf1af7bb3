"""Rules, orders, refunds, preview and events over REST (SPEC 15). Thin: services decide."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from loyaltysite.api.auth import ApiKeyPrincipal, HasMerchantApiKey
from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.views import IDEMPOTENCY_HEADER, ProgramApi, validated
from loyaltysite.currencies import quantize_money
from loyaltysite.errors import IdempotencyConflict, ValidationFailed
from members.api.serializers import MemberOut

from .. import selectors, services
from ..models import EarningRule, Order
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


def _money(amount: Decimal, currency: str) -> str:
    return str(quantize_money(amount, currency))


def _paginate(view: ProgramApi, filterset, out) -> Response:
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    paginator = PagePagination()
    page = paginator.paginate_queryset(filterset.qs, view.request, view=view)
    return paginator.get_paginated_response(out(page, many=True).data)


# ---------------------------------------------------------------------------------------------
# Rules


class RuleListApi(ProgramApi):
    @extend_schema(
        responses=RuleOut(many=True), operation_id="rules_list",
        parameters=[OpenApiParameter("kind", str, enum=EarningRule.Kind.values),
                    OpenApiParameter("is_active", bool), OpenApiParameter("page", int),
                    OpenApiParameter("page_size", int)],
    )
    def get(self, request, program):
        qs = selectors.rule_list(program=self.program()).select_related("program")
        return _paginate(self, RuleFilter(request.query_params, queryset=qs), RuleOut)

    @extend_schema(request=RuleIn, responses={201: RuleOut}, parameters=[IDEMPOTENCY_HEADER],
                   operation_id="rules_create")
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

    @extend_schema(responses=RuleOut, operation_id="rules_retrieve")
    def get(self, request, program, rule):
        return Response(render(RuleOut, self.rule()))

    @extend_schema(request=RuleIn(partial=True), responses=RuleOut,
                   parameters=[IDEMPOTENCY_HEADER], operation_id="rules_partial_update")
    def patch(self, request, program, rule):
        target = self.rule()
        data = validated(RuleIn, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            return http.HTTP_200_OK, render(RuleOut, services.rule_update(rule=target, **data))

        return self.idempotent(run, program=self.program())

    @extend_schema(responses={204: None}, operation_id="rules_destroy")
    def delete(self, request, program, rule):
        services.rule_delete(rule=self.rule())
        return Response(status=http.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Orders


def order_result_body(result: services.OrderResult, pending_days: int) -> dict[str, Any]:
    order, entry = result.order, result.order.entry
    pending = bool(entry is not None and entry.pending_delta)
    return {
        "order_id": order.order_id,
        "status": order.status,
        "currency": order.currency,
        "amount": _money(order.amount, order.currency),
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
    @extend_schema(
        responses=OrderOut(many=True), operation_id="orders_list",
        parameters=[OpenApiParameter("member", int), OpenApiParameter("status", str),
                    OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request, program):
        qs = selectors.order_list(program=self.program()).order_by("-id")
        return _paginate(self, OrderFilter(request.query_params, queryset=qs), OrderOut)

    @extend_schema(
        request=OrderIn, responses={201: OrderResultOut}, operation_id="orders_create",
        summary="Record a completed order: earns base points and every matching rule",
        description="Idempotent per order_id: a repeat replays the first answer; the same "
        "order_id with another body is IDEMPOTENCY_CONFLICT (422).",
    )
    def post(self, request, program):
        target = self.program()
        data = validated(OrderIn, request.data)
        data["order_id"] = data["order_id"].strip()
        if not data["order_id"]:
            raise ValidationFailed("order_id must not be blank.", field="order_id")

        def run():
            result = services.order_record(program=target, actor=self.actor, **data)
            return http.HTTP_201_CREATED, order_result_body(result, target.pending_days)

        try:
            return self.idempotent(run, program=target, key=f"order:{data['order_id']}")
        except IntegrityError as error:
            return self._recorded_earlier(target, data, error)

    def _recorded_earlier(self, program, data, error: IntegrityError) -> Response:
        """The order id was recorded longer ago than idempotency keys are kept."""
        order = Order._base_manager.filter(
            merchant_id=program.merchant_id, program_id=program.pk, order_id=data["order_id"]
        ).select_related("entry", "member__customer", "member__tier").first()
        if order is None:
            raise error
        if order.amount != data["amount"] or order.currency != data["currency"]:
            raise IdempotencyConflict(field="order_id")
        result = services.OrderResult(order=order, member=order.member, evaluation=None,
                                      enrolled=False)
        response = Response(order_result_body(result, program.pending_days),
                            status=http.HTTP_201_CREATED)
        response["Idempotent-Replayed"] = "true"
        return response


class OrderDetailApi(ProgramApi):
    @extend_schema(responses=OrderOut, operation_id="orders_retrieve")
    def get(self, request, program, order_id):
        return Response(OrderOut(selectors.order_get(program=self.program(),
                                                     order_id=order_id)).data)


class PreviewPermission(HasMerchantApiKey):
    """A preview writes nothing: read-only keys (a checkout page) may ask for one."""

    def has_permission(self, request, view) -> bool:
        if request.method == "POST" and isinstance(request.user, ApiKeyPrincipal):
            return True
        return super().has_permission(request, view)


class OrderPreviewApi(ProgramApi):
    permission_classes = [PreviewPermission]

    @extend_schema(request=PreviewIn, responses=PreviewOut, operation_id="orders_preview",
                   summary="What an order would earn, writing nothing")
    def post(self, request, program):
        target = self.program()
        data = validated(PreviewIn, request.data)
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
    @extend_schema(request=RefundIn, responses={201: RefundOut}, parameters=[IDEMPOTENCY_HEADER],
                   operation_id="orders_refund",
                   summary="Refund an order (amount or items): reverses its points in proportion")
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
                    "id": refund.pk, "amount": _money(refund.amount, order.currency),
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
    @extend_schema(
        request=EventIn, responses={201: EventResultOut}, operation_id="events_create",
        summary="Record a customer action; every matching event rule fires",
        description="Idempotent per event_id. A failure inside rule evaluation is logged and "
        "answered as nothing awarded (failed: true), never as a 500.",
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
