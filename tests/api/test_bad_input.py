"""Bad input on every write endpoint: a 4xx problem document naming the field, nothing written."""

from __future__ import annotations

import pytest

from ledger import services as ledger
from members.models import Member

from .helpers import assert_problem, patch, post, snapshot

pytestmark = pytest.mark.django_db

BIG = 2**31


@pytest.fixture
def funded(member, clock):
    ledger.points_credit(member=member, points=100, actor="test")
    return member


def _url(member, action: str) -> str:
    return f"/api/v1/programs/{member.program_id}/members/{member.pk}/{action}/"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": "ten", "reason": "x"}, "points"),
        ({"points": 1.5, "reason": "x"}, "points"),
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": -5, "reason": "x"}, "points"),
        ({"points": BIG, "reason": "x"}, "points"),
        ({"points": 10**30, "reason": "x"}, "points"),
        ({"points": None, "reason": "x"}, "points"),
        ({"points": [1], "reason": "x"}, "points"),
        ({"reason": "x"}, "points"),
        ({"points": 5}, "reason"),
        ({"points": 5, "reason": ""}, "reason"),
        ({"points": 5, "reason": "x" * 300}, "reason"),
        ({"points": 5, "reason": "x", "bonus": 1}, "bonus"),
    ],
)
def test_earn_rejects_bad_input(api, funded, body, field):
    before = snapshot()
    assert_problem(post(api, _url(funded, "earn"), body), 400, "VALIDATION_ERROR", field)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": "-5", "reason": ""}, "reason"),
        ({"points": -BIG, "reason": "x"}, "points"),
        ({"points": BIG, "reason": "x"}, "points"),
        ({"points": True, "reason": "x"}, "points"),
        ({"reason": "x"}, "points"),
        ({"points": 3}, "reason"),
    ],
)
def test_adjust_rejects_bad_input(api, funded, body, field):
    before = snapshot()
    assert_problem(post(api, _url(funded, "adjust"), body), 400, "VALIDATION_ERROR", field)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "external_id"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 200}, "external_id"),
        ({"external_id": "a", "email": "not-an-email"}, "email"),
        ({"external_id": "a", "birthday": "31/12/1990"}, "birthday"),
        ({"external_id": 12}, "external_id"),  # the schema says string: a number is refused
        ({"external_id": "   "}, "external_id"),
    ],
)
def test_enrol_rejects_bad_input(api, program, body, field):
    before = snapshot()
    response = post(api, f"/api/v1/programs/{program.pk}/members/", body)
    assert_problem(response, 400, "VALIDATION_ERROR", field)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EUR"}, "name"),
        ({"name": "P"}, "currency"),
        ({"name": "P", "currency": "EURO"}, "currency"),
        ({"name": "P", "currency": "XYZ"}, "currency"),
        ({"name": "P", "currency": "EUR", "earn_rate": "-1"}, "earn_rate"),
        ({"name": "P", "currency": "EUR", "earn_rate": "abc"}, "earn_rate"),
        ({"name": "P", "currency": "EUR", "max_redeem_percent": 101}, "max_redeem_percent"),
        ({"name": "P", "currency": "EUR", "pending_days": -1}, "pending_days"),
        ({"name": "P", "currency": "EUR", "expiry_policy": "sometimes"}, "expiry_policy"),
        ({"name": "P", "currency": "EUR", "reservation_ttl_minutes": 0},
         "reservation_ttl_minutes"),
        ({"name": "P", "currency": "EUR", "owner": 1}, "owner"),
        ({"name": "   ", "currency": "EUR"}, "name"),
    ],
)
def test_program_create_rejects_bad_input(api, body, field):
    before = snapshot()
    assert_problem(post(api, "/api/v1/programs/", body), 400, "VALIDATION_ERROR", field)
    assert snapshot() == before


def test_program_patch_rejects_bad_input(api, program):
    before = snapshot()
    assert_problem(
        patch(api, f"/api/v1/programs/{program.pk}/", {"currency": "??"}), 400,
        "VALIDATION_ERROR", "currency",
    )
    assert_problem(patch(api, f"/api/v1/programs/{program.pk}/", {}), 400, "VALIDATION_ERROR")
    assert snapshot() == before


@pytest.mark.parametrize("action", ["earn", "adjust", "suspend"])
def test_unknown_member_is_member_not_found(api, program, action):
    before = snapshot()
    response = post(
        api, f"/api/v1/programs/{program.pk}/members/424242/{action}/",
        {"points": 5, "reason": "x"},
    )
    assert_problem(response, 404, "MEMBER_NOT_FOUND", "member")
    assert snapshot() == before


@pytest.mark.parametrize("program_id", ["999999", "abc", "-1"])
def test_unknown_program_is_not_found(api, program_id):
    assert_problem(api.get(f"/api/v1/programs/{program_id}/"), 404, "NOT_FOUND")


@pytest.mark.parametrize("status", [Member.Status.SUSPENDED, Member.Status.INACTIVE])
@pytest.mark.parametrize("action", ["earn", "adjust"])
def test_inactive_member_is_member_inactive(api, funded, status, action):
    Member.objects.filter(pk=funded.pk).update(status=status)
    before = snapshot()
    response = post(api, _url(funded, action), {"points": 5, "reason": "x"})
    assert_problem(response, 422, "MEMBER_INACTIVE", "member")
    assert snapshot() == before


@pytest.mark.parametrize(
    "raw", [b"{bad json", b"", b"[1, 2]", b"\"just a string\"", b"{\"points\": 5,}", b"\xff\xfe"]
)
def test_malformed_json_is_a_validation_error(api, funded, raw):
    before = snapshot()
    response = api.post(_url(funded, "earn"), data=raw, content_type="application/json")
    assert_problem(response, 400, "VALIDATION_ERROR")
    assert snapshot() == before


def test_wrong_content_type_is_refused(api, funded):
    response = api.post(_url(funded, "earn"), data="points=5", content_type="text/plain")
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_10_mb_body_is_refused_before_parsing(api, funded):
    before = snapshot()
    body = b'{"points": 5, "reason": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = api.post(_url(funded, "earn"), data=body, content_type="application/json")
    assert_problem(response, 413, "REQUEST_TOO_LARGE")
    assert snapshot() == before
