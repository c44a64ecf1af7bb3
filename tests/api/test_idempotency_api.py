"""The Idempotency-Key header on writes (SPEC 5)."""

from __future__ import annotations

import pytest

from ledger.models import Entry

from .helpers import assert_problem, post

pytestmark = pytest.mark.django_db


def _earn_url(member) -> str:
    return f"/api/v1/programs/{member.program_id}/members/{member.pk}/earn/"


def test_same_key_same_request_replays_the_first_answer(api, member):
    body = {"points": 25, "reason": "Review"}

    first = post(api, _earn_url(member), body, **{"Idempotency-Key": "k-1"})
    second = post(api, _earn_url(member), body, **{"Idempotency-Key": "k-1"})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Entry.objects.filter(member=member).count() == 1


def test_same_key_different_request_is_idempotency_conflict(api, member):
    post(api, _earn_url(member), {"points": 25, "reason": "Review"}, **{"Idempotency-Key": "k"})

    response = post(
        api, _earn_url(member), {"points": 26, "reason": "Review"}, **{"Idempotency-Key": "k"}
    )

    assert_problem(response, 422, "IDEMPOTENCY_CONFLICT")
    assert Entry.objects.filter(member=member).count() == 1


def test_a_business_rejection_is_the_keys_first_outcome(api, member, clock):
    url = f"/api/v1/programs/{member.program_id}/members/{member.pk}/adjust/"
    body = {"points": -10, "reason": "Fix"}
    first = post(api, url, body, **{"Idempotency-Key": "adj"})
    post(api, _earn_url(member), {"points": 50, "reason": "Top up"})

    replay = post(api, url, body, **{"Idempotency-Key": "adj"})

    assert_problem(first, 422, "INSUFFICIENT_POINTS")
    assert replay.status_code == 422
    assert replay.json() == first.json()
    assert Entry.objects.filter(member=member, kind="adjust").count() == 0


def test_a_malformed_request_records_nothing_under_its_key(api, member):
    bad = post(api, _earn_url(member), {"points": "many"}, **{"Idempotency-Key": "k2"})
    good = post(api, _earn_url(member), {"points": 3, "reason": "ok"}, **{"Idempotency-Key": "k2"})

    assert_problem(bad, 400, "VALIDATION_ERROR", "points")
    assert good.status_code == 201


def test_keys_are_scoped_per_program(api, member, merchant):
    from ..factories import MemberFactory, ProgramFactory

    elsewhere = MemberFactory(program=ProgramFactory(merchant=merchant))
    body = {"points": 5, "reason": "x"}

    a = post(api, _earn_url(member), body, **{"Idempotency-Key": "shared"})
    b = post(api, _earn_url(elsewhere), body, **{"Idempotency-Key": "shared"})

    assert a.status_code == b.status_code == 201
    assert a.json()["entry"]["id"] != b.json()["entry"]["id"]


def test_an_overlong_key_is_refused(api, member):
    response = post(api, _earn_url(member), {"points": 1, "reason": "x"},
                    **{"Idempotency-Key": "k" * 300})
    assert_problem(response, 400, "VALIDATION_ERROR", "Idempotency-Key")
