"""Customer portal pages for referrals: the share link's landing (``/r/<code>/``), the "Refer a
friend" page (the link with copy and QR code, the friends referred and how far they got, the
points earned) and the button that creates a member's code.

Everything a signed-in customer sees is read through their own members
(``members.portal_selectors``); another person's card id answers 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from loyaltysite.errors import LoyaltyError, MemberNotFound
from members.models import Member
from members.portal_selectors import member_get_for_user, member_list_for_user

from . import selectors, services
from .models import Referral, normalize_referral_code

# How a referral's state reads to the customer who shared the link.
FRIEND_STATUS = {
    Referral.Status.PENDING: _("Joined"),
    Referral.Status.APPROVED: _("Joined"),
    Referral.Status.CONVERTED: _("Bought: reward on its way"),
    Referral.Status.REWARDED: _("Rewarded"),
    Referral.Status.REJECTED: _("Not eligible"),
    Referral.Status.CLAWED_BACK: _("Order returned"),
    Referral.Status.EXPIRED: _("No purchase in time"),
}


def share_url(request: HttpRequest, code: str) -> str:
    return request.build_absolute_uri(reverse("referrals_portal:landing", args=[code]))


def landing(request: HttpRequest, code: str) -> HttpResponse:
    """Where a shared link lands: on the sign-up of the code's program, with the code kept.

    A code that is known but cannot attribute any more still leads to the sign-up (the friend
    can join), without the code and with a word about it; an unknown code is a 404 page.
    """
    found = selectors.code_lookup(code=normalize_referral_code(code))
    program = found.program if found is not None else None
    if program is None or program.is_deleted or not program.is_active:
        return render(request, "referrals/landing_invalid.html", status=404)
    join = reverse("portal:join", args=[program.pk])
    usable = (
        found.is_active and found.member.status == Member.Status.ACTIVE
        and selectors.settings_for(program=program).is_enabled
    )
    if not usable:
        messages.warning(request, gettext(
            "This referral link is no longer active, but you can still join."
        ))
        return redirect(join)
    return redirect(f"{join}?{urlencode({'code': found.code})}")


def portal_card(request: HttpRequest, member: Member) -> dict[str, Any]:
    code = selectors.code_for_member(member=member)
    friends = selectors.portal_referrals(member=member)
    return {
        "member": member,
        "program": member.program,
        "enabled": selectors.settings_for(program=member.program).is_enabled,
        "code": code,
        "share_url": share_url(request, code.code) if code is not None else "",
        "friends": [(f, FRIEND_STATUS[f.status]) for f in friends],
        "points": selectors.referral_points_earned(member=member),
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    cards = [portal_card(request, member) for member in member_list_for_user(user=request.user)]
    return render(request, "referrals/portal.html", {"cards": cards})


@login_required
@require_POST
def code_create(request: HttpRequest, card_id: str) -> HttpResponse:
    """Get (or create) the member's code: a plain form, so it works without JavaScript."""
    try:
        member = member_get_for_user(user=request.user, card_id=card_id)
    except MemberNotFound:
        raise Http404 from None
    try:
        services.referral_code_get_or_create(member=member)
    except LoyaltyError as error:
        messages.error(request, error.detail)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("referrals_portal:index")
    return redirect(target)
