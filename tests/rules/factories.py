"""Factories and helpers of the earning tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import factory

from rules.models import EarningRule
from tests.factories import FIXED_NOW

PROBLEM = "application/problem+json"


class RuleFactory(factory.django.DjangoModelFactory):
    """A rule written directly (tests of the services go through ``rule_create``)."""

    class Meta:
        model = EarningRule

    program = None
    merchant = factory.SelfAttribute("program.merchant")
    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = EarningRule.Kind.ORDER
    config = factory.LazyFunction(lambda: {"multiplier": "2"})
    created_at = FIXED_NOW
    updated_at = FIXED_NOW


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def post(client, url: str, body: Any = None, **headers: str):
    return client.post(
        url, data=json.dumps(body if body is not None else {}), content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def patch(client, url: str, body: Any):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def assert_problem(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert any(f == field or f.startswith((f"{field}.", f"{field}["))
                   for f in fields), body
    return body
