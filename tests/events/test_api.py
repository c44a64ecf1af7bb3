"""The webhooks and events API: CRUD, test, rotation, the delivery log, the event log, and
another merchant's ids answering exactly like missing ones."""

from __future__ import annotations

import pytest

from events import services
from events.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from ledger import services as ledger
from tests.api.helpers import assert_problem, patch, post

from .conftest import run_due

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"


@pytest.fixture
def endpoint(merchant, public_dns, clock):
    return services.endpoint_create(merchant=merchant, url="https://crm.example.com/hooks",
                                    description="CRM", event_types=["points.*"])


@pytest.fixture
def foreign(other_merchant, public_dns, clock):
    return services.endpoint_create(merchant=other_merchant, url="https://rival.example.com/")


def test_create_answers_the_endpoint_with_its_secret_once(api, public_dns, clock):
    response = post(api, URL, {"url": "https://crm.example.com/hooks", "description": "CRM",
                               "event_types": ["member.enrolled", "points.*"]})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["member.enrolled", "points.*"]
    assert (body["is_active"], body["failing_since"], body["disabled_at"]) == (True, None, None)
    shown = api.get(f"{URL}{body['id']}/").json()
    assert "secret" not in shown
    assert shown["url"] == "https://crm.example.com/hooks"


def test_list_get_patch_and_delete(api, endpoint):
    assert [w["id"] for w in api.get(URL).json()["results"]] == [endpoint.pk]

    changed = patch(api, f"{URL}{endpoint.pk}/", {"description": "CRM v2",
                                                   "event_types": []})
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "CRM v2"
    assert changed.json()["event_types"] == []
    assert changed.json()["url"] == "https://crm.example.com/hooks"

    assert api.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert_problem(api.get(f"{URL}{endpoint.pk}/"), 404, "WEBHOOK_NOT_FOUND")


def test_the_list_filters_on_active(api, endpoint):
    services.endpoint_update(endpoint=endpoint, is_active=False)
    assert api.get(f"{URL}?is_active=true").json()["results"] == []
    assert len(api.get(f"{URL}?is_active=false").json()["results"]) == 1


def test_a_test_event_is_queued_for_the_endpoint(api, endpoint):
    response = post(api, f"{URL}{endpoint.pk}/test/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["event"]["type"] == "webhook.test"
    assert body["delivery"]["status"] == "pending"
    assert body["delivery"]["event"] == body["event"]["id"]
    assert Delivery.objects.get().endpoint_id == endpoint.pk


def test_rotating_the_secret_answers_the_new_one(api, endpoint):
    response = post(api, f"{URL}{endpoint.pk}/rotate-secret/")

    assert response.status_code == 200
    body = response.json()
    assert body["secret"] != endpoint.secret
    assert body["previous_secret_expires_at"] is not None
    assert WebhookEndpoint.objects.get().previous_secret == endpoint.secret


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"url": "not a url"}, 400, "VALIDATION_ERROR", "url"),
    ({"url": "https://ok.example.com/", "event_types": ["points.nope"]}, 400,
     "VALIDATION_ERROR", "event_types[0]"),
    ({"url": "https://ok.example.com/", "event_types": "points.*"}, 400, "VALIDATION_ERROR",
     "event_types"),
    ({"url": "https://ok.example.com/", "secret": "mine"}, 400, "VALIDATION_ERROR", "secret"),
    ({"url": "http://localhost/hook"}, 422, "WEBHOOK_URL_REFUSED", "url"),
    ({"url": "https://internal.example.com/"}, 422, "WEBHOOK_URL_REFUSED", "url"),
])
def test_bad_input_is_refused_naming_the_field(api, public_dns, refuse_private, body, status,
                                               code, field):
    public_dns["internal.example.com"] = ["10.0.0.1"]

    assert_problem(post(api, URL, body), status, code, field)
    assert not WebhookEndpoint.objects.exists()


def test_the_number_of_endpoints_is_limited(api, merchant, public_dns, clock):
    for n in range(services.MAX_ENDPOINTS):
        services.endpoint_create(merchant=merchant, url=f"https://h{n}.example.com/")

    assert_problem(post(api, URL, {"url": "https://one-more.example.com/"}), 422,
                   "WEBHOOK_LIMIT_REACHED")


def test_an_idempotency_key_creates_one_endpoint(api, public_dns, clock):
    first = post(api, URL, {"url": "https://crm.example.com/"}, **{"Idempotency-Key": "k1"})
    again = post(api, URL, {"url": "https://crm.example.com/"}, **{"Idempotency-Key": "k1"})

    assert again.json() == first.json()
    assert WebhookEndpoint.objects.count() == 1


def test_a_read_only_key_reads_but_does_not_write(read_only_api, endpoint):
    assert read_only_api.get(URL).status_code == 200
    assert_problem(post(read_only_api, f"{URL}{endpoint.pk}/test/"), 403, "PERMISSION_DENIED")


def test_the_delivery_log_lists_attempts_filters_failures_and_resends(
        api, merchant, member, allow_private, receiver, clock):
    hook = services.endpoint_create(merchant=merchant, url=receiver.url)
    receiver.answer((500, 0, b"nope"))
    ledger.points_credit(member=member, points=5, actor="t")
    ledger.points_credit(member=member, points=6, actor="t")
    run_due(clock)

    log = api.get(f"{URL}{hook.pk}/deliveries/").json()["results"]
    assert len(log) == 2
    failing = next(d for d in log if d["status"] == "pending")
    assert failing["log"][0]["status_code"] == 500
    assert failing["log"][0]["response_excerpt"] == "nope"
    assert failing["next_attempt_at"] is not None
    failures = api.get(f"{URL}{hook.pk}/deliveries/?failed_attempts=true").json()["results"]
    assert [d["id"] for d in failures] == [failing["id"]]
    assert api.get(f"{URL}{hook.pk}/deliveries/?status=failed").json()["results"] == []
    assert_problem(api.get(f"{URL}{hook.pk}/deliveries/?status=zzz"), 400, "VALIDATION_ERROR",
                   "status")

    delivered = next(d for d in log if d["status"] == "delivered")
    resent = post(api, f"{URL}{hook.pk}/deliveries/{delivered['id']}/resend/")
    assert resent.status_code == 202
    assert resent.json()["status"] == "pending"
    assert run_due(clock) == ["delivered"]
    assert DeliveryAttempt.objects.filter(delivery_id=delivered["id"]).count() == 2


def test_the_event_log_lists_filters_and_shows_events(api, member, other_member, clock):
    ledger.points_credit(member=member, points=5, actor="t")
    ledger.points_credit(member=other_member, points=5, actor="t")
    event = OutboxEvent.objects.get(member=member)

    results = api.get("/api/v1/events/").json()["results"]
    assert [e["id"] for e in results] == [event.event_id]
    assert results[0] == api.get(f"/api/v1/events/{event.event_id}/").json()
    assert results[0]["data"]["member"]["balance"] == 5
    assert len(api.get("/api/v1/events/?type=points.*").json()["results"]) == 1
    assert api.get("/api/v1/events/?type=member.enrolled").json()["results"] == []
    assert len(api.get(f"/api/v1/events/?member={member.pk}").json()["results"]) == 1
    for query in ("type=zzz", "member=abc", "member=99999999999999999999", "member=%C2%B9",
                  "created_after=yesterday"):
        assert api.get(f"/api/v1/events/?{query}").status_code == 400, query


# -- another merchant's ids ---------------------------------------------------------------


def test_another_merchants_endpoint_answers_404_everywhere(api, endpoint, foreign):
    base = f"{URL}{foreign.pk}/"
    for response in (
        api.get(base), patch(api, base, {"description": "x"}), api.delete(base),
        post(api, f"{base}test/"), post(api, f"{base}rotate-secret/"),
        api.get(f"{base}deliveries/"),
    ):
        assert_problem(response, 404, "WEBHOOK_NOT_FOUND")
    assert [w["id"] for w in api.get(URL).json()["results"]] == [endpoint.pk]
    foreign.refresh_from_db()
    assert foreign.description == ""
    assert not Delivery.objects.filter(endpoint=foreign).exists()


def test_another_merchants_deliveries_and_events_are_not_found(api, other_api, endpoint,
                                                               foreign, other_member, clock):
    theirs = services.endpoint_send_test(endpoint=foreign)
    ledger.points_credit(member=other_member, points=5, actor="t")
    their_event = OutboxEvent.objects.get(member=other_member)

    assert_problem(post(api, f"{URL}{endpoint.pk}/deliveries/{theirs.pk}/resend/"), 404,
                   "DELIVERY_NOT_FOUND")
    assert_problem(api.get(f"/api/v1/events/{their_event.event_id}/"), 404, "EVENT_NOT_FOUND")
    assert api.get("/api/v1/events/").json()["results"] == []
    assert [e["id"] for e in other_api.get("/api/v1/events/").json()["results"]][-1] == (
        theirs.event.event_id)


@pytest.mark.parametrize("ident", ["abc", "0", "-1", "99999999999999999999", "%C2%B9", "1.5"])
def test_odd_ids_answer_404(api, endpoint, ident):
    assert_problem(api.get(f"{URL}{ident}/"), 404, "WEBHOOK_NOT_FOUND")
    assert_problem(api.get(f"/api/v1/events/{ident}/"), 404, "EVENT_NOT_FOUND")


def test_actions_refuse_a_body(api, endpoint):
    assert_problem(post(api, f"{URL}{endpoint.pk}/test/", {"url": "https://x.example.com/"}),
                   400, "VALIDATION_ERROR", "url")
    assert not Delivery.objects.exists()
