"""The OpenAPI schema is valid and generated without warnings."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_warning_free():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=StringIO())
    assert "/api/v1/programs/{program}/members/{member}/transactions/" in out.getvalue()


RESOURCE_TAGS = {"programs", "members", "ledger", "rules", "orders", "events", "rewards",
                 "redemptions", "vouchers", "referrals", "webhooks", "tiers", "streaks"}


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "patch", "put", "delete"):
                yield path, method, operation


def test_every_operation_has_a_resource_tag_a_summary_and_a_description(openapi_schema):
    for path, method, operation in _operations(openapi_schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        assert set(operation.get("tags", [])) <= RESOURCE_TAGS, where
        assert operation["tags"], where


def test_every_operation_documents_its_errors_with_the_shared_problem(openapi_schema):
    for path, method, operation in _operations(openapi_schema):
        responses = operation["responses"]
        for status in ("400", "401", "403", "429"):
            problem = responses[status]["content"]["application/problem+json"]["schema"]
            assert problem["allOf"][0] == {"$ref": "#/components/schemas/Problem"}, path
        if "{" in path:
            assert "404" in responses, f"{method.upper()} {path}"


def test_every_write_documents_the_idempotency_key(openapi_schema):
    for path, method, operation in _operations(openapi_schema):
        if method == "get" or operation["operationId"] in {
            "orders_preview", "redemptions_validate",  # they write nothing
        }:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in names, f"{method.upper()} {path}"
        assert {"409", "422"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_lists_declare_the_paginated_envelope_they_answer(openapi_schema):
    components = openapi_schema["components"]["schemas"]
    for path, method, operation in _operations(openapi_schema):
        names = {p["name"] for p in operation.get("parameters", [])}
        if method != "get" or not names & {"page", "cursor"}:
            continue
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]
        envelope = components[body["$ref"].rsplit("/", 1)[1]]
        assert {"results", "next"} <= set(envelope["properties"]), path


def test_request_bodies_refuse_unknown_fields(openapi_schema):
    components = openapi_schema["components"]["schemas"]
    for path, method, operation in _operations(openapi_schema):
        content = operation.get("requestBody", {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref")
        if ref:
            body = components[ref.rsplit("/", 1)[1]]
            assert body.get("additionalProperties") is False, f"{method.upper()} {path}"


def test_an_order_example_is_realistic(openapi_schema):
    operation = openapi_schema["paths"]["/api/v1/programs/{program}/orders/"]["post"]
    example = next(iter(
        operation["requestBody"]["content"]["application/json"]["examples"].values()
    ))["value"]
    assert (example["amount"], example["currency"], len(example["items"])) == ("30.50", "EUR", 2)
