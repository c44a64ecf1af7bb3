"""The scheduled jobs as tasks (``run_jobs --enqueue``), retention, and the demo endpoint."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from events import services
from events.demo import DEMO_RECEIVER
from events.jobs import purge_events
from events.models import Delivery, DeliveryAttempt, ExpiryWarning, OutboxEvent, WebhookEndpoint
from ledger import services as ledger
from members.tasks import run_job

from .conftest import run_due

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                         "QUEUES": ["default", "webhooks", "jobs"]}}


def test_run_jobs_enqueue_hands_each_job_to_the_workers(clock):
    out = StringIO()
    call_command("run_jobs", "--enqueue", "--job", "deliver-webhooks", "--job", "purge-events",
                 stdout=out)

    queued = DBTaskResult.objects.order_by("enqueued_at")
    assert [r.args_kwargs["args"][0] for r in queued] == ["deliver-webhooks", "purge-events"]
    assert {r.queue_name for r in queued} == {"jobs"}
    assert "deliver-webhooks: enqueued" in out.getvalue()


def test_a_job_task_runs_the_job(member, hook, receiver, clock, settings):
    settings.TASKS = IMMEDIATE
    ledger.points_credit(member=member, points=5, actor="t")
    clock.advance(minutes=5)  # the delivery's own task never ran (no commit in this test)

    result = run_job.enqueue("deliver-webhooks", 100)

    assert result.return_value == 1
    assert Delivery.objects.get().status == "delivered"
    assert len(receiver.received) == 1


def test_an_unknown_job_task_fails(settings):
    settings.TASKS = IMMEDIATE
    assert run_job.enqueue("no-such-job", 10).errors


def test_purge_removes_old_finished_events_with_their_log(member, hook, receiver, clock,
                                                           settings):
    settings.EVENTS_RETENTION_DAYS = 30
    receiver.answer(500, 500)
    ledger.points_credit(member=member, points=5, actor="t")  # will be delivered
    ledger.points_credit(member=member, points=6, actor="t")  # will still be pending
    run_due(clock)
    clock.advance(minutes=2)
    run_due(clock, attempts=1, event__data__entry__points=5)
    assert Delivery.objects.filter(status="pending").count() == 1
    ExpiryWarning.objects.create(merchant=member.merchant, member=member, points=5,
                                 expires_on=clock.now().date(), created_at=clock.now())

    clock.advance(days=31)
    purged = purge_events(clock=clock, batch_size=1)

    assert purged == 1  # the delivered earn; the pending one stays
    assert list(OutboxEvent.objects.values_list("data__entry__points", flat=True)) == [6]
    assert DeliveryAttempt.objects.filter(delivery__event__data__entry__points=5).count() == 0
    assert not ExpiryWarning.objects.exists()


@pytest.mark.slow
def test_the_demo_points_an_endpoint_at_its_own_receiver_once(allow_private, clock):
    call_command("loyalty_demo", stdout=StringIO())
    call_command("loyalty_demo", stdout=StringIO())

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == DEMO_RECEIVER
    assert endpoint.merchant.slug == "demo"


def test_the_demo_receiver_verifies_signatures(client, merchant, allow_private, settings,
                                               clock):
    from events.signing import signature_headers, signing_time

    settings.DEBUG = True
    endpoint = services.endpoint_create(merchant=merchant, url=DEMO_RECEIVER)
    body = '{"id":"evt_1","type":"webhook.test"}'

    def send(secret):
        headers = signature_headers(message_id="evt_1", body=body, secrets=[secret],
                                    at=signing_time())
        return client.post("/demo/webhook-receiver/", data=body, HTTP_HOST="127.0.0.1:8000",
                           content_type="application/json",
                           **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})

    assert send(endpoint.secret).json() == {"received": "evt_1", "type": "webhook.test",
                                            "verified": True}
    assert send(services.endpoint_rotate_secret(endpoint=endpoint).secret).status_code == 200
    assert send("whsec_" + "A" * 44).status_code == 400
    settings.DEBUG = False
    assert send(endpoint.secret).status_code == 404


def test_events_older_than_retention_are_gone_from_the_api(api, member, clock, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    ledger.points_credit(member=member, points=5, actor="t")
    clock.advance(timedelta(days=31))
    purge_events(clock=clock, batch_size=100)
    assert api.get("/api/v1/events/").json()["results"] == []
