"""Portal pages of the tiers app: the ladder of each program, and the streak pause buttons.

Thin: the member comes from ``members.portal_selectors`` (the signed-in person's own rows only;
another card answers 404) and the writes are ``tiers.services``; a refusal is a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_scopes import scope

from loyaltysite.errors import LoyaltyError, MemberNotFound
from loyaltysite.ids import parse_id
from members.models import Member
from members.portal_selectors import member_get_for_user, member_list_for_user

from . import selectors, services
from .models import StreakPause

HISTORY_ROWS = 10


def _member(request: HttpRequest, card_id: str) -> Member:
    try:
        return member_get_for_user(user=request.user, card_id=card_id)
    except MemberNotFound:
        raise Http404 from None


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "tiers_portal:status"
    return redirect(target)


@login_required
def status(request: HttpRequest) -> HttpResponse:
    """Every program's ladder with the member's place on it and their latest tier changes."""
    programs = []
    for member in member_list_for_user(user=request.user):
        with scope(merchant=member.merchant_id):
            tiers = list(selectors.tier_list(program=member.program))
            if not tiers:
                continue
            history = list(selectors.tier_history(member=member)[:HISTORY_ROWS])
        programs.append({"member": member, "program": member.program, "tiers": tiers[::-1],
                         "history": history})
    return render(request, "tiers/portal/status.html", {"programs": programs})


@login_required
@require_POST
def streak_pause(request: HttpRequest, card_id: str) -> HttpResponse:
    member = _member(request, card_id)
    days = parse_id(request.POST.get("days", ""))
    if days is None:
        messages.error(request, _("Choose how many days to pause for."))
        return _back(request)
    try:
        pause = services.streak_pause(member=member, days=days, actor=f"customer:{member.pk}",
                                      reason=_("Paused on the portal"))
    except LoyaltyError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Your streak is paused until %(until)s.") % {
            "until": pause.until})
    return _back(request)


@login_required
@require_POST
def streak_resume(request: HttpRequest, card_id: str) -> HttpResponse:
    member = _member(request, card_id)
    try:
        outcome = services.streak_resume(member=member, actor=f"customer:{member.pk}")[1]
    except LoyaltyError as exc:
        messages.error(request, exc.detail)
    else:
        text = {
            StreakPause.Outcome.FROZEN: _("Welcome back: your streak goes on."),
            StreakPause.Outcome.RESET: _("Welcome back: your streak starts again from 0."),
            StreakPause.Outcome.RESET_AND_LOWERED: _(
                "Welcome back: your streak starts again from 0 and your tier is one lower."),
        }[outcome]
        messages.success(request, text)
    return _back(request)
