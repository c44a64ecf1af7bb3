from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
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
        # A changed key, merchant or program is not served from the API's caches.
        from loyaltysite.api.cache import invalidate

        from .models import Merchant, MerchantAPIKey, Program

        for model in (Merchant, MerchantAPIKey, Program):
            for signal in (post_save, post_delete):
                signal.connect(invalidate, sender=model,
                               dispatch_uid=f"api_cache_{model.__name__}_{signal is post_save}")
