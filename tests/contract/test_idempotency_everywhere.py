"""Every write honours ``Idempotency-Key``, orders and events included, on top of their
natural keys (order id, event id): issue #8, item 1."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from ledger.models import Entry
from rules.models import Event, Order
from tests.api.helpers import assert_problem, post
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db


def orders(program) -> str:
    return f"/api/v1/programs/{program.pk}/orders/"


def events(program) -> str:
    return f"/api/v1/programs/{program.pk}/events/"


def order_body(member, order_id: str, amount: str = "30.50") -> dict:
    return {"order_id": order_id, "member": str(member.pk), "amount": amount, "currency": "EUR"}


def test_one_key_sent_with_two_different_orders_earns_once_and_the_second_is_a_conflict(
    api, program, member, clock
):
    first = post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": "k-1"})
    second = post(api, orders(program), order_body(member, "A-2"), **{"Idempotency-Key": "k-1"})

    assert first.status_code == 201
    assert_problem(second, 422, "IDEMPOTENCY_CONFLICT", "Idempotency-Key")
    assert list(Order.objects.values_list("order_id", flat=True)) == ["A-1"]
    assert Entry.objects.filter(member=member).count() == 1


def test_an_order_retried_with_its_key_replays_the_first_answer(api, program, member, clock):
    first = post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": "k-1"})
    again = post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": "k-1"})

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Entry.objects.filter(member=member).count() == 1


def test_an_order_id_sent_again_under_a_new_key_replays_and_the_new_key_keeps_that_answer(
    api, program, member, clock
):
    first = post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": "k-1"})
    other_key = post(api, orders(program), order_body(member, "A-1"),
                     **{"Idempotency-Key": "k-2"})
    other_key_again = post(api, orders(program), order_body(member, "A-1"),
                           **{"Idempotency-Key": "k-2"})

    assert other_key.json() == other_key_again.json() == first.json()
    assert other_key["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_an_order_id_sent_again_with_another_amount_is_a_conflict_whatever_the_key(
    api, program, member, clock
):
    post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": "k-1"})

    response = post(api, orders(program), order_body(member, "A-1", amount="99.00"),
                    **{"Idempotency-Key": "k-2"})

    assert_problem(response, 422, "IDEMPOTENCY_CONFLICT")
    assert Order.objects.get().amount == 30.5


def test_one_key_sent_with_two_different_events_awards_once(api, program, member, clock):
    body = {"type": "review", "member": str(member.pk)}
    first = post(api, events(program), {**body, "event_id": "e-1"}, **{"Idempotency-Key": "k"})
    second = post(api, events(program), {**body, "event_id": "e-2"}, **{"Idempotency-Key": "k"})

    assert first.status_code == 201
    assert_problem(second, 422, "IDEMPOTENCY_CONFLICT", "Idempotency-Key")
    assert list(Event.objects.values_list("event_id", flat=True)) == ["e-1"]


def test_an_event_without_an_event_id_is_made_safe_to_retry_by_its_key(
    api, program, member, clock
):
    body = {"type": "review", "member": str(member.pk)}
    first = post(api, events(program), body, **{"Idempotency-Key": "visit-7"})
    again = post(api, events(program), body, **{"Idempotency-Key": "visit-7"})

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


@pytest.mark.parametrize("key", ["", " padded", "tab\there", "é", "k" * 201])
def test_a_malformed_idempotency_key_is_refused_and_nothing_is_written(api, program, member,
                                                                        clock, key):
    response = post(api, orders(program), order_body(member, "A-1"), **{"Idempotency-Key": key})

    assert_problem(response, 400, "VALIDATION_ERROR", "Idempotency-Key")
    assert not Order.objects.exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_sixteen_requests_sharing_one_key_with_different_orders_earn_exactly_once(
    program, member, merchant
):
    from members.services import api_key_create

    _, raw = api_key_create(merchant=merchant, name="race")

    def submit(i: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}", HTTP_IDEMPOTENCY_KEY="shared")
        response = client.post(orders(program), data=json.dumps(order_body(member, f"R-{i}")),
                               content_type="application/json")
        return response.status_code

    statuses = in_threads(16, submit)

    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 409, 422}
    assert Order.objects.count() == 1
    assert Entry.objects.filter(member=member).count() == 1
