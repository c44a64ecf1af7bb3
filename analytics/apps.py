from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

PERMISSIONS = ["analytics.view_programday"]


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from members.dashboard import (
            dashboard_context_register,
            dashboard_table_unregister,
        )
        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS
        from tiers.dashboard import tier_distribution_table

        from .dashboard import add_analytics

        dashboard_context_register(add_analytics, order=10)
        # The tier mix is charted and tabled here (from the rollup): the tiers app's live
        # table would count every member on each render.
        dashboard_table_unregister(tier_distribution_table)
        for role in (StaffMembership.Role.OWNER, StaffMembership.Role.MANAGER):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in PERMISSIONS if code not in granted)
