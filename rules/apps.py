from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The console's rights on this app's models beyond rules.*_earningrule (in members.services).
_READ = ["rules.view_order", "rules.view_refund", "rules.view_event", "rules.view_award"]


class RulesConfig(AppConfig):
    name = "rules"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Rules")

    def ready(self) -> None:
        from members.hooks import register_member_welcome
        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS
        from members.templatetags.portal import portal_nav_register

        from .services import award_welcome

        for role in (StaffMembership.Role.OWNER, StaffMembership.Role.MANAGER):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in _READ if code not in granted)
        portal_nav_register("rules_portal:how-to-earn", _("How to earn"), order=10)
        register_member_welcome(award_welcome)
