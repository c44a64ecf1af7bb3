"""Customer portal pages: every program the signed-in person is in, and each one's history.

Views are thin: they read through ``members.portal_selectors`` (the user's own rows only) and
``ledger.selectors``; another person's card id answers 404, as one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django_scopes import scope

from loyaltysite.errors import LoyaltyError, MemberNotFound

from .forms import PortalSignUpForm
from .portal_selectors import (
    history_entries,
    history_rows,
    member_get_for_user,
    member_list_for_user,
    program_open_for_sign_up,
)
from .services import member_sign_up

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
        entries = history_entries(member=member)
        page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = history_rows(member=member, entries=list(page.object_list))
    return render(request, "portal/member.html", {
        "member": member,
        "program": member.program,
        "page": page,
        "rows": rows,
        "total": member.balance + member.pending_points + member.reserved_points,
    })


def _referral_message(request: HttpRequest, outcome: dict | None) -> None:
    """What the enrolment hooks said of the referral code, for the new member."""
    if not outcome:
        return
    if outcome.get("attributed"):
        messages.success(request, gettext(
            "Your friend's invitation is recorded: you both get a reward after your first "
            "qualifying purchase."
        ))
    else:
        messages.warning(request, gettext("The referral code could not be used: %(detail)s")
                         % {"detail": outcome.get("detail") or ""})


def join(request: HttpRequest, program_id: str) -> HttpResponse:
    """The portal's sign-up for one program (``/join/<program>/``), also where a share link
    (``/r/<code>/``) lands with ``?code=``: create an account and join, or join with the account
    one is signed in with."""
    program = program_open_for_sign_up(program_id=program_id)
    if program is None:
        raise Http404
    code = (request.POST.get("referral_code") or request.GET.get("code") or "").strip()[:32]
    page = {"program": program, "code": code}
    if request.user.is_authenticated:
        return _join_signed_in(request, program, code, page)
    form = PortalSignUpForm(request.POST or None, initial={"referral_code": code})
    if request.method == "POST" and form.is_valid():
        context = {"referral_code": form.cleaned_data["referral_code"].strip(),
                   "referral_channel": "portal"}
        try:
            with transaction.atomic():
                user = form.save()
                context["actor"] = f"customer:{user.pk}"
                member_sign_up(program=program, user=user, name=form.cleaned_data["name"],
                               context=context)
        except LoyaltyError as error:
            messages.error(request, error.detail)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, gettext("Welcome to %(program)s!")
                             % {"program": program.name})
            _referral_message(request, context.get("referral"))
            return redirect("portal:home")
    return render(request, "portal/join.html", {**page, "form": form})


def _join_signed_in(request: HttpRequest, program, code: str, page: dict) -> HttpResponse:
    user = request.user
    if user.is_staff or user.is_superuser:
        return render(request, "portal/join.html", {**page, "staff": True})
    if member_list_for_user(user=user).filter(program=program).exists():
        messages.info(request, gettext("You are a member of %(program)s already.")
                      % {"program": program.name})
        return redirect("portal:home")
    if request.method == "POST":
        context = {"referral_code": code, "referral_channel": "portal",
                   "actor": f"customer:{user.pk}"}
        try:
            member_sign_up(program=program, user=user, context=context)
        except LoyaltyError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, gettext("Welcome to %(program)s!")
                             % {"program": program.name})
            _referral_message(request, context.get("referral"))
            return redirect("portal:home")
    return render(request, "portal/join.html", {**page, "signed_in": True})
