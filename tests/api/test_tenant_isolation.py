"""Another merchant's key gets 404 on every endpoint, exactly as for ids that do not exist,
and changes nothing."""

from __future__ import annotations

import json

import pytest

from ledger import services as ledger

from .helpers import assert_problem, snapshot

pytestmark = pytest.mark.django_db

# (method, path under the program, body)
ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"name": "Hijacked"}),
    ("delete", "", None),
    ("get", "members/", None),
    ("post", "members/", {"external_id": "intruder"}),
    ("get", "members/{member}/", None),
    ("post", "members/{member}/earn/", {"points": 10, "reason": "x"}),
    ("post", "members/{member}/adjust/", {"points": -10, "reason": "x"}),
    ("post", "members/{member}/suspend/", {}),
    ("post", "members/{member}/reactivate/", {}),
    ("post", "members/{member}/deactivate/", {}),
    ("get", "members/{member}/transactions/", None),
]


def _call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_merchants_program_answers_404_and_changes_nothing(
    other_api, member, method, path, body, clock
):
    ledger.points_credit(member=member, points=50, actor="test")
    url = f"/api/v1/programs/{member.program_id}/" + path.format(member=member.pk)
    before = snapshot()

    response = _call(other_api, method, url, body)

    assert_problem(response, 404, "NOT_FOUND")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), [e for e in ENDPOINTS if "{member}" in e[1]])
def test_another_merchants_member_under_my_program_answers_404(
    api, program, other_member, method, path, body, clock
):
    ledger.points_credit(member=other_member, points=50, actor="test")
    url = f"/api/v1/programs/{program.pk}/" + path.format(member=other_member.pk)
    before = snapshot()

    response = _call(api, method, url, body)

    assert_problem(response, 404, "MEMBER_NOT_FOUND")
    assert snapshot() == before


def test_other_merchants_card_id_answers_404(api, program, other_member):
    url = f"/api/v1/programs/{program.pk}/members/{other_member.card_id}/"
    assert_problem(api.get(url), 404, "MEMBER_NOT_FOUND")


def test_lists_never_show_another_merchants_rows(api, member, other_member):
    programs = api.get("/api/v1/programs/").json()["results"]
    members = api.get(f"/api/v1/programs/{member.program_id}/members/").json()["results"]

    assert [p["id"] for p in programs] == [member.program_id]
    assert [m["id"] for m in members] == [member.pk]


def test_a_member_of_another_program_of_the_same_merchant_is_not_found(api, member, merchant):
    from ..factories import ProgramFactory

    second = ProgramFactory(merchant=merchant)
    url = f"/api/v1/programs/{second.pk}/members/{member.pk}/"
    assert_problem(api.get(url), 404, "MEMBER_NOT_FOUND")
