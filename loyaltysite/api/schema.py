"""The OpenAPI schema describes every answer the API gives, errors included.

``ContractAutoSchema`` (the project's drf-spectacular ``AutoSchema``) adds to each operation
the problem documents it can answer, each status with the codes it can carry, all pointing at
one shared ``Problem`` component (RFC 9457: ``type``, ``title``, ``status``, ``detail``, plus
``code`` and ``errors[]``). Where they come from:

* every operation: 400 ``VALIDATION_ERROR`` (any query or body can be malformed), 401
  ``AUTHENTICATION_FAILED``, 403 ``PERMISSION_DENIED`` (a read-only key, a role), 429
  ``RATE_LIMITED`` (with ``Retry-After``);
* a path parameter: 404 with the code of what it names (:data:`NOT_FOUND_CODES`); a
  paginated list: 404 ``NOT_FOUND`` for a page past the last;
* a write with a body: 413 ``REQUEST_TOO_LARGE`` and 415 ``UNSUPPORTED_MEDIA_TYPE``; an
  idempotent write: 409 ``IDEMPOTENCY_IN_PROGRESS`` and 422 ``IDEMPOTENCY_CONFLICT``;
* the domain errors a view method declares with :func:`raises`.

Input serializers carry their own constraints into the schema: ``additionalProperties: false``
(every input refuses unknown keys), the strict fields' patterns (``loyaltysite.api.fields``)
and ``openapi_constraints`` (``oneOf``/``not`` clauses such as "exactly one of member,
external_id, card_id"). ``tests/api/test_schema.py`` fails when an operation lacks a tag, a
summary, a description or its error responses.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from loyaltysite.errors import LoyaltyError
from loyaltysite.ids import MAX_ID

from . import fields
from .filters import filter_parameters

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type={"type": "string", "minLength": 1, "maxLength": 200,
          "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the write safe to retry: the same key with the same request replays the first "
        "answer (with `Idempotent-Replayed: true`); with a different request it is "
        "`IDEMPOTENCY_CONFLICT` (422). 1 to 200 printable ASCII characters, e.g. a UUID. "
        "Kept at least 24 hours (48 by default)."
    ),
)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# What a path parameter names, and the code its 404 carries.
NOT_FOUND_CODES: dict[str, str] = {
    "program": "NOT_FOUND",
    "member": "MEMBER_NOT_FOUND",
    "rule": "RULE_NOT_FOUND",
    "tier": "TIER_NOT_FOUND",
    "reward": "REWARD_NOT_FOUND",
    "order_id": "ORDER_NOT_FOUND",
    "redemption": "REDEMPTION_NOT_FOUND",
    "code": "VOUCHER_NOT_FOUND",
    "referral": "REFERRAL_NOT_FOUND",
    "webhook": "WEBHOOK_NOT_FOUND",
    "delivery": "DELIVERY_NOT_FOUND",
    "event": "EVENT_NOT_FOUND",
}

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# How each path parameter is documented (the URL patterns take any string; what does not
# name an existing row answers 404).
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "program": (ID, "The program's id."),
    "member": ({"type": "string", "minLength": 1, "maxLength": 40},
               "The member's id, or their card id (with or without dashes, any case)."),
    "rule": (ID, "The earning rule's id."),
    "tier": (ID, "The tier's id."),
    "reward": (ID, "The reward's id."),
    "redemption": (ID, "The redemption's id."),
    "order_id": ({"type": "string", "minLength": 1, "maxLength": 128}, "Your order id."),
    "code": ({"type": "string", "minLength": 1, "maxLength": 40},
             "The voucher code, with or without dashes, any case."),
    "referral": (ID, "The referral's id."),
    "webhook": (ID, "The webhook endpoint's id."),
    "delivery": (ID, "The delivery's id."),
    "event": ({"type": "string", "minLength": 1, "maxLength": 40},
              "The event's id (`evt_...`)."),
}

STATUS_TITLES = {
    400: "The request does not match the schema (a value, a parameter or the body).",
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The key may not do this (a read-only key on a write).",
    404: "What the path names does not exist, or belongs to another merchant.",
    409: "A conflict with the current state.",
    410: "Gone: the thing has expired.",
    413: "The body is larger than 1 MiB.",
    415: "The body is not application/json.",
    422: "Well-formed, but a rule of the operation refuses it.",
    429: "Too many requests for this key; retry after Retry-After seconds.",
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


def document(
    operation_id: str,
    *,
    tag: str,
    summary: str,
    description: str,
    responses: Any,
    request: Any = None,
    errors: tuple[type[LoyaltyError], ...] = (),
    examples: list[OpenApiExample] | None = None,
    parameters: list[OpenApiParameter] | None = None,
):
    """Everything an operation's schema needs, in one decorator: its resource ``tag``, a
    ``summary`` and ``description``, request and responses, the domain ``errors`` it can
    answer (see :func:`raises`), realistic ``examples``. Writes get the ``Idempotency-Key``
    header and their error responses from ``ContractAutoSchema``."""

    def decorate(function):
        schema = extend_schema(
            tags=[tag], summary=summary, description=description, request=request,
            responses=responses, examples=examples or None, parameters=parameters or None,
            operation_id=operation_id,
        )
        return schema(raises(*errors)(function))

    return decorate


def register_not_found(parameter: str, code: str) -> None:
    """A path parameter of another app and the code of its 404 (call from ``ready()``)."""
    NOT_FOUND_CODES.setdefault(parameter, code)


class ProblemFieldError(serializers.Serializer):
    field = serializers.CharField(help_text="The field, parameter or header at fault "
                                  "(`items[1].price`, `page_size`, `Idempotency-Key`).")
    code = serializers.CharField()
    detail = serializers.CharField()


class Problem(serializers.Serializer):
    """An RFC 9457 problem document with the stable ``code`` clients branch on."""

    type = serializers.CharField(help_text="A URI reference naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable: branch on this.")
    errors = ProblemFieldError(many=True, required=False,
                               help_text="For bad input: each field at fault.")


class ContractAutoSchema(AutoSchema):
    def _view_method(self):
        return getattr(self.view, self.method.lower(), None)

    def _path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    def problem_codes(self) -> dict[int, list[str]]:
        codes: dict[int, list[str]] = defaultdict(list)

        def add(status: int, code: str) -> None:
            if code not in codes[status]:
                codes[status].append(code)

        add(400, "VALIDATION_ERROR")
        add(401, "AUTHENTICATION_FAILED")
        add(403, "PERMISSION_DENIED")
        for parameter in self._path_parameters():
            add(404, NOT_FOUND_CODES.get(parameter, "NOT_FOUND"))
        if self.method == "GET" and getattr(self.view, "pagination_class", None):
            add(404, "NOT_FOUND")
        if self.method in ("POST", "PUT", "PATCH"):
            add(413, "REQUEST_TOO_LARGE")
            add(415, "UNSUPPORTED_MEDIA_TYPE")
        if self.method != "GET" and getattr(self.view, "idempotent_writes", True):
            add(409, "IDEMPOTENCY_IN_PROGRESS")
            add(422, "IDEMPOTENCY_CONFLICT")
        for error in getattr(self._view_method(), "_raises", ()):
            add(error.status, error.code)
        add(429, "RATE_LIMITED")
        return dict(sorted(codes.items()))

    def _problem_ref(self) -> dict[str, str]:
        component = ResolvedComponent(
            name="Problem", type=ResolvedComponent.SCHEMA, object=Problem,
            schema=self._map_serializer(Problem(), "response"),
        )
        self.registry.register_on_missing(component)
        return component.ref

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method != "GET" and getattr(self.view, "idempotent_writes", True):
            parameters.append(IDEMPOTENCY_HEADER)
        return parameters

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        filterset = getattr(self.view, "filterset_class", None)
        if self.method != "GET" or filterset is None:
            return []
        return filter_parameters(filterset)

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            documented = PATH_PARAMETERS.get(parameter["name"])
            if documented:
                parameter["schema"], parameter["description"] = documented
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        problem = self._problem_ref()
        for status, codes in self.problem_codes().items():
            listed = ", ".join(f"`{code}`" for code in codes)
            response: dict[str, Any] = {
                "description": f"{STATUS_TITLES.get(status, 'Error.')} Codes: {listed}.",
                "content": {PROBLEM_CONTENT_TYPE: {"schema": {"allOf": [problem, {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "enum": [status]},
                        "code": {"type": "string", "enum": codes},
                    },
                }]}}},
            }
            if status == 429:
                response["headers"] = {"Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before the next request.",
                }}
            responses.setdefault(str(status), response)
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema and isinstance(field, serializers.ListSerializer | serializers.ListField):
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        serializer = force_instance(serializer)
        # A body the server needs is required even when no single field is: a change must
        # change something, and "exactly one of" asks for one.
        if isinstance(serializer, serializers.Serializer) and (
            self.method == "PATCH" or getattr(serializer, "openapi_constraints", None)
        ):
            required = True
        return schema, required

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, serializers.Serializer):
            schema["additionalProperties"] = False
            if serializer.partial:
                schema["minProperties"] = 1  # a change with nothing to change is refused
            else:
                schema.update(getattr(serializer, "openapi_constraints", {}))
        return schema


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


class DecimalStringExtension(OpenApiSerializerFieldExtension):
    target_class = "loyaltysite.api.fields.DecimalString"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema: dict[str, Any] = {"type": "string", "format": "decimal"}
        if direction == "request":
            schema["pattern"] = field.pattern
        return schema


class TextExtension(OpenApiSerializerFieldExtension):
    target_class = "loyaltysite.api.fields.Text"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and not self.target.allow_blank:
            schema["pattern"] = fields.NOT_BLANK
            if schema.get("minLength") == 1:
                del schema["minLength"]
        return schema


class PatternExtension(OpenApiSerializerFieldExtension):
    target_class = "loyaltysite.api.fields.Pattern"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema.pop("format", None)
        if direction == "request":
            pattern = self.target.pattern
            schema["pattern"] = f"^$|{pattern}" if self.target.allow_blank else pattern
        return schema


class MoneyOutExtension(OpenApiSerializerFieldExtension):
    target_class = "loyaltysite.api.fields.MoneyOut"

    def map_serializer_field(self, auto_schema, direction):
        schema = {"type": "string", "format": "decimal", "readOnly": True,
                  "description": "Money in the currency's minor units.", "example": "30.50"}
        if self.target.allow_null:
            schema["nullable"] = True
        return schema
