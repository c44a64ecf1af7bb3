from django.apps import AppConfig


class LoyaltysiteConfig(AppConfig):
    name = "loyaltysite"

    def ready(self) -> None:
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
