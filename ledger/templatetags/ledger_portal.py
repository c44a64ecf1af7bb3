"""Portal pieces of the ledger: the "points expiring soon" panel, and how figures are written.

Points are integers, written with the active language's grouping (``1,250`` in English,
``1.250`` in German), never with decimals; money is written to its currency's minor unit
(``loyaltysite.formatting``), in the active language's number format.
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import formats

from loyaltysite.clock import system_clock
from loyaltysite.currencies import quantize_money

from ..selectors import Expiry, points_expiring

register = template.Library()

MINUS = "\u2212"


@register.simple_tag
def expiring_points(member) -> list[Expiry]:
    """The member's points expiring within the program's warning days, soonest first."""
    return points_expiring(member=member, now=system_clock.now())


@register.filter
def points(value) -> str:
    """An integer count of points, grouped for the active language (``12,500``)."""
    if value in (None, ""):
        return ""
    number = int(value)
    text = formats.number_format(abs(number), 0, use_l10n=True, force_grouping=True)
    return f"{MINUS}{text}" if number < 0 else text


@register.filter
def point_unit(program, count) -> str:
    """The program's name for ``count`` points: ``point`` for one, ``points`` otherwise."""
    return program.point_name if abs(int(count)) == 1 else program.point_name_plural


@register.filter
def signed_points(value) -> str:
    """Points with their sign, as a history row moves them (``+120``, ``−1,500``)."""
    number = int(value)
    return f"+{points(number)}" if number > 0 else points(number)


@register.filter
def money(amount, currency: str) -> str:
    """``amount`` in ``currency``'s minor units, localised (``62.50 EUR``, ``62,50 EUR``)."""
    if amount in (None, ""):
        return ""
    quantized = quantize_money(Decimal(str(amount)), currency)
    places = max(-quantized.as_tuple().exponent, 0)
    text = formats.number_format(quantized, places, use_l10n=True, force_grouping=True)
    return f"{text} {currency}"
