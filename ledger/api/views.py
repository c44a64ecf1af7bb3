"""Manual earn, signed adjustments and a member's transactions (SPEC 15)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status as http

from ledger import selectors, services
from loyaltysite.api.pagination import NewestFirstPagination
from loyaltysite.api.prototypes import render, render_many
from loyaltysite.api.views import IDEMPOTENCY_HEADER, ProgramApi, validated
from members.api.serializers import MemberOut
from members.selectors import member_get

from .serializers import AdjustIn, EarnIn, EntryOut, EntryWithMemberOut


class _PostingApi(ProgramApi):
    def _answer(self, entry, member) -> tuple[int, dict]:
        fresh = member_get(program=self.program(), ident=member.pk)
        return http.HTTP_201_CREATED, {
            "entry": render(EntryOut, entry), "member": render(MemberOut, fresh)
        }


class MemberEarnApi(_PostingApi):
    @extend_schema(
        request=EarnIn, responses={201: EntryWithMemberOut}, parameters=[IDEMPOTENCY_HEADER],
        operation_id="members_earn", summary="Credit points to a member (manual earn)",
    )
    def post(self, request, program, member):
        target = self.member()
        data = validated(EarnIn, request.data)

        def run():
            entry = services.points_credit(member=target, actor=self.actor, **data)
            return self._answer(entry, target)

        return self.idempotent(run, program=self.program())


class MemberAdjustApi(_PostingApi):
    @extend_schema(
        request=AdjustIn, responses={201: EntryWithMemberOut}, parameters=[IDEMPOTENCY_HEADER],
        operation_id="members_adjust", summary="Signed manual adjustment, with a reason",
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

    @extend_schema(responses=EntryOut(many=True), operation_id="members_transactions")
    def get(self, request, program, member):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(
            selectors.entry_list_for_member(member=self.member()), request, view=self
        )
        return paginator.get_paginated_response(render_many(EntryOut, page))
