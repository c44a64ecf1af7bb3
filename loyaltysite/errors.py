"""Every domain error, with the stable code and HTTP status integrators rely on (SPEC 16).

Services raise these; the API's exception handler renders them as RFC 9457 problem documents,
the admin and the portal show ``detail`` as a message.
"""

from __future__ import annotations


class LoyaltyError(Exception):
    code = "VALIDATION_ERROR"
    status = 400
    title = "Invalid request."
    # Bad input (malformed, or a value a rule refuses) is not an outcome an idempotency key
    # keeps: the client fixes the request and sends it again under the same key.
    bad_input = True

    def __init__(self, detail: str | None = None, *, field: str | None = None, **extra: object):
        self.detail = detail or self.title
        self.field = field
        self.extra = extra
        super().__init__(self.detail)

    def as_problem(self) -> dict[str, object]:
        body: dict[str, object] = {
            "type": f"/problems/{self.code.lower().replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.field:
            body["errors"] = [{"field": self.field, "code": self.code, "detail": self.detail}]
        body.update(self.extra)
        return body


class ValidationFailed(LoyaltyError):
    code, status, title = "VALIDATION_ERROR", 400, "Invalid request."


class RequestTooLarge(LoyaltyError):
    code, status, title = "REQUEST_TOO_LARGE", 413, "Request body too large."


class AuthenticationFailed(LoyaltyError):
    code, status, title = "AUTHENTICATION_FAILED", 401, "Authentication failed."
    bad_input = False


class PermissionDenied(LoyaltyError):
    code, status, title = "PERMISSION_DENIED", 403, "Permission denied."
    bad_input = False


class NotFound(LoyaltyError):
    code, status, title = "NOT_FOUND", 404, "Not found."
    bad_input = False


class MemberNotFound(NotFound):
    code, title = "MEMBER_NOT_FOUND", "Member not found."


class RuleNotFound(NotFound):
    code, title = "RULE_NOT_FOUND", "Earning rule not found."


class TierNotFound(NotFound):
    code, title = "TIER_NOT_FOUND", "Tier not found."


class RewardNotFound(NotFound):
    code, title = "REWARD_NOT_FOUND", "Reward not found."


class Conflict(LoyaltyError):
    code, status, title = "CONFLICT", 409, "Conflict."
    bad_input = False


class MemberAlreadyEnrolled(Conflict):
    code, title = "MEMBER_ALREADY_ENROLLED", "Customer is already enrolled in this program."


class DuplicateReferral(Conflict):
    code, title = "DUPLICATE_REFERRAL", "This customer has already been referred."


class NameTaken(Conflict):
    code, title = "NAME_TAKEN", "The name is already in use."


class IdempotencyInProgress(Conflict):
    code, title = "IDEMPOTENCY_IN_PROGRESS", "A request with this idempotency key is in progress."


class RedemptionExpired(LoyaltyError):
    code, status, title = "REDEMPTION_EXPIRED", 410, "The reservation has expired."
    bad_input = False


class Unprocessable(LoyaltyError):
    code, status, title = "UNPROCESSABLE", 422, "The request cannot be carried out."
    bad_input = False


class InvalidValue(Unprocessable):
    """A value the schema allows that a rule of the operation refuses: an amount of zero, a
    date no one can mean, more decimal places than the currency has, items that do not add
    up. (A value the schema itself refuses is a 400 ``VALIDATION_ERROR``.)"""

    code, title = "INVALID_VALUE", "A value is well-formed but not acceptable here."
    bad_input = True


class InsufficientPoints(Unprocessable):
    code, title = "INSUFFICIENT_POINTS", "Not enough points."


class MemberInactive(Unprocessable):
    code, title = "MEMBER_INACTIVE", "The member is not active."


class SelfReferral(Unprocessable):
    code, title = "SELF_REFERRAL", "A member cannot refer themselves."


class RewardUnavailable(Unprocessable):
    code, title = "REWARD_UNAVAILABLE", "The reward is not available."


class CurrencyMismatch(Unprocessable):
    code, title = "CURRENCY_MISMATCH", "The currency is not the program's currency."


class IdempotencyConflict(Unprocessable):
    code, title = (
        "IDEMPOTENCY_CONFLICT",
        "This idempotency key was used with a different request.",
    )


class InvalidTransition(Unprocessable):
    code, title = "INVALID_STATUS_TRANSITION", "That status change is not allowed."


class ReferralLimitExceeded(LoyaltyError):
    code, status, title = "REFERRAL_LIMIT_EXCEEDED", 429, "Too many referrals in this period."
    bad_input = False


class RateLimited(LoyaltyError):
    code, status, title = "RATE_LIMITED", 429, "Too many requests."
    bad_input = False
