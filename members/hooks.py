"""What other apps hear when a customer is enrolled, inside the enrolment's transaction.

``members`` is a base app and imports none of its consumers (STYLE 1). Tiers place a new
member on the ladder's first rung, referrals attribute a sign-up to a referral code, and so on,
by registering here from their ``AppConfig.ready()``. ``context`` carries what the enrolling
request said beyond the customer's own fields (e.g. ``{"referral_code": "K7QX9M"}``), so an
API or portal form can pass a consumer's input through without ``members`` knowing it. When the
caller passes a dict, a hook may write its outcome into it (``context["referral"]``) for the
caller's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Member

MemberEnrolled = Callable[["Member", Mapping[str, Any]], None]
_member_enrolled: list[MemberEnrolled] = []


def register_member_enrolled(hook: MemberEnrolled) -> None:
    """Call ``hook(member, context)`` after every enrolment (idempotent per function)."""
    if hook not in _member_enrolled:
        _member_enrolled.append(hook)


def member_enrolled(member: Member, context: Mapping[str, Any] | None = None) -> None:
    for hook in list(_member_enrolled):
        hook(member, context or {})


# Welcome points for a member who has just joined: the rules app registers its welcome award
# (``rules.services.award_welcome``); each hook answers the points it awarded.
MemberWelcome = Callable[..., int]
_member_welcome: list[MemberWelcome] = []


def register_member_welcome(hook: MemberWelcome) -> None:
    """Call ``hook(member=..., clock=...)`` when a new member is welcomed (idempotent)."""
    if hook not in _member_welcome:
        _member_welcome.append(hook)


def member_welcomed(member: Member, clock: Any) -> int:
    """The points every welcome hook awarded ``member``, in all."""
    return sum(hook(member=member, clock=clock) for hook in list(_member_welcome))


# What a member representation shows of their standing beyond the member row: the tiers app
# answers ``{"tier_progress": {...} | None, "streak_cycle": "week" | None}`` from its per-process
# ladder cache (no query), so the API renders it on every earn without reading more rows.
MemberStanding = Callable[["Member"], Mapping[str, Any]]
_member_standing: list[MemberStanding] = []


def register_member_standing(provider: MemberStanding) -> None:
    """Let ``provider(member)`` add to what ``member_standing`` answers (idempotent)."""
    if provider not in _member_standing:
        _member_standing.append(provider)


def member_standing(member: Member) -> dict[str, Any]:
    """The standing providers' answers for ``member``, merged."""
    standing: dict[str, Any] = {}
    for provider in _member_standing:
        standing.update(provider(member))
    return standing
