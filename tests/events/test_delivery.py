"""Deliveries to a real local receiver: signed per Standard Webhooks, retried with backoff after
a failure or a timeout, at least once, and an endpoint that keeps failing is disabled."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.db import transaction

from events import services
from events.delivery import (
    FIRST_RETRY,
    MAX_ATTEMPTS,
    delivery_attempt,
    retry_delay,
)
from events.jobs import deliver_webhooks
from events.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from ledger import services as ledger

from .conftest import run_due

pytestmark = pytest.mark.django_db


def earn(member, points: int = 10):
    return ledger.points_credit(member=member, points=points, actor="t", reason="Survey")


def the_delivery() -> Delivery:
    return Delivery.objects.select_related("event").get()


def test_a_delivery_is_signed_per_standard_webhooks_and_verified_by_the_receiver(
        member, hook, receiver, clock):
    earn(member, 25)

    assert run_due(clock) == ["delivered"]

    [request] = receiver.received
    event = OutboxEvent.objects.get(type="points.earned")
    assert request.verified == event.envelope()  # the receiver's library checked the signature
    assert request.headers["webhook-id"] == event.event_id
    assert request.headers["webhook-signature"].startswith("v1,")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["content-type"] == "application/json"
    delivery = the_delivery()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    [attempt] = DeliveryAttempt.objects.all()
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 200, True)
    assert attempt.response_excerpt == '{"ok":true}'
    assert attempt.started_at == clock.now()


def test_a_500_is_retried_after_a_backoff_with_the_same_event_id(member, hook, receiver, clock):
    receiver.answer((500, 0, b"database is down"))
    earn(member)

    assert run_due(clock) == ["pending"]
    delivery = the_delivery()
    wait = delivery.next_attempt_at - clock.now()
    assert FIRST_RETRY * 0.8 <= wait <= FIRST_RETRY * 1.2
    assert run_due(clock) == []  # not due yet
    clock.advance(wait)
    assert run_due(clock) == ["delivered"]

    assert receiver.event_ids == [delivery.event.event_id] * 2
    failed, succeeded = DeliveryAttempt.objects.order_by("number")
    assert (failed.number, failed.status_code, failed.succeeded) == (1, 500, False)
    assert failed.response_excerpt == "database is down"
    assert "only a 2xx" in failed.error
    assert (succeeded.number, succeeded.status_code) == (2, 200)


def test_a_receiver_that_does_not_answer_in_time_is_retried(member, hook, receiver, clock,
                                                            settings):
    settings.WEBHOOKS_TIMEOUT = 0.3
    receiver.answer((200, 5.0, b"too late"))
    earn(member)

    started = time.monotonic()
    assert run_due(clock) == ["pending"]
    assert time.monotonic() - started < 2  # cut off at the timeout, not at the answer

    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error == "No answer within 0.3 s."
    clock.advance(the_delivery().next_attempt_at - clock.now())
    assert run_due(clock) == ["delivered"]


@pytest.mark.parametrize("status", [302, 404, 410])
def test_only_a_2xx_answer_counts_as_delivered(member, hook, receiver, clock, status):
    receiver.answer(status)
    earn(member)

    assert run_due(clock) == ["pending"]
    assert DeliveryAttempt.objects.get().status_code == status


def test_retries_back_off_exponentially_with_jitter_over_about_three_days():
    nominal = [retry_delay(n, rng=_Midpoint()) for n in range(1, MAX_ATTEMPTS)]
    assert nominal[:4] == [FIRST_RETRY, FIRST_RETRY * 2, FIRST_RETRY * 4, FIRST_RETRY * 8]
    assert max(nominal) == timedelta(hours=12)
    assert timedelta(days=2.5) < sum(nominal, timedelta()) < timedelta(days=3.5)
    rng = random.Random(7)
    jittered = {retry_delay(3, rng=rng) for _ in range(50)}
    assert len(jittered) > 40  # spread, so failing endpoints do not retry in step
    assert all(FIRST_RETRY * 4 * 0.8 <= d <= FIRST_RETRY * 4 * 1.2 for d in jittered)


class _Midpoint(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def test_a_delivery_gives_up_after_the_last_attempt(member, hook, receiver, clock):
    receiver.answer(*[500] * MAX_ATTEMPTS)
    earn(member)

    for _ in range(MAX_ATTEMPTS):
        clock.set(max(clock.now(), the_delivery().next_attempt_at))
        run_due(clock)

    delivery = the_delivery()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.received) == MAX_ATTEMPTS
    assert timedelta(days=2) < clock.now() - delivery.created_at < timedelta(days=4)
    assert run_due(clock) == []


def test_an_endpoint_failing_for_the_set_time_is_disabled(member, hook, receiver, clock,
                                                          settings):
    settings.WEBHOOKS_DISABLE_AFTER_DAYS = 5
    receiver.answer(*[503] * 10)
    earn(member)
    run_due(clock)
    first_failure = clock.now()
    assert WebhookEndpoint.objects.get().failing_since == first_failure

    clock.advance(days=5)
    earn(member)  # a new event, still failing five days on
    run_due(clock, event__type="points.earned", attempts=0)

    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.is_active
    assert endpoint.disabled_at == clock.now()
    assert "failed for 5 days" in endpoint.disabled_reason
    earn(member)
    assert Delivery.objects.count() == 2  # a disabled endpoint gets no new deliveries
    clock.advance(days=1)
    run_due(clock)  # what was pending is not sent to a disabled endpoint
    assert Delivery.objects.filter(status="pending").count() == 0
    assert len(receiver.received) == 2


def test_a_success_ends_the_failing_streak(member, hook, receiver, clock):
    receiver.answer(500)
    earn(member)
    run_due(clock)
    assert WebhookEndpoint.objects.get().failing_since is not None

    clock.advance(minutes=2)
    run_due(clock)

    assert WebhookEndpoint.objects.get().failing_since is None


def test_turning_a_disabled_endpoint_back_on_clears_its_streak(hook, clock):
    WebhookEndpoint.objects.filter(pk=hook.pk).update(
        is_active=False, failing_since=clock.now(), disabled_at=clock.now(),
        disabled_reason="Disabled automatically.")

    services.endpoint_enable(endpoint=WebhookEndpoint.objects.get(pk=hook.pk))

    endpoint = WebhookEndpoint.objects.get(pk=hook.pk)
    assert endpoint.is_active
    assert (endpoint.failing_since, endpoint.disabled_at, endpoint.disabled_reason) == (
        None, None, "")


def test_a_test_event_goes_to_that_endpoint_only_even_a_disabled_one(
        member, hook, receiver, clock, public_dns):
    other = services.endpoint_create(merchant=member.merchant, url="https://b.example.com/")
    services.endpoint_update(endpoint=hook, is_active=False)

    delivery = services.endpoint_send_test(endpoint=hook)
    run_due(clock)

    assert delivery.event.type == "webhook.test"
    assert not Delivery.objects.filter(endpoint=other).exists()
    [request] = receiver.received
    assert request.verified["type"] == "webhook.test"
    assert request.verified["member"] is None


def test_after_a_rotation_both_secrets_sign_for_a_day(member, hook, receiver, clock):
    old = hook.secret
    rotated = services.endpoint_rotate_secret(endpoint=hook)
    receiver.secrets[:] = [rotated.secret]
    earn(member)
    run_due(clock)
    receiver.secrets[:] = [old]
    clock.advance(days=1, seconds=1)
    earn(member)
    run_due(clock)

    first, second = receiver.received
    assert len(first.headers["webhook-signature"].split()) == 2
    assert receiver.verify(first.headers, first.body) is not None  # the old secret still signs
    assert len(second.headers["webhook-signature"].split()) == 1
    assert second.verified is None  # ...but not after a day
    receiver.secrets[:] = [rotated.secret]
    assert receiver.verify(second.headers, second.body) is not None


def test_a_claimed_delivery_is_sent_once_and_an_abandoned_claim_is_sent_again(
        member, hook, receiver, clock):
    """Two workers given the same delivery send it once; a worker that dies mid-request leaves
    a lease that runs out, and the sweeper has the delivery sent again with the same id."""
    earn(member)
    delivery = the_delivery()
    Delivery.objects.filter(pk=delivery.pk).update(
        locked_until=clock.now() + timedelta(seconds=40), attempts=1)  # a worker's claim

    assert delivery_attempt(delivery_id=delivery.pk, clock=clock) is None
    assert receiver.received == []

    clock.advance(minutes=5)
    assert deliver_webhooks(clock=clock, batch_size=10) == 1  # the lease ran out: enqueued
    assert run_due(clock) == ["delivered"]
    assert receiver.event_ids == [delivery.event.event_id]
    assert DeliveryAttempt.objects.get().number == 2


def test_the_sweeper_enqueues_overdue_deliveries_not_lately_enqueued(member, hook, clock):
    earn(member)
    assert deliver_webhooks(clock=clock, batch_size=10) == 0  # due just now: its task runs
    clock.advance(minutes=3)
    assert deliver_webhooks(clock=clock, batch_size=10) == 1
    assert deliver_webhooks(clock=clock, batch_size=10) == 0  # enqueued a moment ago
    clock.advance(minutes=11)
    assert deliver_webhooks(clock=clock, batch_size=10) == 1


def test_a_resend_sends_again_with_a_fresh_round_of_retries(member, hook, receiver, clock):
    receiver.answer(*[500] * MAX_ATTEMPTS)
    earn(member)
    for _ in range(MAX_ATTEMPTS):
        clock.set(max(clock.now(), the_delivery().next_attempt_at))
        run_due(clock)
    assert the_delivery().status == "failed"

    services.delivery_resend(delivery=the_delivery())
    assert run_due(clock) == ["delivered"]

    delivery = the_delivery()
    assert delivery.attempts == MAX_ATTEMPTS + 1
    assert DeliveryAttempt.objects.order_by("-number").first().number == MAX_ATTEMPTS + 1


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_enqueued_when_the_change_commits(member, hook, receiver, settings):
    """With the immediate task backend, a committed earn is delivered by its task at once; a
    change that rolls back enqueues nothing."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                                  "QUEUES": ["default", "webhooks", "jobs"]}}
    with transaction.atomic():
        earn(member)
        assert receiver.received == []  # not before the commit
    assert len(receiver.received) == 1
    assert the_delivery().status == "delivered"
