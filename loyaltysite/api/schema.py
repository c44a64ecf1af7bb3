"""drf-spectacular extensions for the project's own API plumbing."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MerchantApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyaltysite.api.auth.MerchantApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a merchant's API key.",
        }
