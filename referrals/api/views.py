"""Referral codes, attribution, the review gate and the program's referral terms over REST.

Thin: serializers check shape, ``referrals.services`` decides. Every write runs through
``self.idempotent`` (the ``Idempotency-Key`` header).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import document, raises
from loyaltysite.api.views import EmptyIn, ProgramApi, validated
from loyaltysite.errors import (
    Conflict,
    DuplicateReferral,
    InvalidTransition,
    InvalidValue,
    MemberInactive,
    MemberNotFound,
    ReferralLimitExceeded,
    RewardNotFound,
    SelfReferral,
    ValidationFailed,
)
from members.models import Program
from rewards.models import Reward

from .. import selectors, services
from ..errors import RefereeNotEligible, ReferralCodeNotFound, ReferralNotFound
from ..models import Referral, ReferralCode
from .filters import ReferralFilter
from .serializers import (
    ApproveIn,
    AttributeIn,
    AttributionOut,
    ReferralCodeOut,
    ReferralOut,
    ReferralSettingsSerializer,
    RejectIn,
)

CODE_EXAMPLE = OpenApiExample(
    "A member's code",
    response_only=True,
    value={
        "code": "K7QX9M2P", "is_active": True,
        "share_url": "https://loyalty.example.com/r/K7QX9M2P/", "member": 1042,
        "program": 3, "created_at": "2026-01-15T12:00:00Z", "deactivated_at": None,
    },
)


# ---------------------------------------------------------------------------------------------
# Codes


class _CodeApi(ProgramApi):
    def code_out(self, code: ReferralCode) -> dict[str, Any]:
        code.share_url = self.request.build_absolute_uri(
            reverse("referrals_portal:landing", args=[code.code])
        )
        return render(ReferralCodeOut, code)


class MemberReferralCodeApi(_CodeApi):
    @document(
        "referrals_code_retrieve", tag="referrals", responses=ReferralCodeOut,
        summary="A member's referral code",
        description="The member's current code (the active one, else the latest deactivated "
        "one). REFERRAL_CODE_NOT_FOUND until the member asks for one (POST).",
        examples=[CODE_EXAMPLE],
    )
    @raises(MemberNotFound, ReferralCodeNotFound)
    def get(self, request, program, member):
        code = selectors.code_for_member(member=self.member())
        if code is None:
            raise ReferralCodeNotFound(field="member")
        return Response(self.code_out(code))

    @document(
        "referrals_code_create", tag="referrals", request=EmptyIn,
        responses={201: ReferralCodeOut, 200: ReferralCodeOut},
        summary="Get or create a member's referral code",
        description="Creates the member's code on the first request (201); every later request "
        "answers the same code (200), however many arrive at once. A deactivated code is "
        "answered as it is: only regenerate/ issues a new one.",
        examples=[CODE_EXAMPLE],
    )
    @raises(MemberNotFound, MemberInactive)
    def post(self, request, program, member):
        target = self.member()
        validated(EmptyIn, request.data)

        def run():
            code, created = services.referral_code_get_or_create(member=target)
            return (http.HTTP_201_CREATED if created else http.HTTP_200_OK), self.code_out(code)

        return self.idempotent(run, program=self.program())


class MemberReferralCodeRegenerateApi(_CodeApi):
    @document(
        "referrals_code_regenerate", tag="referrals", request=EmptyIn,
        responses={201: ReferralCodeOut}, summary="Replace a member's referral code with a new one",
        description="Deactivates the current code (its referrals stay) and issues a new one.",
    )
    @raises(MemberNotFound, MemberInactive)
    def post(self, request, program, member):
        target = self.member()
        validated(EmptyIn, request.data)

        def run():
            code = services.referral_code_regenerate(member=target, actor=self.actor)
            return http.HTTP_201_CREATED, self.code_out(code)

        return self.idempotent(run, program=self.program())


class MemberReferralCodeDeactivateApi(_CodeApi):
    @document(
        "referrals_code_deactivate", tag="referrals", request=EmptyIn,
        responses={200: ReferralCodeOut}, summary="Switch a member's referral code off",
        description="The code attributes nothing from now on (an attribution with it answers "
        "attributed: false, inactive_code). Idempotent. regenerate/ issues a new one.",
    )
    @raises(MemberNotFound, ReferralCodeNotFound)
    def post(self, request, program, member):
        target = self.member()
        validated(EmptyIn, request.data)
        code = selectors.code_for_member(member=target)
        if code is None:
            raise ReferralCodeNotFound(field="member")

        def run():
            done = services.referral_code_deactivate(code=code, actor=self.actor)
            return http.HTTP_200_OK, self.code_out(done)

        return self.idempotent(run, program=self.program())


# ---------------------------------------------------------------------------------------------
# Referrals


class _ReferralApi(ProgramApi):
    def referral(self) -> Referral:
        return selectors.referral_get(program=self.program(), referral_id=self.kwargs["referral"])

    def out(self, referral: Referral) -> dict[str, Any]:
        return render(ReferralOut, selectors.referral_get(
            program=self.program(), referral_id=referral.pk
        ))


class ReferralListApi(_ReferralApi):
    pagination_class = PagePagination
    filterset_class = ReferralFilter

    @document(
        "referrals_list", tag="referrals", responses=ReferralOut(many=True),
        summary="List referrals, newest first",
        description="Filter by referrer, referee, status, channel, code, source or when they "
        "were created.",
    )
    def get(self, request, program):
        return self.paginate(selectors.referral_list(program=self.program()), ReferralOut)

    @document(
        "referrals_attribute", tag="referrals", request=AttributeIn,
        responses={201: AttributionOut, 200: AttributionOut},
        summary="Attribute a buyer to a referral code (at checkout, in one call)",
        description="Creates a pending referral (201). An unknown or inactive code, switched-off "
        "referrals or an inactive referrer never fail the sale: 200 with attributed: false and "
        "the reason. An unknown external_id is enrolled when the program auto-enrols. When "
        "source names an order of the buyer already recorded, that order converts the "
        "referral at once. Guards: SELF_REFERRAL, DUPLICATE_REFERRAL (once per buyer, once "
        "per source), REFEREE_NOT_ELIGIBLE (new customers only), REFERRAL_LIMIT_EXCEEDED.",
        examples=[
            OpenApiExample(
                "At checkout", request_only=True,
                value={"code": "K7QX9M2P", "external_id": "cust-88231", "source": "order-5521"},
            ),
            OpenApiExample(
                "Unknown code", response_only=True, status_codes=["200"],
                value={"attributed": False, "reason": "unknown_code",
                       "detail": "No such referral code in this program.", "referral": None},
            ),
        ],
    )
    @raises(MemberNotFound, MemberInactive, SelfReferral, DuplicateReferral,
            RefereeNotEligible, ReferralLimitExceeded, Conflict)
    def post(self, request, program):
        target = self.program()
        data = validated(AttributeIn, request.data)

        def run():
            outcome = services.referral_attribute_checkout(
                program=target, code=data["code"], member=data.get("member", ""),
                external_id=data.get("external_id", ""), card_id=data.get("card_id", ""),
                source=data["source"], actor=self.actor,
            )
            body = outcome.as_dict()
            body.pop("status")
            if not outcome.attributed:
                return http.HTTP_200_OK, body
            body["referral"] = self.out(outcome.referral)
            return http.HTTP_201_CREATED, body

        return self.idempotent(run, program=target)


class ReferralDetailApi(_ReferralApi):
    @document(
        "referrals_retrieve", tag="referrals", responses=ReferralOut,
        summary="Get a referral",
        description="A referral with both members, its code and source, the decision, and "
        "what each side got.",
    )
    @raises(ReferralNotFound)
    def get(self, request, program, referral):
        return Response(render(ReferralOut, self.referral()))


class ReferralApproveApi(_ReferralApi):
    @document(
        "referrals_approve", tag="referrals", request=ApproveIn, responses=ReferralOut,
        summary="Approve a referral (the review gate)",
        description="A pending referral becomes approved and waits for its qualifying order; "
        "a converted one is rewarded now. Approving twice answers the same referral.",
    )
    @raises(ReferralNotFound, InvalidTransition)
    def post(self, request, program, referral):
        target = self.referral()
        data = validated(ApproveIn, request.data)

        def run():
            done = services.referral_approve(referral=target, actor=self.actor,
                                             reason=data["reason"])
            return http.HTTP_200_OK, self.out(done)

        return self.idempotent(run, program=self.program())


class ReferralRejectApi(_ReferralApi):
    @document(
        "referrals_reject", tag="referrals", request=RejectIn, responses=ReferralOut,
        summary="Reject a referral: it rewards nobody",
        description="Possible until the referral is rewarded; the reason and who decided are "
        "recorded. Rejecting twice answers the same referral.",
        examples=[OpenApiExample("Same household", request_only=True,
                                 value={"reason": "Same delivery address as the referrer"})],
    )
    @raises(ReferralNotFound, InvalidTransition)
    def post(self, request, program, referral):
        target = self.referral()
        data = validated(RejectIn, request.data)

        def run():
            done = services.referral_reject(referral=target, actor=self.actor,
                                            reason=data["reason"])
            return http.HTTP_200_OK, self.out(done)

        return self.idempotent(run, program=self.program())


# ---------------------------------------------------------------------------------------------
# Settings


def _reward_of(program: Program, reward_id: int | None, field: str) -> Reward | None:
    if reward_id is None:
        return None
    reward = Reward.objects.filter(program=program, pk=reward_id, deleted_at__isnull=True).first()
    if reward is None:
        raise RewardNotFound(field=field)
    return reward


class ReferralSettingsApi(ProgramApi):
    @document(
        "referrals_settings_retrieve", tag="referrals", responses=ReferralSettingsSerializer,
        summary="Get the program's referral terms",
        description="The defaults until an Owner first changes them.",
    )
    def get(self, request, program):
        return Response(render(ReferralSettingsSerializer,
                               selectors.settings_for(program=self.program())))

    @document(
        "referrals_settings_partial_update", tag="referrals",
        request=ReferralSettingsSerializer, responses=ReferralSettingsSerializer,
        summary="Change the program's referral terms",
        description="Rewards for each side (points, a catalog reward issued as a voucher, or "
        "nothing), the minimum order amount and conversion window, the approval gate, new "
        "customers only, and the rate limit per referrer per period. Applies from now on.",
        examples=[OpenApiExample(
            "Points both ways, reviewed", request_only=True,
            value={"referrer_reward_kind": "points", "referrer_points": 500,
                   "referee_reward_kind": "points", "referee_points": 250,
                   "min_order_amount": "20.00", "requires_approval": True},
        )],
    )
    @raises(RewardNotFound, InvalidValue)
    def patch(self, request, program):
        target = self.program()
        data = dict(validated(ReferralSettingsSerializer, request.data))
        fixed = sorted(set(request.data) & {"program", "updated_at"})
        if fixed:
            raise ValidationFailed(f"{fixed[0]} cannot be changed.", field=fixed[0])
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")
        for side in ("referrer", "referee"):
            if f"{side}_reward_id" in data:
                data[f"{side}_reward"] = _reward_of(
                    target, data.pop(f"{side}_reward_id"), f"{side}_reward"
                )

        def run():
            saved = services.referral_settings_update(program=target, **data)
            return http.HTTP_200_OK, render(ReferralSettingsSerializer, saved)

        return self.idempotent(run, program=target)
