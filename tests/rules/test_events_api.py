"""POST /events/ over HTTP."""

from __future__ import annotations

import pytest

from rules.models import Event

from .conftest import fresh
from .factories import assert_problem, post

pytestmark = pytest.mark.django_db


def url(program) -> str:
    return f"/api/v1/programs/{program.pk}/events/"


def test_an_event_fires_every_matching_rule(api, program, member, make_rule):
    make_rule("event", {"event_type": "review", "points": 10}, name="review")
    make_rule("event", {"event_type": "review", "points": 40,
                        "conditions": {"metadata.photos": {"gte": 1}}}, name="with photos")

    response = post(api, url(program), {"type": "review", "member": str(member.pk),
                                        "event_id": "rv-1", "outcome": "published",
                                        "metadata": {"photos": 2}})

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["points"] == 50
    assert [a["name"] for a in data["awards"]] == ["review", "with photos"]
    assert data["member"]["balance"] == fresh(member).balance == 50


def test_an_event_is_idempotent_per_event_id(api, program, member, make_rule):
    make_rule("event", {"event_type": "check-in", "points": 3})
    payload = {"type": "check-in", "member": str(member.pk), "event_id": "ci-1"}

    first, again = post(api, url(program), payload), post(api, url(program), payload)
    changed = post(api, url(program), {**payload, "outcome": "late"})

    assert again.json() == first.json()
    assert_problem(changed, 422, "IDEMPOTENCY_CONFLICT")
    assert fresh(member).balance == 3
    assert Event.objects.count() == 1


def test_an_event_matching_no_rule_is_recorded_with_nothing_awarded(api, program, member):
    response = post(api, url(program), {"type": "vote", "external_id":
                                        member.customer.external_id})

    assert response.status_code == 201
    assert response.json()["points"] == 0
    assert Event.objects.get().points_earned == 0


def test_a_failure_while_awarding_is_answered_as_nothing_awarded_not_a_500(
    api, program, member, make_rule, monkeypatch, caplog
):
    make_rule("event", {"event_type": "review", "points": 10})
    import rules.services.common as common

    def broken(**kwargs):
        raise RuntimeError("ledger on fire")

    monkeypatch.setattr(common, "points_credit", broken)

    response = post(api, url(program), {"type": "review", "member": str(member.pk),
                                        "event_id": "x"})

    assert response.status_code == 201, response.content
    assert response.json()["points"] == 0
    assert response.json()["failed"] is True
    assert fresh(member).balance == 0
    assert Event.objects.get().failed
    assert "ledger on fire" in caplog.text


def test_an_event_auto_enrols_an_unknown_customer(api, program, make_rule):
    make_rule("welcome", {"points": 100})
    make_rule("event", {"event_type": "signup", "points": 20})

    data = post(api, url(program), {"type": "signup", "external_id": "new-9"}).json()

    assert data["enrolled"] is True
    assert data["member"]["balance"] == 120


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"member": "1"}, "type"),
        ({"type": "has space", "member": "1"}, "type"),
        ({"type": "x" * 65, "member": "1"}, "type"),
        ({"type": "review"}, "external_id"),
        ({"type": "review", "member": "1", "metadata": "text"}, "metadata"),
        ({"type": "review", "member": "1", "metadata": {"blob": "x" * 20000}}, "metadata"),
        ({"type": "review", "member": "1", "occurred_at": "soon"}, "occurred_at"),
        ({"type": "review", "member": "1", "colour": "red"}, "colour"),
        ({"type": "review", "member": "1", "event_id": "e" * 129}, "event_id"),
    ],
)
def test_bad_events_are_refused_and_write_nothing(api, program, member, snapshot, payload, field):
    before = snapshot()

    response = post(api, url(program), payload)

    assert_problem(response, 400, "VALIDATION_ERROR", field=field)
    assert snapshot() == before


def test_events_for_another_merchant_answer_404(api, other_api, program, member, other_member,
                                                other_program):
    assert_problem(post(other_api, url(program), {"type": "x", "member": str(member.pk)}), 404,
                   "NOT_FOUND")
    assert_problem(post(api, url(program), {"type": "x", "member": str(other_member.pk)}), 404,
                   "MEMBER_NOT_FOUND")
    assert_problem(post(api, url(program), {"type": "x", "card_id": other_member.card_id}), 404,
                   "MEMBER_NOT_FOUND")
