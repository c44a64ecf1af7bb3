from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

OWNER_PERMISSIONS = [
    "accounts.view_signinpolicy", "accounts.add_signinpolicy", "accounts.change_signinpolicy",
]
MANAGER_PERMISSIONS = ["accounts.view_signinpolicy"]


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Sign-in")

    def ready(self) -> None:
        from django.contrib import admin

        from members.models import StaffMembership
        from members.services import EXTRA_ROLE_PERMISSIONS

        from .forms import ConsoleSignInForm

        # The console's sign-in asks for the authenticator's code of a user who has one.
        admin.site.login_form = ConsoleSignInForm
        admin.site.login_template = "accounts/console_login.html"

        for role, codes in (
            (StaffMembership.Role.OWNER, OWNER_PERMISSIONS),
            (StaffMembership.Role.MANAGER, MANAGER_PERMISSIONS),
        ):
            granted = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(code for code in codes if code not in granted)
