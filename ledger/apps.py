from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from members.templatetags.portal import portal_member_panel_register

        # "120 points expire on 12 January" on each membership card (SPEC 10).
        portal_member_panel_register("ledger/portal/expiring.html", order=10)
