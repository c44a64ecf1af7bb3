"""Programs and members over REST (SPEC 15). Thin: serializers check shape, services decide."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render, render_many
from loyaltysite.api.views import IDEMPOTENCY_HEADER, MerchantApi, ProgramApi, validated
from loyaltysite.errors import ValidationFailed
from members import selectors, services
from members.models import Member

from .filters import MemberFilter
from .serializers import MemberEnrolIn, MemberEnrolledOut, MemberOut, ProgramSerializer


class EmptyIn(serializers.Serializer):
    """Status changes take no body (an empty object at most)."""


class ProgramListApi(MerchantApi):
    @extend_schema(responses=ProgramSerializer(many=True), operation_id="programs_list")
    def get(self, request):
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            selectors.program_list(merchant=self.merchant_id), request, view=self
        )
        return paginator.get_paginated_response(ProgramSerializer(page, many=True).data)

    @extend_schema(
        request=ProgramSerializer, responses={201: ProgramSerializer},
        parameters=[IDEMPOTENCY_HEADER], operation_id="programs_create",
    )
    def post(self, request):
        data = validated(ProgramSerializer, request.data)

        def run():
            program = services.program_create(merchant=self._merchant(), **data)
            return http.HTTP_201_CREATED, ProgramSerializer(program).data

        return self.idempotent(run)

    def _merchant(self):
        return self.request.auth.merchant


class ProgramDetailApi(ProgramApi):
    @extend_schema(responses=ProgramSerializer, operation_id="programs_retrieve")
    def get(self, request, program):
        return Response(ProgramSerializer(self.program()).data)

    @extend_schema(
        request=ProgramSerializer, responses=ProgramSerializer, parameters=[IDEMPOTENCY_HEADER],
        operation_id="programs_partial_update",
    )
    def patch(self, request, program):
        target = self.program()
        data = validated(ProgramSerializer, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            updated = services.program_update(program=target, **data)
            return http.HTTP_200_OK, ProgramSerializer(updated).data

        return self.idempotent(run, program=target)

    @extend_schema(responses={204: None}, operation_id="programs_destroy")
    def delete(self, request, program):
        services.program_delete(program=self.program())
        return Response(status=http.HTTP_204_NO_CONTENT)


class MemberListApi(ProgramApi):
    @extend_schema(
        responses=MemberOut(many=True), operation_id="members_list",
        parameters=[
            OpenApiParameter("external_id", str), OpenApiParameter("card_id", str),
            OpenApiParameter("status", str, enum=Member.Status.values),
            OpenApiParameter("tier", str, description="Tier id or name; 'none' for no tier."),
            OpenApiParameter("email", str), OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    def get(self, request, program):
        filterset = MemberFilter(
            request.query_params, queryset=selectors.member_list(program=self.program())
        )
        if not filterset.is_valid():
            from rest_framework.exceptions import ValidationError

            raise ValidationError(filterset.errors)
        paginator = PagePagination()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(render_many(MemberOut, page))

    @extend_schema(
        request=MemberEnrolIn, responses={201: MemberEnrolledOut},
        parameters=[IDEMPOTENCY_HEADER], operation_id="members_enrol",
    )
    def post(self, request, program):
        target = self.program()
        data = validated(MemberEnrolIn, request.data)
        code = data.pop("referral_code").strip()
        # The enrolment hooks (referrals) read the code and write their outcome back here.
        context = {"referral_code": code, "actor": self.actor} if code else None

        def run():
            member = services.member_enrol_customer(program=target, context=context, **data)
            if services.member_welcome(member=member):
                member = selectors.member_get(program=target, ident=member.pk)
            body = render(MemberOut, member)
            if context is not None:
                body["referral"] = context.get("referral")
            return http.HTTP_201_CREATED, body

        return self.idempotent(run, program=target)


class MemberDetailApi(ProgramApi):
    @extend_schema(responses=MemberOut, operation_id="members_retrieve")
    def get(self, request, program, member):
        return Response(render(MemberOut, self.member()))


class _MemberStatusApi(ProgramApi):
    target_status: str = ""

    def post(self, request, program, member):
        target = self.member()
        validated(EmptyIn, request.data)

        def run():
            updated = services.member_set_status(member=target, status=self.target_status)
            fresh = selectors.member_get(program=self.program(), ident=updated.pk)
            return http.HTTP_200_OK, render(MemberOut, fresh)

        return self.idempotent(run, program=self.program())




def _status_view(name: str, status: str, summary: str) -> type[_MemberStatusApi]:
    def post(self, request, program, member):
        return _MemberStatusApi.post(self, request, program, member)

    post = extend_schema(
        request=None, responses=MemberOut, parameters=[IDEMPOTENCY_HEADER], summary=summary,
        operation_id=f"members_{name.lower().removesuffix('memberapi')}",
    )(post)
    return type(name, (_MemberStatusApi,), {"target_status": status, "post": post})


MemberSuspendApi = _status_view("SuspendMemberApi", Member.Status.SUSPENDED, "Suspend a member")
MemberReactivateApi = _status_view(
    "ReactivateMemberApi", Member.Status.ACTIVE, "Reactivate a member"
)
MemberDeactivateApi = _status_view(
    "DeactivateMemberApi", Member.Status.INACTIVE, "Deactivate a member"
)
