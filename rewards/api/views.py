"""Rewards catalog, two-phase redemptions and vouchers over REST (SPEC 8, 15).

Thin: serializers check shape, ``rewards.services`` decides. Every write runs through
``self.idempotent`` (the ``Idempotency-Key`` header); the dry run writes nothing at all.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import document
from loyaltysite.api.views import EmptyIn, ProgramApi, validated
from loyaltysite.errors import (
    CurrencyMismatch,
    InsufficientPoints,
    InvalidValue,
    MemberInactive,
    MemberNotFound,
    RedemptionExpired,
    RewardNotFound,
    RewardUnavailable,
    TierNotFound,
    ValidationFailed,
)
from members.models import Member, Program
from members.selectors import member_find
from rewards import selectors, services
from rewards.errors import (
    RedeemAboveMaximum,
    RedeemBelowMinimum,
    RedemptionAlreadyConfirmed,
    RedemptionReleased,
    VoucherAlreadyUsed,
    VoucherExpired,
)
from rewards.models import Redemption, Reward, Voucher
from tiers.models import Tier

from .filters import RedemptionFilter, RewardFilter, VoucherFilter
from .serializers import (
    RedemptionConfirmIn,
    RedemptionIn,
    RedemptionOut,
    RedemptionValidateOut,
    RewardIn,
    RewardOut,
    VoucherOut,
    VoucherUseIn,
)

# What a reservation can be refused for (the dry run answers the same codes).
REDEEM_ERRORS = (
    MemberNotFound, RewardNotFound, MemberInactive, InsufficientPoints, RewardUnavailable,
    CurrencyMismatch, RedeemBelowMinimum, RedeemAboveMaximum, InvalidValue,
)
REDEEM_EXAMPLES = [
    OpenApiExample("A free coffee for 150 points", request_only=True,
                   value={"card_id": "ZY1X-5CEZ-W6WK-3DQ4", "reward": 3}),
    OpenApiExample("500 points off an order of 30.50 EUR", request_only=True,
                   value={"external_id": "cust-1042", "points": 500, "order_amount": "30.50",
                          "currency": "EUR", "order_id": "A-10293"}),
]


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
    pagination_class = PagePagination
    filterset_class = RewardFilter

    @document("rewards_list", tag="rewards", summary="List the rewards catalog",
              description="The program's rewards, cheapest first (deleted ones left out).",
              responses=RewardOut(many=True))
    def get(self, request, program):
        return self.paginate(selectors.reward_list(program=self.program()), RewardOut)

    @document(
        "rewards_create", tag="rewards", summary="Add a reward to the catalog",
        description="Only `name` and `points_cost` are required. `stock` (units left) and "
        "`per_member_limit` are unlimited when null; `min_tier` restricts it to members at "
        "that tier or above; a fixed discount's `value` is money in the program's currency.",
        request=RewardIn, responses={201: RewardOut}, errors=(TierNotFound, InvalidValue),
        examples=[OpenApiExample(
            "A free coffee", request_only=True,
            value={"name": "Free coffee", "points_cost": 150, "kind": "free_product",
                   "per_member_limit": 4, "voucher_valid_days": 30},
        )],
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

    @document("rewards_retrieve", tag="rewards", summary="Get a reward",
              description="One reward of the catalog.", responses=RewardOut)
    def get(self, request, program, reward):
        return Response(render(RewardOut, self.reward()))

    @document(
        "rewards_partial_update", tag="rewards", summary="Change a reward",
        description="Send only the fields to change. Open reservations keep the cost they "
        "were made at.",
        request=RewardIn, responses=RewardOut, errors=(TierNotFound, InvalidValue),
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

    @document("rewards_destroy", tag="rewards", summary="Remove a reward from the catalog",
              description="It can no longer be redeemed; vouchers already issued stay valid.",
              responses={204: None})
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
    idempotent_writes = False  # a dry run: it writes nothing

    @document(
        "redemptions_validate", tag="redemptions", summary="Check a redemption (dry run)",
        description="Would this reservation succeed now? The same checks and error codes as "
        "`POST /redemptions/`, writing nothing; for points as a discount it also answers the "
        "most points this member can use on the order (`max_points`).",
        request=RedemptionIn, responses=RedemptionValidateOut, errors=REDEEM_ERRORS,
        examples=REDEEM_EXAMPLES,
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
    pagination_class = PagePagination
    filterset_class = RedemptionFilter

    @document("redemptions_list", tag="redemptions", summary="List redemptions",
              description="Reservations and what became of them, newest first.",
              responses=RedemptionOut(many=True))
    def get(self, request, program):
        return self.paginate(selectors.redemption_list(program=self.program()), RedemptionOut)

    @document(
        "redemptions_reserve", tag="redemptions",
        summary="Reserve points for a reward or an order discount",
        description="Phase one of two: the points (and, for a reward with stock, one unit) "
        "are held until the program's reservation TTL; then confirm at checkout or release. "
        "Name the member by exactly one of `member`, `external_id` or `card_id`; redeem "
        "either a `reward` or `points` with the `order_amount` they pay part of (the "
        "program's minimum points and maximum percent apply).",
        request=RedemptionIn, responses={201: RedemptionOut}, errors=REDEEM_ERRORS,
        examples=REDEEM_EXAMPLES,
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
    @document("redemptions_retrieve", tag="redemptions", summary="Get a redemption",
              description="One redemption, with its voucher once confirmed.",
              responses=RedemptionOut)
    def get(self, request, program, redemption):
        return Response(render(RedemptionOut, self.redemption()))


class RedemptionConfirmApi(_RedemptionApi):
    @document(
        "redemptions_confirm", tag="redemptions", summary="Confirm a redemption",
        description="Phase two: the held points are spent and a reward issues its voucher. "
        "Confirming twice answers the same. A released reservation is `REDEMPTION_RELEASED`; "
        "one past its TTL is `REDEMPTION_EXPIRED` (410). A discount needs the `order_id` it "
        "paid for.",
        request=RedemptionConfirmIn, responses=RedemptionOut,
        errors=(RedemptionReleased, RedemptionExpired, MemberInactive, InvalidValue),
        examples=[OpenApiExample("At the till", request_only=True,
                                 value={"order_id": "A-10293"})],
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
    @document(
        "redemptions_release", tag="redemptions", summary="Release a reservation",
        description="The held points (and the reward's unit) go back. Releasing twice "
        "answers the same; a confirmed redemption is `REDEMPTION_CONFIRMED`.",
        request=EmptyIn, responses=RedemptionOut, errors=(RedemptionAlreadyConfirmed,),
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
    pagination_class = PagePagination
    filterset_class = VoucherFilter

    @document("vouchers_list", tag="vouchers", summary="List vouchers",
              description="Vouchers issued by confirmed reward redemptions, newest first.",
              responses=VoucherOut(many=True))
    def get(self, request, program):
        return self.paginate(selectors.voucher_list(program=self.program()), VoucherOut)


class _VoucherApi(ProgramApi):
    def voucher(self) -> Voucher:
        return selectors.voucher_get(program=self.program(), code=self.kwargs["code"])


class VoucherDetailApi(_VoucherApi):
    @document("vouchers_retrieve", tag="vouchers", summary="Look a voucher up by its code",
              description="The code as printed or typed: any case, dashes optional.",
              responses=VoucherOut)
    def get(self, request, program, code):
        return Response(render(VoucherOut, self.voucher()))


class VoucherUseApi(_VoucherApi):
    @document(
        "vouchers_use", tag="vouchers", summary="Mark a voucher used (at the till)",
        description="Once: a used voucher is `VOUCHER_ALREADY_USED` (422) and an expired one "
        "`VOUCHER_EXPIRED` (410). A retry with the same `Idempotency-Key` replays the first "
        "answer instead.",
        request=VoucherUseIn, responses=VoucherOut, errors=(VoucherAlreadyUsed, VoucherExpired),
        examples=[OpenApiExample("At till 3", request_only=True,
                                 value={"reference": "till-3"})],
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
