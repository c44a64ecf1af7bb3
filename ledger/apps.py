from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Ledger")

    def ready(self) -> None:
        from members.templatetags.portal import portal_member_panel_register

        # "120 points expire on 12 January" on each membership card (SPEC 10).
        portal_member_panel_register("ledger/portal/expiring.html", order=10)
