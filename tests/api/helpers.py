"""Small helpers for API contract tests."""

from __future__ import annotations

import json
from typing import Any

from ledger.models import Entry, Hold, IdempotencyKey, Lot
from members.models import Customer, Member, Program

PROBLEM = "application/problem+json"


def post(client, url: str, body: Any = None, **headers: str):
    return client.post(
        url, data=json.dumps(body if body is not None else {}), content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def patch(client, url: str, body: Any, **headers: str):
    return client.patch(
        url, data=json.dumps(body), content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def assert_problem(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert any(f == field or f.startswith(f"{field}.") for f in fields), body
    return body


def snapshot() -> tuple:
    """Everything a write could change: compared before and after a refused request."""
    return (
        list(Entry.objects.values_list("id", flat=True)),
        list(Lot.objects.values_list("id", "remaining", "pending")),
        list(Hold.objects.values_list("id", "status")),
        list(
            Member.objects.values_list(
                "id", "status", "balance", "pending_points", "reserved_points", "lifetime_points"
            )
        ),
        list(Program.objects.values_list("id", "name", "deleted_at", "currency", "earn_rate")),
        list(Customer.objects.values_list("id", "external_id", "email")),
        list(IdempotencyKey.objects.values_list("id", "status_code")),
    )
