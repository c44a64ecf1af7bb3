"""The tier and streak panel of a membership card on the portal."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import ngettext
from django_scopes import scope

from loyaltysite.clock import system_clock
from members.models import Member

from ..selectors import member_panel

register = template.Library()

UNITS = {
    "day": lambda n: ngettext("%(n)d day", "%(n)d days", n),
    "week": lambda n: ngettext("%(n)d week", "%(n)d weeks", n),
    "month": lambda n: ngettext("%(n)d month", "%(n)d months", n),
}


def cycles(cycle: str, n: int) -> str:
    """``n`` cycles in words: "3 weeks"."""
    return UNITS.get(cycle, UNITS["day"])(n) % {"n": n}


@register.simple_tag
def tier_panel(member: Member) -> dict[str, Any]:
    with scope(merchant=member.merchant_id):
        panel = member_panel(member=member, now=system_clock.now())
    settings = panel["ladder"].settings
    if panel["streaks"]:
        cycle = settings.streak_cycle
        panel["count_words"] = cycles(cycle, member.streak)
        milestone = panel["milestone"]
        if milestone is not None:
            panel["milestone_in"] = cycles(cycle, milestone[0] - member.streak)
            panel["milestone_count"] = cycles(cycle, milestone[0])
    return panel
