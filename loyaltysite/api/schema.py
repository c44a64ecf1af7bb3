"""drf-spectacular extensions for the project's own API plumbing."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from loyaltysite.errors import LoyaltyError


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


def raises(*errors: type[LoyaltyError]):
    """Declare the domain errors an API operation can answer, for its schema.

    Put it on the view method beside ``extend_schema``; the schema lists each error's status
    and code under the operation's responses (``problem+json``, the shared ``Problem``).
    """

    def decorate(function):
        function._raises = (*getattr(function, "_raises", ()), *errors)
        return function

    return decorate
