"""API plumbing every app's views share: the merchant scope, validation, idempotent writes."""

from __future__ import annotations

import re
from contextlib import ExitStack
from typing import Any

from django_scopes import scope
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.idempotency import MAX_KEY_LENGTH, fingerprint, run_idempotent
from loyaltysite.errors import NotFound, ValidationFailed
from loyaltysite.ids import parse_id
from members.models import Member, Program
from members.selectors import member_get, program_get

from .cache import HotCache
from .exceptions import PROBLEM_CONTENT_TYPE
from .negotiation import JsonOnly
from .parsers import storable_text
from .prototypes import render_many
from .schema import IDEMPOTENCY_HEADER

__all__ = ["IDEMPOTENCY_HEADER", "EmptyIn", "MerchantApi", "ProgramApi", "validated"]
from .prototypes import prototype

_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")

def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    """Validate ``data`` against an input serializer; unknown fields are refused.

    Valid input goes through the class's prototype (fields built once, see ``prototypes``);
    invalid input through a fresh serializer, so errors read exactly as DRF words them.
    """
    if kwargs or not isinstance(data, dict):
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        _refuse_unknown(data, serializer.fields)
        return serializer.validated_data
    proto = prototype(serializer_class)
    try:
        value = proto.run_validation(data)
    except serializers.ValidationError:
        serializer_class(data=data).is_valid(raise_exception=True)
        raise
    _refuse_unknown(data, proto.fields)
    return value


def _refuse_unknown(data: Any, known: Any) -> None:
    unknown = sorted(set(data) - set(known)) if isinstance(data, dict) else []
    if unknown:
        raise ValidationFailed(f"Unknown field '{unknown[0]}'.", field=unknown[0])


class EmptyIn(serializers.Serializer):
    """No body: an empty JSON object at most (status changes, releases)."""


def _check_request_text(request: Request, path_values: dict[str, Any]) -> None:
    """No path segment or query value with a NUL or invalid Unicode reaches a query.

    A path value that cannot be stored cannot name anything that exists: 404, as for any id
    that does not exist. A query value: 400 naming the parameter.
    """
    for value in path_values.values():
        if isinstance(value, str) and not storable_text(value):
            raise NotFound()
    for name, values in request.query_params.lists():
        if not storable_text(name) or not all(storable_text(v) for v in values):
            raise ValidationFailed("Query values must not contain NUL or invalid characters.",
                                   field=name if storable_text(name) else "query")


class MerchantApi(APIView):
    """Authenticated by a merchant's API key; everything runs in that merchant's scope.

    A list view sets ``pagination_class`` (and ``filterset_class``) and answers with
    :meth:`paginate`; the schema documents the envelope and the filters from the same two.
    """

    pagination_class: type | None = None
    filterset_class: type | None = None
    content_negotiation_class = JsonOnly

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._scope_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._scope_stack.enter_context(scope(merchant=self.merchant_id))
        _check_request_text(request, kwargs)

    def paginate(self, queryset: Any, out: Any) -> Response:
        """One page of ``queryset`` (filtered by ``filterset_class``), rendered with ``out``:
        an output serializer class, or a function of the page's rows."""
        if self.filterset_class is not None:
            filterset = self.filterset_class(self.request.query_params, queryset=queryset)
            if not filterset.is_valid():
                raise ValidationError(filterset.errors)
            queryset = filterset.qs
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        rows = render_many(out, page) if isinstance(out, type) else out(page)
        return paginator.get_paginated_response(rows)

    @property
    def merchant_id(self) -> int:
        return self.request.user.merchant_id

    @property
    def actor(self) -> str:
        return self.request.user.actor

    def idempotent(
        self, run, *, program: Program | None = None, key: str | None = None
    ) -> Response:
        """Run a write under the request's ``Idempotency-Key`` and its natural ``key``.

        Both apply when both are given (an order id and the client's key): the same key with
        the same request replays the first outcome, with another request it is
        ``IDEMPOTENCY_CONFLICT``. ``run`` returns ``(status, body)``.
        """
        keys = [k for k in (self.idempotency_key(), key) if k]
        if not keys:
            status, body = run()
            return self._respond(status, body)
        outcome = run_idempotent(
            merchant_id=self.merchant_id,
            program_id=program.pk if program else None,
            keys=keys,
            request_fingerprint=fingerprint(
                self.request.method, self.request.path, self.request.data
            ),
            run=run,
        )
        response = self._respond(outcome.status, outcome.body)
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` header, checked: 1-200 printable ASCII characters."""
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not 0 < len(key) <= MAX_KEY_LENGTH or not _KEY.fullmatch(key):
            raise ValidationFailed(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
                field="Idempotency-Key",
            )
        return key

    @staticmethod
    def _respond(status: int, body: Any) -> Response:
        if status >= 400:
            return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
        return Response(body, status=status)


_programs = HotCache()


def _program_or_none(merchant_id: int, program_id: int) -> Program | None:
    try:
        return program_get(merchant=merchant_id, program_id=program_id)
    except NotFound:
        return None


class ProgramApi(MerchantApi):
    """A view under ``/programs/{program}/``: another merchant's program answers 404.

    The program comes from the process's cache (``cache``) unless ``cache_program`` is off
    (a view that saves the program itself reads it fresh).
    """

    cache_program = True

    def program(self) -> Program:
        if not hasattr(self, "_program"):
            if not self.cache_program:
                self._program = program_get(
                    merchant=self.merchant_id, program_id=self.kwargs["program"]
                )
                return self._program
            merchant_id, pk = self.merchant_id, parse_id(self.kwargs["program"])
            found = None if pk is None else _programs.get(
                (merchant_id, pk), lambda: _program_or_none(merchant_id, pk)
            )
            if found is None:
                raise NotFound("Program not found.", field="program")
            self._program = found
        return self._program

    def member(self) -> Member:
        program = self.program()
        member = member_get(program=program, ident=self.kwargs["member"])
        member.program = program  # the program is read already: not once more for the member
        return member
