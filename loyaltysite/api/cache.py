"""Per-process caches of what every API request reads first: its API key and its program.

Each request used to spend two of its round trips on them. Here they are kept in the process
for ``API_CACHE_SECONDS`` (default 30; 0 turns the caches off) and dropped at once when any
API key, merchant or program changes: saving or deleting one (signals, ``members/apps.py``),
or updating them in bulk (their managers' querysets, ``members/models.py``), replaces a
*version token* kept in Django's cache, and an entry made under another token is not used. In
one process a revoked key is refused by the next request; across processes the token is shared
when Django's cache is (``CACHE_URL=redis://...``, as the rate limits want anyway), otherwise
a change reaches the other processes within ``API_CACHE_SECONDS``.

The token is replaced again when the changing transaction commits, so a request that read the
old row between the change and its commit cannot keep it. The token is random, never a counter:
a cleared cache can never bring an old token back. Entries are model instances copied out on
every hit (a request may attach things to its program; the cached one stays as it was read).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

T = TypeVar("T")

VERSION_KEY = "loyalty:api-cache:version"
MAX_ENTRIES = 10_000


def current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    return version


def invalidate(**_: Any) -> None:
    """Drop every cached key and program, now and when the current transaction commits.

    Takes any keyword arguments: it is connected to model signals as it is.
    """
    _bump()
    if connection.in_atomic_block:
        connection.on_commit(_bump)


def _bump() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    for store in _STORES:
        store.clear()


def copied(instance: T) -> T:
    """A shallow copy of a model instance with its own state (no shared related objects)."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(instance.__dict__)
    state = clone._state = ModelState()
    state.db, state.adding = instance._state.db, False
    return clone


class HotCache:
    """``key -> value`` for ``API_CACHE_SECONDS``, under the current version token."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, str, Any]] = {}
        _STORES.append(self)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The value for ``key``, from the cache or ``load()`` (a ``None`` is not kept)."""
        ttl = settings.API_CACHE_SECONDS
        if ttl <= 0:
            return load()
        version, now = current_version(), time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now and entry[1] == version:
            value = entry[2]
        else:
            value = load()
            if value is None:
                self._entries.pop(key, None)
                return None
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + ttl, version, value)
        return copied(value) if isinstance(value, Model) else value

    def clear(self) -> None:
        self._entries.clear()


_STORES: list[HotCache] = []
