"""Write paths of the referrals app (see each module): codes, attribution and its guards,
conversion and rewards, clawback, the review gate, the program's terms."""

from .attribution import (
    Attribution,
    normalize_email,
    on_member_enrolled,
    referral_attribute,
    referral_attribute_checkout,
    self_referral_rule,
)
from .codes import referral_code_deactivate, referral_code_get_or_create, referral_code_regenerate
from .conversion import (
    OPEN_REFERRAL_PROBE,
    on_order_recorded,
    on_order_refunded,
    qualifies,
    referral_claw_back,
    referral_convert,
)
from .review import (
    REVIEWABLE,
    SETTINGS_FIELDS,
    referral_approve,
    referral_reject,
    referral_settings_update,
    referrals_expire_due,
)

__all__ = [
    "OPEN_REFERRAL_PROBE", "REVIEWABLE", "SETTINGS_FIELDS", "Attribution", "normalize_email",
    "on_member_enrolled",
    "on_order_recorded", "on_order_refunded", "qualifies", "referral_approve",
    "referral_attribute", "referral_attribute_checkout", "referral_claw_back",
    "referral_code_deactivate", "referral_code_get_or_create", "referral_code_regenerate",
    "referral_convert", "referral_reject", "referral_settings_update", "referrals_expire_due",
    "self_referral_rule",
]
