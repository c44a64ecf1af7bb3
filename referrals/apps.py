from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

OWNER_PERMISSIONS = [
    "referrals.view_referral", "referrals.review_referral", "referrals.view_referralreward",
    "referrals.view_referralcode", "referrals.deactivate_referralcode",
    "referrals.view_referralsettings", "referrals.add_referralsettings",
    "referrals.change_referralsettings",
]
MANAGER_PERMISSIONS = [
    "referrals.view_referral", "referrals.review_referral", "referrals.view_referralreward",
    "referrals.view_referralcode", "referrals.deactivate_referralcode",
    "referrals.view_referralsettings",
]


class ReferralsConfig(AppConfig):
    name = "referrals"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from members.hooks import register_member_enrolled
        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS
        from members.templatetags.portal import (
            portal_member_panel_register,
            portal_nav_register,
        )
        from rules.hooks import (
            register_batch_check,
            register_order_probe,
            register_order_recorded,
            register_order_refunded,
        )

        from .services import on_member_enrolled, on_order_recorded, on_order_refunded
        from .services.conversion import (
            OPEN_REFERRAL_PROBE,
            members_with_open_referrals,
            open_referral_probe,
        )

        register_member_enrolled(on_member_enrolled)
        register_order_recorded(on_order_recorded)
        register_order_probe(OPEN_REFERRAL_PROBE, open_referral_probe)
        register_batch_check(members_with_open_referrals, covers=[on_order_recorded])
        register_order_refunded(on_order_refunded)
        portal_nav_register("referrals_portal:index", _("Refer a friend"), order=40)
        portal_member_panel_register("referrals/_member_panel.html", order=40)
        for role, codes in (
            (StaffMembership.Role.OWNER, OWNER_PERMISSIONS),
            (StaffMembership.Role.MANAGER, MANAGER_PERMISSIONS),
        ):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in codes if code not in granted)
