"""Errors of the referrals app, beyond the shared ones in ``loyaltysite.errors``.

``SELF_REFERRAL`` (422), ``DUPLICATE_REFERRAL`` (409) and ``REFERRAL_LIMIT_EXCEEDED`` (429) are
defined there, as SPEC 16 lists them; these complete the set.
"""

from __future__ import annotations

from loyaltysite.errors import NotFound, Unprocessable


class ReferralNotFound(NotFound):
    code, title = "REFERRAL_NOT_FOUND", "Referral not found."


class ReferralCodeNotFound(NotFound):
    code, title = "REFERRAL_CODE_NOT_FOUND", "The member has no referral code yet."


class RefereeNotEligible(Unprocessable):
    code, title = "REFEREE_NOT_ELIGIBLE", "This customer cannot be referred."
