"""Manual earn, signed adjustments and a member's transactions (SPEC 15)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample
from rest_framework import status as http

from ledger import selectors, services
from ledger.hooks import apply_member_updates
from loyaltysite.api.pagination import NewestFirstPagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import document
from loyaltysite.api.views import ProgramApi, validated
from loyaltysite.errors import InsufficientPoints, MemberInactive
from members.api.serializers import MemberOut
from members.selectors import member_get

from .serializers import AdjustIn, EarnIn, EntryOut, EntryWithMemberOut


class _PostingApi(ProgramApi):
    def _answer(self, entry, member) -> tuple[int, dict]:
        figures = entry.__dict__.get("member_figures")
        if figures is not None:  # the fast path's RETURNING: the figures after the posting
            for name, value in figures.items():
                setattr(member, name, value)
            fresh = apply_member_updates(member, entry)
        else:
            fresh = member_get(program=self.program(), ident=member.pk)
        return http.HTTP_201_CREATED, {
            "entry": render(EntryOut, entry), "member": render(MemberOut, fresh)
        }


class MemberEarnApi(_PostingApi):
    @document(
        "members_earn", tag="ledger", summary="Credit points to a member (manual earn)",
        description="Posts an `earn` entry: the points are spendable at once, count towards "
        "lifetime points and follow the program's expiry policy. Answers the entry and the "
        "member's figures after it.",
        request=EarnIn, responses={201: EntryWithMemberOut}, errors=(MemberInactive,),
        examples=[OpenApiExample(
            "Points for a product review", request_only=True,
            value={"points": 50, "reason": "Product review", "reference": "review-8812"},
        )],
    )
    def post(self, request, program, member):
        target = self.member()
        data = validated(EarnIn, request.data)

        def run():
            entry = services.points_credit(member=target, actor=self.actor, **data)
            return self._answer(entry, target)

        return self.idempotent(run, program=self.program())


class MemberAdjustApi(_PostingApi):
    @document(
        "members_adjust", tag="ledger", summary="Adjust a member's points (signed, with a reason)",
        description="A positive adjustment adds spendable points; a negative one removes "
        "spendable points and never takes the balance below zero (`INSUFFICIENT_POINTS`).",
        request=AdjustIn, responses={201: EntryWithMemberOut},
        errors=(MemberInactive, InsufficientPoints),
        examples=[OpenApiExample(
            "Goodwill for a late delivery", request_only=True,
            value={"points": 120, "reason": "Goodwill: order 4471 arrived late"},
        ), OpenApiExample(
            "A correction", request_only=True,
            value={"points": -40, "reason": "Duplicate receipt scanned twice"},
        )],
    )
    def post(self, request, program, member):
        target = self.member()
        data = validated(AdjustIn, request.data)

        def run():
            entry = services.points_adjust(member=target, actor=self.actor, **data)
            return self._answer(entry, target)

        return self.idempotent(run, program=self.program())


class MemberTransactionsApi(ProgramApi):
    pagination_class = NewestFirstPagination

    @document(
        "members_transactions", tag="ledger", summary="A member's ledger entries, newest first",
        description="Cursor-paginated: follow `next` for older entries. Each entry carries "
        "its signed `points` and the spendable `balance_after` it.",
        responses=EntryOut(many=True),
    )
    def get(self, request, program, member):
        return self.paginate(selectors.entry_list_for_member(member=self.member()), EntryOut)
