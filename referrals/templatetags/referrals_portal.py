"""Template helpers of the referral pieces of the portal (the membership-card panel)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

from members.models import Customer, Member

from ..views import portal_card

register = template.Library()


@register.simple_tag(takes_context=True)
def referral_panel(context, member: Member) -> dict[str, Any]:
    """What the membership card shows of ``member``'s referrals (the link, friends, points)."""
    return portal_card(context["request"], member)


@register.filter
def friend_label(customer: Customer) -> str:
    """How a referred friend is named to the person who referred them: a first name and an
    initial, or a masked email, never the full details."""
    words = (customer.name or "").split()
    if words:
        return f"{words[0]} {words[-1][0]}." if len(words) > 1 else words[0]
    local, at, domain = (customer.email or "").partition("@")
    if at and local:
        return f"{local[0]}•••@{domain}"
    return gettext("A friend")
