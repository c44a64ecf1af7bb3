"""Portal pieces of the ledger: the membership card's "points expiring soon" panel."""

from __future__ import annotations

from django import template

from loyaltysite.clock import system_clock

from ..selectors import Expiry, points_expiring

register = template.Library()


@register.simple_tag
def expiring_points(member) -> list[Expiry]:
    """The member's points expiring within the program's warning days, soonest first."""
    return points_expiring(member=member, now=system_clock.now())
