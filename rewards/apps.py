from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

OWNER_PERMISSIONS = [
    "rewards.add_reward", "rewards.change_reward", "rewards.delete_reward", "rewards.view_reward",
    "rewards.view_redemption", "rewards.change_redemption", "rewards.release_redemption",
    "rewards.view_voucher", "rewards.change_voucher", "rewards.use_voucher",
]
MANAGER_PERMISSIONS = [
    "rewards.view_reward",
    "rewards.view_redemption", "rewards.change_redemption", "rewards.release_redemption",
    "rewards.view_voucher", "rewards.change_voucher", "rewards.use_voucher",
]


class RewardsConfig(AppConfig):
    name = "rewards"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Rewards")

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS
        from members.templatetags.portal import portal_nav_register

        portal_nav_register("rewards_portal:catalog", _("Rewards"), order=20)
        portal_nav_register("rewards_portal:vouchers", _("My vouchers"), order=30)

        for role, codes in (
            (StaffMembership.Role.OWNER, OWNER_PERMISSIONS),
            (StaffMembership.Role.MANAGER, MANAGER_PERMISSIONS),
        ):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in codes if code not in granted)
