"""The one clock domain code reads the time from.

Services take ``clock: Clock = system_clock``. Tests either pass their own clock or install one
process-wide with :func:`use_clock`, which ``system_clock`` then follows, so HTTP requests and
jobs see the moved time too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime: ...


class FrozenClock:
    """A clock that stands still until moved; what tests use."""

    def __init__(self, at: datetime) -> None:
        if timezone.is_naive(at):
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._at = self._at + (delta or timedelta(**kwargs))
            return self._at

    def set(self, at: datetime) -> None:
        self._at = at


class SystemClock:
    """Wall-clock time, unless a test installed another clock with :func:`use_clock`."""

    _override: Clock | None = None

    def now(self) -> datetime:
        if self._override is not None:
            return self._override.now()
        return timezone.now()


system_clock = SystemClock()


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = SystemClock._override
    SystemClock._override = clock
    try:
        yield clock
    finally:
        SystemClock._override = previous
