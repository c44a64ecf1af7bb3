"""The API's one JSON parser: every body every endpoint reads is checked here, once.

It refuses, as a 400 naming the place (or 413 for size), before any view sees the data:

* bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, from ``Content-Length`` before reading;
* JSON that is not an object at the top;
* nesting deeper than :data:`MAX_DEPTH` (a body nested a thousand levels deep would exhaust
  the parser's recursion);
* ``NaN``, ``Infinity`` and numbers too large for a float (``1e309``);
* strings (and keys) holding a NUL character or a lone surrogate: neither can be stored in
  PostgreSQL text or ``jsonb``, so they would otherwise surface as a database error.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from loyaltysite.errors import RequestTooLarge, ValidationFailed

MAX_DEPTH = 32


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def storable_text(value: str) -> bool:
    """Whether PostgreSQL can store ``value`` (no NUL, valid UTF-8: no lone surrogates)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path(parent: str, key: object) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def check_body(data: Any) -> None:
    """Walk the parsed body once (iteratively): depth, NUL characters, lone surrogates."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise ValidationFailed(
                    f"The body is nested more than {MAX_DEPTH} levels deep.", field=where or "body"
                )
            for key, item in value.items():
                place = _path(where, key)
                if not storable_text(key):
                    raise ValidationFailed("Keys must not contain NUL or invalid characters.",
                                           field=place)
                stack.append((item, place, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise ValidationFailed(
                    f"The body is nested more than {MAX_DEPTH} levels deep.", field=where or "body"
                )
            stack.extend((item, _path(where, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and not storable_text(value):
            raise ValidationFailed(
                "Text must not contain NUL characters or invalid Unicode.", field=where or "body"
            )


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if limit is not None and length > limit:
                raise RequestTooLarge(f"Request bodies are limited to {limit} bytes.")
        encoding = get_encoding(parser_context)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
        except RecursionError:
            raise ValidationFailed(
                f"The body is nested more than {MAX_DEPTH} levels deep.", field="body"
            ) from None
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {error}") from None
        if not isinstance(data, dict):
            raise ParseError("The request body must be a JSON object.")
        check_body(data)
        return data
