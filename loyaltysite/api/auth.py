"""`Authorization: Api-Key <key>`: per-merchant keys stored hashed."""

from __future__ import annotations

import hashlib

from django.db import connection
from rest_framework import authentication, permissions
from rest_framework.request import Request

from loyaltysite.errors import AuthenticationFailed, PermissionDenied
from members.models import Merchant, MerchantAPIKey

from .cache import HotCache

_keys = HotCache()


class ApiKeyPrincipal:
    """What ``request.user`` is for a key-authenticated request."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: MerchantAPIKey) -> None:
        self.api_key = api_key
        self.merchant_id = api_key.merchant_id
        self.read_only = api_key.read_only

    @property
    def actor(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return self.actor


class MerchantApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            raise AuthenticationFailed("Use 'Authorization: Api-Key <key>'.")
        api_key = self._lookup(key.strip())
        if api_key is None:
            raise AuthenticationFailed("Unknown, revoked or expired API key.")
        if not api_key.merchant_is_active:
            raise AuthenticationFailed("The merchant is not active.")
        return ApiKeyPrincipal(api_key), api_key

    @classmethod
    def _lookup(cls, key: str) -> MerchantAPIKey | None:
        """The usable key for ``key``, kept in the process (``cache``) once checked; its expiry
        is checked on every request."""
        digest = hashlib.sha256(key.encode()).digest()
        api_key = _keys.get(digest, lambda: cls._load(key))
        if api_key is None or api_key.has_expired:
            return None
        return api_key

    @staticmethod
    def _load(key: str) -> MerchantAPIKey | None:
        """The key for ``key`` and whether its merchant is active, in one query.

        Plain SQL (every request runs it: compiling the ORM query cost more than the query);
        the hash is checked here, as is the expiry, which the library's ``get_from_key`` skips.
        """
        prefix, _, _ = key.partition(".")
        keys, merchants = (connection.ops.quote_name(m._meta.db_table)
                           for m in (MerchantAPIKey, Merchant))
        found = list(MerchantAPIKey._base_manager.raw(
            f"SELECT k.*, m.is_active AS merchant_is_active FROM {keys} k"
            f" JOIN {merchants} m ON m.id = k.merchant_id"
            " WHERE k.prefix = %s AND k.revoked = %s",  # only table names are formatted in
            [prefix, False],
        ))
        api_key = found[0] if found else None
        if api_key is None or not api_key.is_valid(key):
            return None
        return api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasMerchantApiKey(permissions.BasePermission):
    """A valid key is required; a read-only key may only read."""

    def has_permission(self, request: Request, view) -> bool:
        principal = request.user
        if not isinstance(principal, ApiKeyPrincipal):
            raise AuthenticationFailed("An API key is required: 'Authorization: Api-Key <key>'.")
        if principal.read_only and request.method not in permissions.SAFE_METHODS:
            raise PermissionDenied("This API key is read-only.")
        return True
