"""One way to write money and card ids, for the API, the console, the portal and errors.

Money is always written to its currency's minor unit (``62.50`` EUR, ``1250`` JPY, ``1.250``
KWD), never with the storage precision of the column (``62.500``). Card ids are printed in the
grouped form printed on the card (``ZY1X-5CEZ-W6WK-3DQ4``) and accepted with or without dashes,
in any case (``members.models.normalize_card_id``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .currencies import quantize_money


def money_str(amount: Decimal | int | str, currency: str) -> str:
    """``amount`` in the currency's minor units, as a plain string: the API's form."""
    return str(quantize_money(Decimal(str(amount)), currency, ROUND_HALF_UP))


def money_display(amount: Decimal | int | str, currency: str) -> str:
    """``amount`` and its currency for people (console, portal, error messages)."""
    return f"{money_str(amount, currency)} {currency}"


def card_id_display(card_id: str) -> str:
    """The canonical printed form of a card id: groups of four joined by dashes."""
    return "-".join(card_id[i : i + 4] for i in range(0, len(card_id), 4))
