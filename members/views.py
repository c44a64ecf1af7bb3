"""Customer portal pages: every program the signed-in person is in, and each one's history.

Views are thin: they read through ``members.portal_selectors`` (the user's own rows only) and
``ledger.selectors``; another person's card id answers 404, as one that does not exist.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_scopes import scope

from ledger.selectors import entry_list_for_member
from loyaltysite.errors import MemberNotFound

from .portal_selectors import member_get_for_user, member_list_for_user

HISTORY_PAGE_SIZE = 20


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(member_list_for_user(user=request.user))
    return render(request, "portal/home.html", {
        "memberships": memberships,
        "is_staff_user": request.user.is_staff or request.user.is_superuser,
    })


@login_required
def member_history(request: HttpRequest, card_id: str) -> HttpResponse:
    try:
        member = member_get_for_user(user=request.user, card_id=card_id)
    except MemberNotFound:
        raise Http404 from None
    with scope(merchant=member.merchant_id):
        entries = entry_list_for_member(member=member)
        page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
    return render(request, "portal/member.html", {
        "member": member,
        "program": member.program,
        "page": page,
        "entries": rows,
    })
