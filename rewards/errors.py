"""Rewards' own error codes, next to the shared ones of ``loyaltysite.errors`` (SPEC 16).

The API's exception handler renders any ``LoyaltyError``, so these need nothing more.
"""

from __future__ import annotations

from loyaltysite.errors import LoyaltyError, NotFound, Unprocessable


class RedemptionNotFound(NotFound):
    code, title = "REDEMPTION_NOT_FOUND", "Redemption not found."


class VoucherNotFound(NotFound):
    code, title = "VOUCHER_NOT_FOUND", "Voucher not found."


class RedemptionReleased(Unprocessable):
    code, title = "REDEMPTION_RELEASED", "The reservation was released; it cannot be confirmed."


class RedemptionAlreadyConfirmed(Unprocessable):
    code, title = "REDEMPTION_CONFIRMED", "The redemption is confirmed; it cannot be released."


class RedeemBelowMinimum(Unprocessable):
    code, title = "REDEEM_BELOW_MINIMUM", "Fewer points than the program's minimum redemption."


class RedeemAboveMaximum(Unprocessable):
    code, title = (
        "REDEEM_ABOVE_MAXIMUM",
        "More points than the program lets pay for this order.",
    )


class VoucherAlreadyUsed(Unprocessable):
    code, title = "VOUCHER_ALREADY_USED", "The voucher has already been used."


class VoucherExpired(LoyaltyError):
    code, status, title = "VOUCHER_EXPIRED", 410, "The voucher has expired."
