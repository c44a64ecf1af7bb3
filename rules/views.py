"""Customer portal: how to earn points, in plain words, for each program the customer is in."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from loyaltysite.clock import system_clock

from .selectors import how_to_earn_for_user


@login_required
def how_to_earn(request: HttpRequest) -> HttpResponse:
    programs = how_to_earn_for_user(user=request.user, at=system_clock.now())
    return render(request, "rules/how_to_earn.html", {"programs": programs})
