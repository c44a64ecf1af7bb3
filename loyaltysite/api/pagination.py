"""Pagination that refuses what its schema refuses.

DRF's classes quietly fall back to defaults: ``page_size=abc`` or ``page_size=100000`` gives
the default or the maximum, and a malformed cursor answers 404. Here ``page``, ``page_size``
and ``cursor`` are checked like any other input: a value outside the documented range is a
400 naming the parameter. A page past the last is 404 (``NOT_FOUND``), as in DRF.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.utils.urls import replace_query_param

from loyaltysite.errors import ValidationFailed
from loyaltysite.ids import is_ascii_digits

MAX_PAGE = 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bounded_int(request, name: str, *, low: int, high: int, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not is_ascii_digits(raw) or len(raw) > 10 or not low <= int(raw) <= high:
        raise ValidationFailed(f"{name} must be a whole number from {low} to {high}.", field=name)
    return int(raw)


def _integer_parameter(name: str, description: str, low: int, high: int) -> dict[str, Any]:
    return {
        "name": name, "required": False, "in": "query", "description": description,
        "schema": {"type": "integer", "minimum": low, "maximum": high},
    }


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()

    def get_page_size(self, request) -> int:
        return _bounded_int(request, self.page_size_query_param, low=1, high=self.max_page_size,
                            default=self.page_size)

    def get_page_number(self, request, paginator) -> int:
        return _bounded_int(request, self.page_query_param, low=1, high=MAX_PAGE, default=1)

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            _integer_parameter(self.page_query_param, "Page number (from 1).", 1, MAX_PAGE),
            _integer_parameter(self.page_size_query_param,
                               f"Results per page (default {self.page_size}).", 1,
                               self.max_page_size),
        ]


class NewestFirstPagination(CursorPagination):
    """Stable under inserts: a new entry never shifts the page a client is reading."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    offset_cutoff = 1000

    def get_page_size(self, request) -> int:
        return _bounded_int(request, self.page_size_query_param, low=1, high=self.max_page_size,
                            default=self.page_size)

    # A cursor is "<position>~<offset>~<reverse>": the position is the ``created_at`` of the
    # page boundary in microseconds since 1970 (empty at the start), so every string the schema
    # allows names a real position, and a client can never send one that breaks a query.
    CURSOR = re.compile(r"([0-9]{1,17})?~([0-9]{1,3}|1000)~([01])")

    def _get_position_from_instance(self, instance, ordering) -> datetime:
        field = ordering[0].lstrip("-")
        return instance[field] if isinstance(instance, dict) else getattr(instance, field)

    def encode_cursor(self, cursor: Cursor) -> str:
        position = "" if cursor.position is None else str(
            (cursor.position - EPOCH) // timedelta(microseconds=1)
        )
        token = f"{position}~{cursor.offset}~{int(cursor.reverse)}"
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> Cursor | None:
        """The cursor a ``next``/``previous`` link carries; anything else is a 400."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        match = self.CURSOR.fullmatch(encoded)
        if match is None:
            raise ValidationFailed("cursor is not one this API gives out: follow the next or "
                                   "previous link.", field=self.cursor_query_param)
        micros, offset, reverse = match.groups()
        position = None if micros is None else EPOCH + timedelta(microseconds=int(micros))
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Opaque: the value from a `next` or `previous` link.",
             "schema": {"type": "string", "pattern": f"^{self.CURSOR.pattern}$"}},
            _integer_parameter(self.page_size_query_param,
                               f"Results per page (default {self.page_size}).", 1,
                               self.max_page_size),
        ]
