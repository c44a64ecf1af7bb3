"""Tiers, tier settings, overrides, tier history and streak pauses over REST (SPEC 7, 15).

Thin: serializers check shape, ``tiers.services`` decides. Every write runs through
``self.idempotent`` (the ``Idempotency-Key`` header).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status as http
from rest_framework.response import Response

from loyaltysite.api.pagination import NewestFirstPagination, PagePagination
from loyaltysite.api.prototypes import render
from loyaltysite.api.schema import raises
from loyaltysite.api.views import EmptyIn, ProgramApi, validated
from loyaltysite.errors import (
    InvalidValue,
    MemberNotFound,
    NameTaken,
    TierNotFound,
    ValidationFailed,
)
from members.api.serializers import MemberOut
from members.selectors import member_get

from .. import selectors, services
from ..errors import (
    StreakAlreadyPaused,
    StreakNotActive,
    StreakNotPaused,
    StreakPauseLimit,
    StreaksDisabled,
    TierInUse,
    TierOverrideNotFound,
)
from ..models import StreakPause, Tier
from .filters import TierChangeFilter, TierFilter
from .serializers import (
    StreakPauseIn,
    StreakPauseOut,
    StreakResultOut,
    TierChangeOut,
    TierIn,
    TierOut,
    TierOverrideIn,
    TierOverrideOut,
    TierOverrideResultOut,
    TierSettingsSerializer,
)

TIER_EXAMPLE = OpenApiExample(
    "Gold", request_only=True,
    value={"name": "Gold", "rank": 3, "threshold_points": 2500, "earn_multiplier": "1.5",
           "perks": "Free delivery, early access to sales", "colour": "#C9A227",
           "streak_multiplier": "2", "streak_bonus_points": 50},
)


def _tier_out(tier: Tier) -> dict:
    """A tier as written, with its member count (one more query, on writes only)."""
    return render(TierOut, selectors.tier_get(program=tier.program, tier_id=tier.pk))


# ---------------------------------------------------------------------------------------------
# The ladder


class TierListApi(ProgramApi):
    pagination_class = PagePagination
    filterset_class = TierFilter

    @extend_schema(
        tags=["tiers"], summary="List the program's tiers",
        description="The ladder, lowest rank first, with how many members hold each tier.",
        responses=TierOut(many=True), operation_id="tiers_list",
    )
    def get(self, request, program):
        return self.paginate(selectors.tier_list(program=self.program()), TierOut)

    @extend_schema(
        tags=["tiers"], summary="Add a tier",
        description="Thresholds must rise with rank, in the program's basis (points, or money "
        "for a spend basis). Members reaching the new tier move up at their next earn or at "
        "the next evaluation.",
        request=TierIn, responses={201: TierOut},
        operation_id="tiers_create", examples=[TIER_EXAMPLE],
    )
    @raises(ValidationFailed, InvalidValue, NameTaken)
    def post(self, request, program):
        target = self.program()
        data = validated(TierIn, request.data)

        def run():
            tier = services.tier_create(program=target, **data)
            return http.HTTP_201_CREATED, _tier_out(tier)

        return self.idempotent(run, program=target)


class TierDetailApi(ProgramApi):
    def tier(self) -> Tier:
        return selectors.tier_get(program=self.program(), tier_id=self.kwargs["tier"])

    @extend_schema(tags=["tiers"], summary="Read a tier",
                   description="One tier of the ladder, with how many members hold it.",
                   responses=TierOut, operation_id="tiers_retrieve")
    @raises(TierNotFound)
    def get(self, request, program, tier):
        return Response(render(TierOut, self.tier()))

    @extend_schema(
        tags=["tiers"], summary="Change a tier",
        description="Send only the fields to change. A new threshold applies from the next "
        "earn and the next evaluation.",
        request=TierIn(partial=True), responses=TierOut, operation_id="tiers_partial_update",
    )
    @raises(TierNotFound, ValidationFailed, InvalidValue, NameTaken)
    def patch(self, request, program, tier):
        target = self.tier()
        data = validated(TierIn, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            return http.HTTP_200_OK, _tier_out(services.tier_update(tier=target, **data))

        return self.idempotent(run, program=self.program())

    @extend_schema(
        tags=["tiers"], summary="Delete an unused tier",
        description="Refused with TIER_IN_USE while members hold it, rewards require it or an "
        "override pins members to it. The history keeps its name.",
        responses={204: None}, operation_id="tiers_destroy",
    )
    @raises(TierNotFound, TierInUse)
    def delete(self, request, program, tier):
        target = self.tier()

        def run():
            services.tier_delete(tier=target)
            return http.HTTP_204_NO_CONTENT, None

        return self.idempotent(run, program=self.program())


class TierSettingsApi(ProgramApi):
    @extend_schema(
        tags=["tiers"], summary="Read the program's tier and streak settings",
        description="The defaults until an Owner first changes them.",
        responses=TierSettingsSerializer, operation_id="tier_settings_retrieve",
    )
    def get(self, request, program):
        return Response(render(TierSettingsSerializer, services.settings_for(self.program())))

    @extend_schema(
        tags=["tiers"], summary="Change the program's tier and streak settings",
        description="basis: lifetime_points, window_points or window_spend (with "
        "window_months); grace_days below a threshold before a step down, at most one step "
        "per evaluation_days. Streaks: streak_cycle (off, day, week, month in the program's "
        "time zone), what counts (streak_activity, streak_event_types), pauses_per_year and "
        "max_pause_days, a reward every milestone_every cycles of count x milestone_points "
        "(times the tier's streak_multiplier, plus its streak_bonus_points). Switching to a "
        "window basis rebuilds the window figures from the ledger or the orders.",
        request=TierSettingsSerializer(partial=True), responses=TierSettingsSerializer,
        operation_id="tier_settings_partial_update",
        examples=[OpenApiExample("A weekly streak", request_only=True, value={
            "streak_cycle": "week", "streak_activity": "orders", "pauses_per_year": 2,
            "milestone_every": 4, "milestone_points": 10})],
    )
    @raises(ValidationFailed, InvalidValue)
    def patch(self, request, program):
        target = self.program()
        data = validated(TierSettingsSerializer, request.data, partial=True)
        if not data:
            raise ValidationFailed("Send at least one field to change.", field="body")

        def run():
            settings = services.tier_settings_update(program=target, **data)
            return http.HTTP_200_OK, render(TierSettingsSerializer, settings)

        return self.idempotent(run, program=target)


# ---------------------------------------------------------------------------------------------
# A member's tier


def _fresh_member(view: ProgramApi, member_id: int) -> dict:
    return render(MemberOut, member_get(program=view.program(), ident=member_id))


class MemberTierOverrideApi(ProgramApi):
    @extend_schema(
        tags=["tiers"], summary="Set a member's tier by hand",
        description="Pins the member to the tier until ends_at (or until cleared); evaluation "
        "leaves them there meanwhile. A reason is required. A new override replaces the open "
        "one.",
        request=TierOverrideIn, responses={201: TierOverrideResultOut},
        operation_id="members_tier_override_set",
        examples=[OpenApiExample("Gold for a month", request_only=True, value={
            "tier": 3, "ends_at": "2026-03-01T00:00:00Z",
            "reason": "Service recovery after a lost order"})],
    )
    @raises(MemberNotFound, TierNotFound, InvalidValue)
    def post(self, request, program, member):
        target = self.member()
        data = validated(TierOverrideIn, request.data)
        tier = selectors.tier_get(program=self.program(), tier_id=data["tier"])

        def run():
            override = services.tier_override_set(
                member=target, tier=tier, reason=data["reason"], ends_at=data["ends_at"],
                actor=self.actor,
            )
            return http.HTTP_201_CREATED, {
                "override": render(TierOverrideOut, override),
                "member": _fresh_member(self, target.pk),
            }

        return self.idempotent(run, program=self.program())

    @extend_schema(
        tags=["tiers"], summary="Clear a member's tier override",
        description="Ends the open override now: the member returns to the better of the tier "
        "they qualify for and the one they held before it.",
        request=None, responses={200: TierOverrideResultOut},
        operation_id="members_tier_override_clear",
    )
    @raises(MemberNotFound, TierOverrideNotFound)
    def delete(self, request, program, member):
        target = self.member()

        def run():
            ended = services.tier_override_clear(member=target, actor=self.actor)
            return http.HTTP_200_OK, {
                "override": render(TierOverrideOut, ended),
                "member": _fresh_member(self, target.pk),
            }

        return self.idempotent(run, program=self.program())


class MemberTierHistoryApi(ProgramApi):
    pagination_class = NewestFirstPagination
    filterset_class = TierChangeFilter

    @extend_schema(
        tags=["tiers"], summary="A member's tier history, newest first",
        description="Every change of tier: from, to, why (earned, evaluated, override, "
        "override ended, streak pause), who, when. Cursor-paginated.",
        responses=TierChangeOut(many=True), operation_id="members_tier_history",
    )
    @raises(MemberNotFound)
    def get(self, request, program, member):
        return self.paginate(selectors.tier_history(member=self.member()), TierChangeOut)


# ---------------------------------------------------------------------------------------------
# Streak pauses


class MemberStreakPauseApi(ProgramApi):
    @extend_schema(
        tags=["streaks"], summary="Pause a member's streak",
        description="Up to the program's pauses_per_year in any 12 months (STREAK_PAUSE_LIMIT "
        "beyond), each up to max_pause_days. On resumption a pause of 15 days or less keeps "
        "the streak; 16 to 45 days resets it to 0 and keeps the tier; more than 45 days resets "
        "it and lowers the tier by one.",
        request=StreakPauseIn, responses={201: StreakResultOut},
        operation_id="members_streak_pause",
        examples=[OpenApiExample("Two weeks away", request_only=True,
                                 value={"days": 14, "reason": "Holiday"})],
    )
    @raises(MemberNotFound, StreaksDisabled, StreakAlreadyPaused, StreakNotActive,
            StreakPauseLimit, ValidationFailed, InvalidValue)
    def post(self, request, program, member):
        target = self.member()
        data = validated(StreakPauseIn, request.data)

        def run():
            pause = services.streak_pause(member=target, days=data["days"],
                                          reason=data["reason"], actor=self.actor)
            return http.HTTP_201_CREATED, {
                "pause": render(StreakPauseOut, pause), "outcome": None,
                "member": _fresh_member(self, target.pk),
            }

        return self.idempotent(run, program=self.program())


class MemberStreakResumeApi(ProgramApi):
    @extend_schema(
        tags=["streaks"], summary="Resume a member's paused streak",
        description="Applies the pause rules to the days the pause lasted (outcome: frozen, "
        "reset, or lowered: reset with the tier lowered by one).",
        request=EmptyIn, responses={200: StreakResultOut},
        operation_id="members_streak_resume",
    )
    @raises(MemberNotFound, StreaksDisabled, StreakNotPaused)
    def post(self, request, program, member):
        target = self.member()
        validated(EmptyIn, request.data)

        def run():
            _, outcome = services.streak_resume(member=target, actor=self.actor)
            pause = StreakPause.objects.filter(member_id=target.pk).order_by("-id").first()
            return http.HTTP_200_OK, {
                "pause": render(StreakPauseOut, pause) if pause is not None else None,
                "outcome": outcome,
                "member": _fresh_member(self, target.pk),
            }

        return self.idempotent(run, program=self.program())
