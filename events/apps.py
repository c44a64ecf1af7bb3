from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

OWNER_PERMISSIONS = [
    "events.add_webhookendpoint", "events.change_webhookendpoint",
    "events.delete_webhookendpoint", "events.view_webhookendpoint",
    "events.view_deliveryattempt", "events.resend_delivery",
]


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS

        # Owners only: an endpoint receives every member's data and can be pointed anywhere.
        granted = EXTRA_ROLE_PERMISSIONS.setdefault(StaffMembership.Role.OWNER, [])
        granted.extend(code for code in OWNER_PERMISSIONS if code not in granted)
