"""POST /orders/batch/: up to 500 orders, each answered as POST /orders/ would answer it."""

from __future__ import annotations

import json

import pytest

from ledger.models import Entry, IdempotencyKey
from ledger.selectors import member_ledger_discrepancies
from members.models import Member
from rules.api.batch import MAX_ORDERS
from rules.models import Order
from tests.factories import MemberFactory

from .conftest import fresh
from .factories import assert_problem, post

pytestmark = pytest.mark.django_db


def url(program, tail: str = "batch/") -> str:
    return f"/api/v1/programs/{program.pk}/orders/{tail}"


def order(member, order_id: str, amount: str = "25.00", **fields) -> dict:
    return {"order_id": order_id, "member": str(member.pk), "amount": amount,
            "currency": "EUR", **fields}


def batch(api, program, orders, **headers):
    return post(api, url(program), {"orders": orders}, **headers)


def test_each_order_of_a_batch_earns_and_answers_what_a_single_order_would(
    api, program, member, make_rule
):
    make_rule("order", {"multiplier": "2"}, name="Double")
    second = MemberFactory(program=program)

    response = batch(api, program, [order(member, "B-1"), order(second, "B-2", "10.00")])

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["created"], data["replayed"], data["failed"]) == (2, 0, 0)
    first, other = data["results"]
    assert (first["index"], first["order_id"], first["status"], first["replayed"]) == (
        0, "B-1", 201, False)
    assert first["body"]["points"] == 50
    assert first["body"]["member"]["balance"] == fresh(member).balance == 50
    assert other["body"]["points"] == 20
    assert fresh(second).balance == 20
    assert Order.objects.count() == 2


def test_a_batch_and_the_same_orders_posted_singly_leave_identical_ledgers(
    api, program, make_rule, merchant
):
    from tests.factories import ProgramFactory

    twin = ProgramFactory(merchant=merchant, name="Twin", currency="EUR")
    for target in (program, twin):
        make_rule("order", {"multiplier": "2", "min_amount": "20"}, target=target)
        make_rule("category", {"categories": ["coffee"], "multiplier": "3"}, target=target)
    singles = [MemberFactory(program=program) for _ in range(3)]
    batched = [MemberFactory(program=twin) for _ in range(3)]
    lines = [{"sku": "LATTE", "category": "coffee", "quantity": 2, "price": "4.25"},
             {"sku": "BEANS", "category": "beans", "quantity": 1, "price": "22.00"}]
    plan = [(0, "30.50", lines), (1, "12.00", []), (0, "7.00", []), (2, "30.50", lines)]

    single_bodies = []
    for n, (who, amount, items) in enumerate(plan):
        response = post(api, url(program, ""), order(singles[who], f"S-{n}", amount, items=items))
        assert response.status_code == 201, response.content
        single_bodies.append(response.json())
    response = batch(api, twin, [order(batched[who], f"S-{n}", amount, items=items)
                                 for n, (who, amount, items) in enumerate(plan)])

    results = response.json()["results"]
    for single, result in zip(single_bodies, results, strict=True):
        assert result["status"] == 201
        assert result["body"]["points"] == single["points"]
        assert [a["points"] for a in result["body"]["awards"]] == [
            a["points"] for a in single["awards"]]
        assert result["body"]["member"]["balance"] == single["member"]["balance"]
    for a, b in zip(singles, batched, strict=True):
        a, b = fresh(a), fresh(b)
        assert (a.balance, a.pending_points, a.lifetime_points) == (
            b.balance, b.pending_points, b.lifetime_points)
        assert list(Entry.objects.filter(member=a).order_by("id").values_list(
            "kind", "points", "balance_after", "reference")) == list(
            Entry.objects.filter(member=b).order_by("id").values_list(
                "kind", "points", "balance_after", "reference"))
        assert member_ledger_discrepancies(member_id=b.pk) == []


def test_bad_input_in_one_order_is_its_own_result_and_the_others_are_recorded(
    api, program, member
):
    orders = [
        order(member, "ok-1"),
        order(member, "bad-1", "abc"),
        {**order(member, "bad-2"), "colour": "red"},
        order(member, "bad-3", "0.00"),
        order(member, "bad-4", currency="USD"),
        "not an object",
        order(member, "ok-2", "5.00"),
    ]

    data = batch(api, program, orders).json()

    statuses = [(r["status"], r["body"].get("code")) for r in data["results"]]
    assert statuses == [
        (201, None), (400, "VALIDATION_ERROR"), (400, "VALIDATION_ERROR"),
        (422, "INVALID_VALUE"), (422, "CURRENCY_MISMATCH"), (400, "VALIDATION_ERROR"),
        (201, None),
    ]
    assert data["results"][1]["body"]["errors"][0]["field"] == "amount"
    assert data["results"][2]["body"]["errors"][0]["field"] == "colour"
    assert (data["created"], data["failed"]) == (2, 5)
    assert fresh(member).balance == 30
    assert set(Order.objects.values_list("order_id", flat=True)) == {"ok-1", "ok-2"}
    # bad input keeps no key: the corrected order can be sent again
    fixed = batch(api, program, [order(member, "bad-1", "3.00")]).json()
    assert fixed["results"][0]["status"] == 201


def test_an_item_answers_the_problem_the_single_endpoint_answers(api, program, member):
    bad = order(member, "cmp-1", "1.001")

    single = post(api, url(program, ""), bad)
    item = batch(api, program, [bad]).json()["results"][0]

    assert item["status"] == single.status_code == 422
    assert item["body"] == single.json()


@pytest.mark.parametrize("count", [0, MAX_ORDERS + 1])
def test_an_empty_batch_or_one_over_500_orders_is_refused_naming_orders(
    api, program, member, count
):
    orders = [order(member, f"n-{i}", "1.00") for i in range(count)]

    response = batch(api, program, orders)

    assert_problem(response, 400, "VALIDATION_ERROR", "orders")
    assert not Order.objects.exists()


def test_a_body_without_an_orders_list_is_refused(api, program, member):
    assert_problem(post(api, url(program), {"orders": {"a": 1}}), 400, "VALIDATION_ERROR",
                   "orders")
    assert_problem(post(api, url(program), {"orders": [], "extra": 1}), 400,
                   "VALIDATION_ERROR", "extra")


def test_a_replayed_batch_earns_nothing_twice_and_answers_the_first_answers(
    api, program, member
):
    orders = [order(member, "R-1"), order(member, "R-2", "5.00"), order(member, "R-3", "x")]
    first = batch(api, program, orders).json()

    again = batch(api, program, orders).json()

    assert fresh(member).balance == 30
    assert Entry.objects.filter(member=member).count() == 2
    assert (again["created"], again["replayed"], again["failed"]) == (0, 2, 1)
    for before, after in zip(first["results"], again["results"], strict=True):
        assert after["body"] == before["body"]
        assert after["status"] == before["status"]
    assert [r["replayed"] for r in again["results"]] == [True, True, False]


def test_a_replayed_batch_with_one_changed_order_answers_a_conflict_for_that_order(
    api, program, member
):
    batch(api, program, [order(member, "C-1"), order(member, "C-2", "5.00")])

    again = batch(api, program, [order(member, "C-1"), order(member, "C-2", "6.00")]).json()

    first, changed = again["results"]
    assert first["replayed"]
    assert first["status"] == 201
    assert changed["status"] == 422
    assert changed["body"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert fresh(member).balance == 30


def test_a_batched_order_and_a_single_order_with_the_same_id_replay_each_other(
    api, program, member
):
    single = post(api, url(program, ""), order(member, "X-1")).json()

    item = batch(api, program, [order(member, "X-1"), order(member, "X-1")]).json()["results"]

    assert item[0]["replayed"]
    assert item[0]["body"] == single
    assert item[1]["replayed"]
    assert item[1]["body"] == single
    again = post(api, url(program, ""), order(member, "X-2"))
    later = batch(api, program, [order(member, "X-2")]).json()["results"][0]
    assert later["body"] == again.json()
    assert fresh(member).balance == 50


def test_one_order_id_twice_in_a_batch_earns_once(api, program, member):
    data = batch(api, program, [order(member, "D-1"), order(member, "D-1"),
                                order(member, "D-1", "9.00")]).json()

    assert [r["status"] for r in data["results"]] == [201, 201, 422]
    assert data["results"][1]["replayed"] is True
    assert data["results"][2]["body"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert fresh(member).balance == 25


def test_an_order_recorded_earlier_and_sent_twice_in_a_batch_replays_twice(api, program, member):
    first = batch(api, program, [order(member, "T2-1")]).json()["results"][0]

    data = batch(api, program, [order(member, "T2-1"), order(member, "T2-1"),
                                order(member, "T2-1", "2.00")]).json()

    same, again, changed = data["results"]
    assert same["replayed"]
    assert again["replayed"]
    assert same["body"] == again["body"] == first["body"]
    assert changed["body"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert fresh(member).balance == 25


def test_an_order_whose_key_expired_replays_from_the_order_row(api, program, member, clock):
    batch(api, program, [order(member, "E-1")])
    IdempotencyKey.objects.all().delete()

    data = batch(api, program, [order(member, "E-1"), order(member, "E-1", "1.00")]).json()

    kept, changed = data["results"]
    assert kept["status"] == 201
    assert kept["replayed"]
    assert kept["body"]["points"] == 25
    assert changed["body"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert fresh(member).balance == 25


def test_the_idempotency_key_header_replays_the_whole_batch(api, program, member):
    orders = [order(member, "H-1"), order(member, "H-2", "5.00")]
    first = batch(api, program, orders, **{"Idempotency-Key": "sync-42"})

    again = batch(api, program, orders, **{"Idempotency-Key": "sync-42"})
    other = batch(api, program, orders[:1], **{"Idempotency-Key": "sync-42"})

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "IDEMPOTENCY_CONFLICT", "Idempotency-Key")
    assert fresh(member).balance == 30


def test_another_merchants_member_in_an_order_is_that_orders_404(
    api, program, member, other_member
):
    data = batch(api, program, [order(other_member, "T-1"), order(member, "T-2")]).json()

    stranger, mine = data["results"]
    assert stranger["status"] == 404
    assert stranger["body"]["code"] == "MEMBER_NOT_FOUND"
    assert mine["status"] == 201
    assert fresh(other_member).balance == 0


def test_another_merchants_program_is_a_404_for_the_batch(api, other_program, other_member):
    response = batch(api, other_program, [order(other_member, "T-3")])

    assert_problem(response, 404, "NOT_FOUND")
    assert not Order.objects.exists()


def test_a_read_only_key_may_not_send_a_batch(read_only_api, program, member):
    response = batch(read_only_api, program, [order(member, "RO-1")])

    assert_problem(response, 403, "PERMISSION_DENIED")


def test_an_inactive_member_is_refused_in_its_order_and_the_refusal_is_kept(
    api, program, member
):
    inactive = MemberFactory(program=program, status=Member.Status.SUSPENDED)

    data = batch(api, program, [order(inactive, "I-1"), order(member, "I-2")]).json()
    again = batch(api, program, [order(inactive, "I-1")]).json()

    assert data["results"][0]["body"]["code"] == "MEMBER_INACTIVE"
    assert data["results"][1]["status"] == 201
    assert again["results"][0]["replayed"] is True
    assert again["results"][0]["body"] == data["results"][0]["body"]


def test_unknown_external_ids_enrol_new_members_in_a_batch(api, program):
    program.auto_enrol = True
    program.save()
    orders = [{"order_id": f"N-{i}", "external_id": f"pos-{i % 2}", "amount": "10.00",
               "currency": "EUR"} for i in range(4)]

    data = batch(api, program, orders).json()

    assert [r["status"] for r in data["results"]] == [201] * 4
    assert [r["body"]["enrolled"] for r in data["results"]] == [True, True, False, False]
    assert sorted(Member.objects.values_list("balance", flat=True)) == [20, 20]


def test_a_chunk_of_orders_costs_a_few_statements_whatever_its_size(
    api, program, make_rule
):
    """Per chunk of 100: its transaction, two reads for earlier outcomes, the keys' claim, the
    set-based recording (members, rules, hooks, history, figures, entries, lots, orders,
    awards, two events), the outcomes, and a savepoint around the set: about 20 statements
    for 100 orders, where one order on its own costs 9."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_rule("order", {"multiplier": "2"})
    make_rule("category", {"categories": ["coffee"], "multiplier": "3"}, cooldown_hours=1)
    members = [MemberFactory(program=program) for _ in range(25)]
    batch(api, program, [order(members[0], "warm-up")])
    orders = [order(members[i % 25], f"Q-{i}") for i in range(100)]

    with CaptureQueriesContext(connection) as queries:
        data = batch(api, program, orders).json()

    assert data["created"] == 100
    limit = 24 if connection.vendor == "postgresql" else 40  # SQLite: inserts in batches
    assert len(queries) <= limit, "\n".join(q["sql"][:100] for q in queries)


def test_a_replayed_batch_answers_from_one_read_per_chunk(api, program, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = [order(member, f"RR-{i}", "1.00") for i in range(50)]
    batch(api, program, orders)

    with CaptureQueriesContext(connection) as queries:
        data = batch(api, program, orders).json()

    assert data["replayed"] == 50
    assert len(queries) <= 3, "\n".join(q["sql"][:100] for q in queries)


def test_a_batch_of_many_orders_spans_chunks_and_keeps_their_order(api, program, member):
    orders = [order(member, f"M-{i}", "1.00") for i in range(230)]

    data = batch(api, program, orders).json()

    assert [r["index"] for r in data["results"]] == list(range(230))
    assert data["created"] == 230
    assert fresh(member).balance == 230
    assert json.loads(json.dumps(data["results"][-1]["body"]))["member"]["balance"] == 230


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_identical_batches_racing_earn_once(api, program, make_rule):
    from rest_framework.test import APIClient

    from tests.concurrency import in_threads

    make_rule("order", {"multiplier": "2"})
    members = [MemberFactory(program=program) for _ in range(5)]
    # the members in two orders: the batches lock them in one order all the same
    orders = [order(m, f"race-{i}-{m.pk}", "10.00") for i in range(4) for m in members]
    payloads = [json.dumps({"orders": orders}), json.dumps({"orders": orders[::-1]})]

    def submit(i: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
        response = client.post(url(program), data=payloads[i % 2],
                               content_type="application/json")
        return response.status_code, response.json()

    answers = in_threads(4, submit)

    assert [status for status, _ in answers] == [200] * 4
    for _, data in answers:
        assert {r["status"] for r in data["results"]} <= {201, 409}, data
    assert Order.objects.count() == len(orders)
    for m in members:
        assert fresh(m).balance == 4 * 20
        assert Entry.objects.filter(member=m, kind="earn").count() == 4
        assert member_ledger_discrepancies(member_id=m.pk) == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_batches_naming_the_same_members_in_other_orders_do_not_deadlock(api, program):
    """With or without an Idempotency-Key (one transaction, or one per chunk), members are
    locked in one primary-key order, so crossing batches queue instead of deadlocking."""
    from rest_framework.test import APIClient

    from tests.concurrency import in_threads

    members = [MemberFactory(program=program) for _ in range(6)]

    def submit(i: int):
        ordered = members if i % 2 else members[::-1]
        orders = [order(m, f"x{i}-{n}-{m.pk}", "1.00") for n in range(60) for m in ordered]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
        headers = {"HTTP_IDEMPOTENCY_KEY": f"cross-{i}"} if i < 2 else {}
        response = client.post(url(program), data=json.dumps({"orders": orders}),
                               content_type="application/json", **headers)
        return response.status_code, response.json()

    answers = in_threads(4, submit)

    for status, data in answers:
        assert status == 200, data
        assert data["created"] == 360, [r for r in data["results"] if r["status"] != 201][:3]
    for m in members:
        assert fresh(m).balance == 4 * 60
        assert member_ledger_discrepancies(member_id=m.pk) == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_set_based_batches_racing_single_orders_and_earns_lose_nothing(api, program, make_rule):
    """The set-based path computes figures, balances after and event numbers in Python from
    the rows it locked: single orders and earns on the same members at the same time must
    queue behind it, so every figure adds up and each member's events are numbered 1..n."""
    from rest_framework.test import APIClient

    from events.models import OutboxEvent
    from rules.models import Award
    from tests.concurrency import in_threads

    make_rule("order", {"multiplier": "2"})
    make_rule("sku", {"skus": ["BEANS"], "points_per_item": 5}, max_per_member=3)
    members = [MemberFactory(program=program) for _ in range(4)]
    beans = [{"sku": "BEANS", "category": "beans", "quantity": 1, "price": "2.00"}]

    def submit(i: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
        statuses = []
        for n in range(5):
            if i < 2:  # batches, members in crossing orders
                ordered = members if i else members[::-1]
                orders = [order(m, f"b{i}-{n}-{k}-{m.pk}", "2.00", items=beans)
                          for k in range(5) for m in ordered]
                response = client.post(url(program), data=json.dumps({"orders": orders}),
                                       content_type="application/json")
                statuses += [r["status"] for r in response.json()["results"]]
            elif i == 2:  # single orders
                for m in members:
                    response = post(client, url(program, ""),
                                    order(m, f"s-{n}-{m.pk}", "2.00", items=beans))
                    statuses.append(response.status_code)
            else:  # earns
                for m in members:
                    response = post(client, f"/api/v1/programs/{program.pk}/members/{m.pk}/earn/",
                                    {"points": 7, "reason": "race"})
                    statuses.append(response.status_code)
        return statuses

    answers = in_threads(4, submit)

    assert {s for statuses in answers for s in statuses} == {201}, answers
    for m in members:
        m = fresh(m)
        orders = Order.objects.filter(member=m).count()
        assert orders == 2 * 5 * 5 + 5
        assert Entry.objects.filter(member=m, kind="earn").count() == orders + 5
        assert m.balance + m.pending_points == sum(
            Entry.objects.filter(member=m).values_list("points", flat=True))
        assert member_ledger_discrepancies(member_id=m.pk) == []
        sequences = sorted(OutboxEvent.objects.filter(member=m).values_list("sequence",
                                                                            flat=True))
        assert sequences == list(range(1, len(sequences) + 1))
        assert m.event_sequence == len(sequences)
        assert Award.objects.filter(member=m, rule__kind="sku").count() == 3  # the cap held


def test_orders_left_to_the_single_path_keep_the_rest_of_the_chunk_set_based(
    api, program, member, caplog
):
    """A refused order's key, claimed with the chunk's, is given back before it runs alone
    (the keys' 24-hour guard lets a claim without an outcome go): the set step does not fail
    and fall back for the whole chunk."""
    import logging

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    suspended = MemberFactory(program=program)
    Member.objects.filter(pk=suspended.pk).update(status=Member.Status.SUSPENDED)
    orders = [order(member, f"K-{i}", "1.00") for i in range(30)]
    orders.insert(10, order(suspended, "K-suspended", "1.00"))

    with caplog.at_level(logging.ERROR, logger="rules.api.batch"), \
            CaptureQueriesContext(connection) as queries:
        data = batch(api, program, orders).json()

    assert [r["status"] for r in data["results"]].count(201) == 30
    assert data["results"][10]["body"]["code"] == "MEMBER_INACTIVE"
    assert "set-based" not in caplog.text
    assert len(queries) <= 40, "\n".join(q["sql"][:100] for q in queries)
    assert IdempotencyKey.objects.filter(key__endswith=":order:K-suspended").exists()
