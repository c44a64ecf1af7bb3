"""Programs and members over REST (SPEC 15). Thin: serializers check shape, services decide."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.pagination import PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import document
from loyaltysite.api.views import EmptyIn, MerchantApi, ProgramApi, validated
from loyaltysite.errors import (
    InvalidTransition,
    MemberAlreadyEnrolled,
    NameTaken,
    ValidationFailed,
)
from members import selectors, services
from members.models import Member

from .filters import MemberFilter
from .serializers import MemberEnrolIn, MemberEnrolledOut, MemberOut, ProgramSerializer

PROGRAM_EXAMPLE = OpenApiExample(
    "A coffee chain's program",
    value={"name": "Bean Points", "currency": "EUR", "earn_rate": "1.0000",
           "point_value": "0.010000", "pending_days": 14, "expiry_policy": "after_earn",
           "expiry_months": 12, "time_zone": "Europe/Berlin"},
    request_only=True,
)


class ProgramListApi(MerchantApi):
    pagination_class = PagePagination

    @document(
        "programs_list", tag="programs", summary="List programs",
        description="The merchant's live programs (soft-deleted ones are left out), oldest "
        "first.",
        responses=ProgramSerializer(many=True),
    )
    def get(self, request):
        return self.paginate(selectors.program_list(merchant=self.merchant_id),
                             ProgramSerializer)

    @document(
        "programs_create", tag="programs", summary="Create a program",
        description="Only `name` and `currency` are required; everything else has a default "
        "(1 point per currency unit, points worth 0.01, no expiry, no pending period).",
        request=ProgramSerializer, responses={201: ProgramSerializer}, errors=(NameTaken,),
        examples=[PROGRAM_EXAMPLE],
    )
    def post(self, request):
        data = validated(ProgramSerializer, request.data)

        def run():
            program = services.program_create(merchant=self.request.auth.merchant, **data)
            return http.HTTP_201_CREATED, render(ProgramSerializer, program)

        return self.idempotent(run)


class ProgramDetailApi(ProgramApi):
    @document("programs_retrieve", tag="programs", summary="Get a program",
              description="One program's settings.", responses=ProgramSerializer)
    def get(self, request, program):
        return Response(render(ProgramSerializer, self.program()))

    @document(
        "programs_partial_update", tag="programs", summary="Change a program's settings",
        description="Send only the fields to change. Changes apply to what happens next "
        "(an earn rate to the next order); posted points are never recomputed.",
        request=ProgramSerializer, responses=ProgramSerializer, errors=(NameTaken,),
    )
    def patch(self, request, program):
        target = self.program()
        data = validated(ProgramSerializer, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            updated = services.program_update(program=target, **data)
            return http.HTTP_200_OK, render(ProgramSerializer, updated)

        return self.idempotent(run, program=target)

    @document(
        "programs_destroy", tag="programs", summary="Delete a program (soft delete)",
        description="The program disappears from lists and its id answers 404 from then on; "
        "its members' ledgers are kept.",
        responses={204: None},
    )
    def delete(self, request, program):
        target = self.program()

        def run():
            services.program_delete(program=target)
            return http.HTTP_204_NO_CONTENT, None

        return self.idempotent(run, program=target)


class MemberListApi(ProgramApi):
    pagination_class = PagePagination
    filterset_class = MemberFilter

    @document(
        "members_list", tag="members", summary="List or find members",
        description="Members of the program, oldest first. Filter by `external_id` or "
        "`card_id` to look one up (a checkout's first call).",
        responses=MemberOut(many=True),
    )
    def get(self, request, program):
        return self.paginate(selectors.member_list(program=self.program()), MemberOut)

    @document(
        "members_enrol", tag="members", summary="Enrol a customer",
        description="Creates the customer (by your `external_id`) if needed and enrols them; "
        "the program's welcome rules award their points. Enrolling the same customer twice "
        "is `MEMBER_ALREADY_ENROLLED` (409). With a friend's `referral_code` the new member "
        "is attributed to them; the answer's `referral` says whether it was (a code that "
        "cannot be used never fails the enrolment).",
        request=MemberEnrolIn, responses={201: MemberEnrolledOut},
        errors=(MemberAlreadyEnrolled,),
        examples=[OpenApiExample(
            "A new customer", request_only=True,
            value={"external_id": "cust-1042", "email": "ana.silva@example.com",
                   "name": "Ana Silva", "birthday": "1991-04-21", "referral_code": "K7QX9M"},
        )],
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
    @document(
        "members_retrieve", tag="members", summary="Get a member",
        description="By id or card id. The figures are the ledger's: `balance` is spendable "
        "now, `pending_points` wait for the return window, `reserved_points` are held by "
        "open redemptions.",
        responses=MemberOut,
    )
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


def _status_view(name: str, status: str, summary: str, description: str
                 ) -> type[_MemberStatusApi]:
    def post(self, request, program, member):
        return _MemberStatusApi.post(self, request, program, member)

    post = document(
        f"members_{name.lower().removesuffix('memberapi')}", tag="members", summary=summary,
        description=description, request=EmptyIn, responses=MemberOut,
        errors=(InvalidTransition,),
    )(post)
    return type(name, (_MemberStatusApi,), {"target_status": status, "post": post})


MemberSuspendApi = _status_view(
    "SuspendMemberApi", Member.Status.SUSPENDED, "Suspend a member",
    "A suspended member keeps their points but cannot earn or redeem (`MEMBER_INACTIVE`) "
    "until reactivated. Suspending a suspended member changes nothing.",
)
MemberReactivateApi = _status_view(
    "ReactivateMemberApi", Member.Status.ACTIVE, "Reactivate a member",
    "A suspended or inactive member becomes active again.",
)
MemberDeactivateApi = _status_view(
    "DeactivateMemberApi", Member.Status.INACTIVE, "Deactivate a member",
    "The member leaves the program (an inactive member can be reactivated); their ledger "
    "is kept.",
)
