"""Row ids as the outside world sends them: ASCII digits only, within a bigint.

``str.isdigit()`` accepts superscripts and circled digits that ``int()`` then refuses, and
``int()`` accepts Arabic-Indic digits, spaces and underscores that no integrator means as an
id. Every id read from a path, a query string or a body goes through :func:`parse_id`, so one
rule decides what an id is, everywhere.
"""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """The positive bigint ``value`` spells in ASCII digits, or ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def is_ascii_digits(value: str) -> bool:
    """Only ``0``-``9`` (``str.isdigit`` also accepts ``¹`` and ``①``)."""
    return bool(value) and value.isascii() and value.isdigit()
