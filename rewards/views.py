"""Customer portal pages for rewards: what the customer can redeem or is close to, the redeem
step (a confirmation page first; its plain POST form reserves and confirms at once, then shows
the voucher), and their vouchers.

Everything reads through the signed-in user's own members (``members.portal_selectors``);
another person's card or voucher answers 404, as one that does not exist. The redeem form
carries a one-time token used as an idempotency key, so a double submit redeems once.
"""

from __future__ import annotations

import re
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from ledger.idempotency import fingerprint, run_idempotent
from loyaltysite.errors import LoyaltyError, MemberNotFound
from members.portal_selectors import member_get_for_user, member_list_for_user

from . import selectors, services
from .models import Reward

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    programs = []
    for member in member_list_for_user(user=request.user):
        affordable, close = selectors.portal_reward_options(member=member)
        programs.append({"member": member, "affordable": affordable, "close": close})
    return render(request, "rewards/catalog.html", {"programs": programs})


@login_required
@require_http_methods(["GET", "POST"])
def redeem(request: HttpRequest, card_id: str, reward_id: int) -> HttpResponse:
    try:
        member = member_get_for_user(user=request.user, card_id=card_id)
    except MemberNotFound:
        raise Http404 from None
    reward = Reward._base_manager.filter(
        program_id=member.program_id, pk=reward_id, deleted_at__isnull=True
    ).first()
    if reward is None:
        raise Http404
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "rewards/redeem_confirm.html", {
            "member": member, "program": member.program, "reward": reward,
            "balance_after": member.balance - reward.points_cost,
            "token": secrets.token_urlsafe(16),
        })

    def run() -> tuple[int, dict]:
        redemption = services.reward_redeem_now(
            member=member, reward=reward, actor=f"customer:{request.user.pk}"
        )
        return 201, {"code": redemption.voucher.code}

    token = request.POST.get("token", "")
    try:
        if TOKEN.match(token):
            outcome = run_idempotent(
                merchant_id=member.merchant_id, program_id=member.program_id,
                key=f"portal-redeem:{request.user.pk}:{token}:{reward.pk}",
                request_fingerprint=fingerprint("portal-redeem", member.pk, reward.pk),
                run=run,
            )
            status, body = outcome.status, outcome.body
        else:
            status, body = run()
    except LoyaltyError as error:
        status, body = error.status, error.as_problem()
    if status >= 400:
        messages.error(request, body["detail"])
        return redirect("rewards_portal:catalog")
    messages.success(request, gettext("Redeemed: %(reward)s. Show this voucher at the till.")
                     % {"reward": reward.name})
    return redirect("rewards_portal:voucher", code=body["code"])


@login_required
def vouchers(request: HttpRequest) -> HttpResponse:
    return render(request, "rewards/vouchers.html", {
        "vouchers": list(selectors.portal_vouchers(user=request.user)),
    })


@login_required
def voucher(request: HttpRequest, code: str) -> HttpResponse:
    found = selectors.portal_voucher(user=request.user, code=code)
    if found is None:
        raise Http404
    return render(request, "rewards/voucher.html", {"voucher": found})
