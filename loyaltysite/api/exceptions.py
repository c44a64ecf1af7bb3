"""One exception handler: every error leaves the API as an RFC 9457 problem document."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyaltysite.errors import LoyaltyError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of ``{field, code, detail}``."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list's errors by index (DRF >= 3.15): items[1].price
                out += _flatten(value, f"{prefix}[{key}]")
                continue
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
    elif isinstance(detail, list):
        if all(isinstance(item, drf.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append({
                    "field": prefix or "body",
                    "code": getattr(item, "code", "invalid"),
                    "detail": str(item),
                })
        else:
            for index, item in enumerate(detail):
                out += _flatten(item, f"{prefix}[{index}]")
    else:
        out.append({
            "field": prefix or "body", "code": getattr(detail, "code", "invalid"),
            "detail": str(detail),
        })
    return out


def problem_response(body: dict[str, Any], status: int, headers: dict | None = None) -> Response:
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    set_rollback()
    if isinstance(exc, LoyaltyError):
        return problem_response(exc.as_problem(), exc.status)
    if isinstance(exc, Http404):
        return problem_response(
            {"type": "/problems/not-found", "title": "Not found.", "status": 404,
             "detail": "Not found.", "code": "NOT_FOUND"}, 404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            {"type": "/problems/request-too-large", "title": "Request body too large.",
             "status": 413, "detail": "Request body too large.", "code": "REQUEST_TOO_LARGE"},
            413)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        exc = drf.ValidationError(errors)
    if isinstance(exc, drf.APIException):
        code, title = {
            drf.ValidationError: ("VALIDATION_ERROR", "Invalid request."),
            drf.ParseError: ("VALIDATION_ERROR", "Malformed request body."),
            drf.UnsupportedMediaType: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type."),
            drf.AuthenticationFailed: ("AUTHENTICATION_FAILED", "Authentication failed."),
            drf.NotAuthenticated: ("AUTHENTICATION_FAILED", "Authentication required."),
            drf.PermissionDenied: ("PERMISSION_DENIED", "Permission denied."),
            drf.NotFound: ("NOT_FOUND", "Not found."),
            drf.MethodNotAllowed: ("METHOD_NOT_ALLOWED", "Method not allowed."),
            drf.NotAcceptable: ("NOT_ACCEPTABLE", "Not acceptable."),
            drf.Throttled: ("RATE_LIMITED", "Too many requests."),
        }.get(type(exc), ("ERROR", "Request failed."))
        body: dict[str, Any] = {
            "type": f"/problems/{code.lower().replace('_', '-')}",
            "title": title,
            "status": exc.status_code,
            "code": code,
        }
        if isinstance(exc, drf.ValidationError):
            errors = _flatten(exc.detail)
            body["errors"] = errors
            body["detail"] = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
        elif isinstance(exc, drf.ParseError):
            body["detail"] = str(exc.detail)
            body["errors"] = [{"field": "body", "code": "parse_error", "detail": str(exc.detail)}]
        else:
            body["detail"] = str(exc.detail)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        status = exc.status_code
        if status == 403 and code == "AUTHENTICATION_FAILED":
            status = body["status"] = 401
        return problem_response(body, status, headers or None)
    logger.exception("Unhandled API error", exc_info=exc)
    return problem_response(
        {"type": "/problems/internal-error", "title": "Internal error.", "status": 500,
         "detail": "Something went wrong on our side; nothing was written.",
         "code": "INTERNAL_ERROR"}, 500)
