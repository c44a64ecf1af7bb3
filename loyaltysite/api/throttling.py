"""Rate limiting per API key (``RATE_LIMITED``, 429, with ``Retry-After``).

DRF's sliding-window throttle on the Django cache, keyed by the key's prefix: each key has
``API_RATE_LIMIT`` requests per minute (default 1200), unless the key carries its own
``rate_limit_per_minute``. With several app processes the cache must be shared (``CACHE_URL``,
e.g. Redis) for the limit to be one limit; the default in-process cache counts per process.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .auth import ApiKeyPrincipal


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_LIMIT}/min"

    def allow_request(self, request, view) -> bool:
        principal = request.user
        if isinstance(principal, ApiKeyPrincipal):
            limit = principal.api_key.rate_limit_per_minute or settings.API_RATE_LIMIT
            self.num_requests, self.duration = limit, 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        principal = request.user
        if not isinstance(principal, ApiKeyPrincipal):
            return None  # unauthenticated requests fail authentication first
        return f"throttle:api-key:{principal.api_key.prefix}"
