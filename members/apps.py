from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_role_groups(sender, **kwargs):
    from .services import role_groups_sync

    role_groups_sync()


class MembersConfig(AppConfig):
    name = "members"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Members")

    def ready(self) -> None:
        post_migrate.connect(_sync_role_groups, dispatch_uid="members_role_groups")
