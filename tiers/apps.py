from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

OWNER_PERMISSIONS = [
    "tiers.view_tiersettings", "tiers.add_tiersettings", "tiers.change_tiersettings",
    "tiers.view_tierchange", "tiers.view_tieroverride", "tiers.override_tier",
    "tiers.pause_streak",
]
MANAGER_PERMISSIONS = [
    "tiers.view_tiersettings", "tiers.view_tierchange", "tiers.view_tieroverride",
    "tiers.override_tier", "tiers.pause_streak",
]


class TiersConfig(AppConfig):
    name = "tiers"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Tiers")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save
        from django.utils.translation import gettext_lazy as _

        from ledger.hooks import register_after_post
        from members.dashboard import dashboard_table_register
        from members.hooks import register_member_enrolled, register_member_standing
        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS
        from members.templatetags.portal import (
            portal_member_panel_register,
            portal_nav_register,
            portal_stylesheet_register,
        )
        from rules.hooks import (
            register_batch_check,
            register_order_recorded,
            register_order_refunded,
        )

        from . import hooks
        from .dashboard import tier_distribution_table
        from .ladder import forget_ladder
        from .models import Tier, TierSettings

        register_after_post(hooks.after_post)
        register_order_recorded(hooks.order_recorded)
        register_batch_check(hooks.batch_check, covers=[hooks.after_post, hooks.order_recorded],
                             posting=hooks.batch_posting_acts)
        register_order_refunded(hooks.order_refunded)
        register_member_enrolled(hooks.member_enrolled)
        register_member_standing(hooks.member_standing)

        # The ladder cache follows every write of a tier or settings row, however it is made
        # (services, the console, tests): cache upkeep, not domain behaviour.
        for model in (Tier, TierSettings):
            post_save.connect(forget_ladder, sender=model,
                              dispatch_uid=f"tiers_cache_{model.__name__}")
            post_delete.connect(forget_ladder, sender=model,
                                dispatch_uid=f"tiers_cache_del_{model.__name__}")

        dashboard_table_register(tier_distribution_table, order=10)
        portal_member_panel_register("tiers/portal/_panel.html", order=10)
        portal_nav_register("tiers_portal:status", _("Tiers and streaks"), order=15)
        portal_stylesheet_register("tiers/tiers.css")

        for role, codes in (
            (StaffMembership.Role.OWNER, OWNER_PERMISSIONS),
            (StaffMembership.Role.MANAGER, MANAGER_PERMISSIONS),
        ):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in codes if code not in granted)
