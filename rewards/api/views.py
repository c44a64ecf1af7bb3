"""Rewards catalog, two-phase redemptions and vouchers over REST (SPEC 8, 15).

Thin: serializers check shape, ``rewards.services`` decides. Every write runs through
``self.idempotent`` (the ``Idempotency-Key`` header); the dry run writes nothing at all.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.views import IDEMPOTENCY_HEADER, ProgramApi, validated
from loyaltysite.errors import TierNotFound, ValidationFailed
from members.models import Member, Program
from members.selectors import member_find
from rewards import selectors, services
from rewards.models import Redemption, Reward, Voucher
from tiers.models import Tier

from .filters import RedemptionFilter, RewardFilter, VoucherFilter
from .serializers import (
    EmptyIn,
    RedemptionConfirmIn,
    RedemptionIn,
    RedemptionOut,
    RedemptionValidateOut,
    RewardIn,
    RewardOut,
    VoucherOut,
    VoucherUseIn,
)

PAGE = [OpenApiParameter("page", int), OpenApiParameter("page_size", int)]


def _page(view: ProgramApi, filterset_class, queryset, serializer_class) -> Response:
    filterset = filterset_class(view.request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    paginator = PagePagination()
    page = paginator.paginate_queryset(filterset.qs, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


# ---------------------------------------------------------------------------------------------
# Catalog


def _reward_fields(program: Program, data: dict[str, Any]) -> dict[str, Any]:
    fields = dict(data)
    if fields.get("min_tier") is not None:
        tier = Tier.objects.filter(program=program, pk=fields["min_tier"]).first()
        if tier is None:
            raise TierNotFound(field="min_tier")
        fields["min_tier"] = tier
    return fields


class RewardListApi(ProgramApi):
    @extend_schema(
        responses=RewardOut(many=True), operation_id="rewards_list",
        parameters=[
            OpenApiParameter("kind", str, enum=Reward.Kind.values),
            OpenApiParameter("is_active", bool), *PAGE,
        ],
    )
    def get(self, request, program):
        return _page(self, RewardFilter, selectors.reward_list(program=self.program()), RewardOut)

    @extend_schema(
        request=RewardIn, responses={201: RewardOut}, parameters=[IDEMPOTENCY_HEADER],
        operation_id="rewards_create",
    )
    def post(self, request, program):
        target = self.program()
        fields = _reward_fields(target, validated(RewardIn, request.data))

        def run():
            reward = services.reward_create(program=target, **fields)
            return http.HTTP_201_CREATED, render(RewardOut, reward)

        return self.idempotent(run, program=target)


class RewardDetailApi(ProgramApi):
    def reward(self) -> Reward:
        return selectors.reward_get(program=self.program(), reward_id=self.kwargs["reward"])

    @extend_schema(responses=RewardOut, operation_id="rewards_retrieve")
    def get(self, request, program, reward):
        return Response(render(RewardOut, self.reward()))

    @extend_schema(
        request=RewardIn, responses=RewardOut, parameters=[IDEMPOTENCY_HEADER],
        operation_id="rewards_partial_update",
    )
    def patch(self, request, program, reward):
        target = self.reward()
        data = validated(RewardIn, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")
        fields = _reward_fields(self.program(), data)

        def run():
            updated = services.reward_update(reward=target, **fields)
            return http.HTTP_200_OK, render(RewardOut, updated)

        return self.idempotent(run, program=self.program())

    @extend_schema(responses={204: None}, parameters=[IDEMPOTENCY_HEADER],
                   operation_id="rewards_destroy")
    def delete(self, request, program, reward):
        target = self.reward()

        def run():
            services.reward_delete(reward=target)
            return http.HTTP_204_NO_CONTENT, None

        return self.idempotent(run, program=self.program())


# ---------------------------------------------------------------------------------------------
# Redemptions


class _RedemptionApi(ProgramApi):
    def redemption(self) -> Redemption:
        return selectors.redemption_get(
            program=self.program(), redemption_id=self.kwargs["redemption"]
        )

    def out(self, redemption: Redemption, member: Member) -> dict:
        """The answer from the rows in hand (the service's, plus the member and program the
        view already read), without reading them again."""
        redemption.member = member
        redemption.program = self.program()
        return render(RedemptionOut, redemption)

    def targets(self, data: dict[str, Any]) -> tuple[Member, Reward | None]:
        program = self.program()
        member = member_find(
            program=program, member_id=data.get("member"), external_id=data.get("external_id"),
            card_id=data.get("card_id"),
        )
        reward = None
        if "reward" in data:
            reward = selectors.reward_get(program=program, reward_id=data["reward"])
        return member, reward


class RedemptionValidateApi(_RedemptionApi):
    @extend_schema(
        request=RedemptionIn, responses=RedemptionValidateOut,
        operation_id="redemptions_validate",
        summary="Dry run: would this redemption succeed? Same checks and codes; writes nothing",
    )
    def post(self, request, program):
        data = validated(RedemptionIn, request.data)
        member, reward = self.targets(data)
        plan = services.redemption_check(
            member=member, reward=reward, points=data.get("points"),
            order_amount=data.get("order_amount"), currency=data.get("currency"),
        )
        by_order = None
        if plan.order_amount is not None:
            by_order = services.max_points_for_order(
                program=self.program(), order_amount=plan.order_amount
            )
        body = {
            "ok": True, "kind": plan.kind, "member": member, "reward": reward,
            "points": plan.points, "balance": member.balance,
            "order_amount": plan.order_amount, "discount_amount": plan.discount_amount,
            "currency": plan.currency, "min_points": plan.min_points,
            "max_points": plan.max_points, "max_points_for_order": by_order,
        }
        return Response(render(RedemptionValidateOut, body))


class RedemptionListApi(_RedemptionApi):
    @extend_schema(
        responses=RedemptionOut(many=True), operation_id="redemptions_list",
        parameters=[
            OpenApiParameter("status", str, enum=Redemption.Status.values),
            OpenApiParameter("kind", str, enum=Redemption.Kind.values),
            OpenApiParameter("member", int), OpenApiParameter("card_id", str),
            OpenApiParameter("external_id", str), OpenApiParameter("reward", int),
            OpenApiParameter("order_id", str), OpenApiParameter("created_after", str),
            OpenApiParameter("created_before", str), *PAGE,
        ],
    )
    def get(self, request, program):
        return _page(
            self, RedemptionFilter, selectors.redemption_list(program=self.program()),
            RedemptionOut,
        )

    @extend_schema(
        request=RedemptionIn, responses={201: RedemptionOut}, parameters=[IDEMPOTENCY_HEADER],
        operation_id="redemptions_reserve",
        summary="Reserve: hold the points for a reward or an order discount (expires after "
        "the program's reservation TTL)",
    )
    def post(self, request, program):
        data = validated(RedemptionIn, request.data)
        member, reward = self.targets(data)

        def run():
            redemption = services.redemption_reserve(
                member=member, reward=reward, points=data.get("points"),
                order_amount=data.get("order_amount"), currency=data.get("currency"),
                order_id=data.get("order_id", ""), actor=self.actor,
            )
            return http.HTTP_201_CREATED, self.out(redemption, member)

        return self.idempotent(run, program=self.program())


class RedemptionDetailApi(_RedemptionApi):
    @extend_schema(responses=RedemptionOut, operation_id="redemptions_retrieve")
    def get(self, request, program, redemption):
        return Response(render(RedemptionOut, self.redemption()))


class RedemptionConfirmApi(_RedemptionApi):
    @extend_schema(
        request=RedemptionConfirmIn, responses=RedemptionOut, parameters=[IDEMPOTENCY_HEADER],
        operation_id="redemptions_confirm",
        summary="Confirm: spend the held points; a reward issues its voucher. Idempotent",
    )
    def post(self, request, program, redemption):
        target = self.redemption()
        data = validated(RedemptionConfirmIn, request.data)

        def run():
            done = services.redemption_confirm(
                redemption=target, order_id=data.get("order_id", ""), actor=self.actor
            )
            return http.HTTP_200_OK, self.out(done, target.member)

        return self.idempotent(run, program=self.program())


class RedemptionReleaseApi(_RedemptionApi):
    @extend_schema(
        request=None, responses=RedemptionOut, parameters=[IDEMPOTENCY_HEADER],
        operation_id="redemptions_release",
        summary="Release: give the held points back. Idempotent",
    )
    def post(self, request, program, redemption):
        target = self.redemption()
        validated(EmptyIn, request.data)

        def run():
            done = services.redemption_release(redemption=target, actor=self.actor)
            return http.HTTP_200_OK, self.out(done, target.member)

        return self.idempotent(run, program=self.program())


# ---------------------------------------------------------------------------------------------
# Vouchers


class VoucherListApi(ProgramApi):
    @extend_schema(
        responses=VoucherOut(many=True), operation_id="vouchers_list",
        parameters=[
            OpenApiParameter("status", str, enum=Voucher.Status.values),
            OpenApiParameter("member", int), OpenApiParameter("card_id", str),
            OpenApiParameter("external_id", str), OpenApiParameter("reward", int), *PAGE,
        ],
    )
    def get(self, request, program):
        return _page(self, VoucherFilter, selectors.voucher_list(program=self.program()),
                     VoucherOut)


class _VoucherApi(ProgramApi):
    def voucher(self) -> Voucher:
        return selectors.voucher_get(program=self.program(), code=self.kwargs["code"])


class VoucherDetailApi(_VoucherApi):
    @extend_schema(responses=VoucherOut, operation_id="vouchers_retrieve",
                   summary="Look a voucher up by its code (any case, dashes optional)")
    def get(self, request, program, code):
        return Response(render(VoucherOut, self.voucher()))


class VoucherUseApi(_VoucherApi):
    @extend_schema(
        request=VoucherUseIn, responses=VoucherOut, parameters=[IDEMPOTENCY_HEADER],
        operation_id="vouchers_use",
        summary="Mark a voucher used (at the till). Used twice: VOUCHER_ALREADY_USED (422); "
        "expired: VOUCHER_EXPIRED (410)",
    )
    def post(self, request, program, code):
        target = self.voucher()
        data = validated(VoucherUseIn, request.data)

        def run():
            used = services.voucher_use(
                voucher=target, reference=data.get("reference", ""), actor=self.actor
            )
            fresh = selectors.voucher_get(program=self.program(), code=used.code)
            return http.HTTP_200_OK, render(VoucherOut, fresh)

        return self.idempotent(run, program=self.program())
