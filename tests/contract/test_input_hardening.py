"""No input, however odd, reaches a 500; strict input; one form for money and card ids
(issue #8, items 2, 4, 5, 6 and 7). Each test is one defect the fuzzer or an integrator met."""

from __future__ import annotations

import json

import pytest

from ledger.models import Entry
from rules.models import Order
from tests.api.helpers import assert_problem, post

pytestmark = pytest.mark.django_db


def url(program, tail: str = "") -> str:
    return f"/api/v1/programs/{program.pk}/{tail}"


def order(who, order_id: str = "A-1", **fields) -> dict:
    return {"order_id": order_id, "member": str(who.pk), "amount": "62.50", "currency": "EUR",
            **fields}


# -- item 2: three inputs that reached a 500 ---------------------------------------------------


@pytest.mark.parametrize("ident", ["¹", "①", "١٢", "1\x00", "%00", "12\u00b2"])
def test_an_id_in_the_path_that_is_not_ascii_digits_is_not_found(api, program, member, ident):
    for tail in (f"members/{ident}/", f"rewards/{ident}/", f"redemptions/{ident}/",
                 f"rules/{ident}/"):
        response = api.get(url(program, tail))
        assert response.status_code == 404, (tail, response.content)


def test_a_nul_byte_in_an_order_id_in_the_path_is_not_found(api, program):
    assert_problem(api.get(url(program, "orders/A-1\x00/")), 404, "NOT_FOUND")
    assert_problem(post(api, url(program, "orders/A\x00/refund/"), {"amount": "1.00"}), 404,
                   "NOT_FOUND")


@pytest.mark.parametrize("ident", ["¹", "①", "١"])
def test_a_body_naming_a_member_with_non_ascii_digits_finds_no_one(api, program, member,
                                                                  clock, ident):
    response = post(api, url(program, "orders/"), order(member, member=ident))

    assert_problem(response, 404, "MEMBER_NOT_FOUND")
    assert not Order.objects.exists()


@pytest.mark.parametrize("tier", ["¹", "①", "١٢", "\x00"])
def test_a_tier_filter_with_odd_digits_answers_without_error(api, program, tier):
    response = api.get(url(program, "members/"), {"tier": tier})

    assert response.status_code in (200, 400)


def test_a_body_nested_a_thousand_levels_deep_is_a_400(api, program, member):
    deep = "[" * 1000 + "]" * 1000
    response = api.post(url(program, "events/"), data=f'{{"metadata": {{"x": {deep}}}}}',
                        content_type="application/json")

    assert_problem(response, 400, "VALIDATION_ERROR")
    assert "nested" in response.json()["detail"]


def test_text_with_a_nul_character_is_a_400_naming_the_field(api, program, member, clock):
    response = post(api, url(program, "orders/"), order(member, order_id="A\x00"))

    assert_problem(response, 400, "VALIDATION_ERROR", "order_id")
    assert not Order.objects.exists()


def test_a_query_value_with_a_nul_is_a_400_naming_it(api, program):
    assert_problem(api.get(url(program, "members/"), {"external_id": "a\x00b"}), 400,
                   "VALIDATION_ERROR", "external_id")


# -- item 4: strict input ------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "bogus"}, "status"), ({"page_size": "abc"}, "page_size"),
    ({"page_size": "1000"}, "page_size"), ({"page_size": "0"}, "page_size"),
    ({"page": "¹"}, "page"), ({"status": ""}, "status"),
])
def test_an_invalid_list_parameter_is_a_400_naming_it(api, program, query, field):
    assert_problem(api.get(url(program, "members/"), query), 400, "VALIDATION_ERROR", field)


@pytest.mark.parametrize(("query", "field"), [
    ({"member": "1.5"}, "member"), ({"member": "١"}, "member"), ({"created_after": "yesterday"},
                                                                  "created_after"),
    ({"created_after": "2026-01-01T00:00:00"}, "created_after"),  # no offset
])
def test_order_filters_are_strict(api, program, query, field):
    assert_problem(api.get(url(program, "orders/"), query), 400, "VALIDATION_ERROR", field)


def test_every_documented_order_filter_works(api, program, member, clock):
    post(api, url(program, "orders/"), order(member, "early"))
    clock.advance(days=2)
    post(api, url(program, "orders/"), order(member, "late"))

    def ids(**query):
        return [o["order_id"] for o in api.get(url(program, "orders/"), query).json()["results"]]

    assert ids(created_after="2026-01-16T00:00:00Z") == ["late"]
    assert ids(created_before="2026-01-16T00:00:00Z") == ["early"]
    assert ids(card_id=member.card_id.lower()) == ["late", "early"]
    assert ids(external_id=member.customer.external_id, status="completed") == ["late", "early"]
    assert ids(member=str(member.pk + 1000)) == []


@pytest.mark.parametrize("amount", ["١٢", "１２", "12e1", " 12", "+12", "0x1F", 12, 12.5])
def test_an_amount_must_be_a_string_of_ascii_digits(api, program, member, clock, amount):
    response = post(api, url(program, "orders/"), order(member, amount=amount))

    assert_problem(response, 400, "VALIDATION_ERROR", "amount")
    assert not Order.objects.exists()


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                                  "9999-12-31T23:59:59-05:00"])
def test_an_absurd_occurred_at_is_refused(api, program, member, clock, when):
    response = post(api, url(program, "orders/"), order(member, occurred_at=when))

    assert_problem(response, 422, "INVALID_VALUE", "occurred_at")
    assert not Entry.objects.exists()


def test_a_malformed_cursor_is_a_400_naming_cursor(api, program, member):
    response = api.get(url(program, f"members/{member.pk}/transactions/"), {"cursor": "!!!"})

    assert_problem(response, 400, "VALIDATION_ERROR", "cursor")


def test_the_cursor_of_a_next_link_pages_through_the_ledger(api, program, member, clock):
    from ledger.services import points_credit

    for _ in range(5):
        points_credit(member=member, points=10, actor="t")
        clock.advance(minutes=1)
    first = api.get(url(program, f"members/{member.pk}/transactions/"), {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    seen = [e["id"] for page in (first, second, third) for e in page["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert third["next"] is None


def test_a_change_with_unknown_fields_is_refused(api, program):
    response = api.patch(url(program), data=json.dumps({"pending_days": 3, "colour": "red"}),
                         content_type="application/json")

    assert_problem(response, 400, "VALIDATION_ERROR", "colour")


# -- items 5, 6, 7: one form for money and card ids; preview takes the order as is -------------


def test_an_order_reads_back_its_money_in_minor_units(api, program, member, clock):
    created = post(api, url(program, "orders/"), order(member)).json()
    read = api.get(url(program, "orders/A-1/")).json()
    listed = api.get(url(program, "orders/")).json()["results"][0]

    assert created["amount"] == read["amount"] == listed["amount"] == "62.50"
    assert (read["refundable"], read["points_discount"], read["amount_refunded"]) == (
        "62.50", "0.00", "0.00")


def test_error_messages_write_money_in_minor_units(api, program, member, clock):
    post(api, url(program, "orders/"), order(member))
    post(api, url(program, "orders/A-1/refund/"), {"amount": "25.00"})

    response = post(api, url(program, "orders/A-1/refund/"), {"amount": "40.00"})

    body = assert_problem(response, 422, "REFUND_EXCEEDS_ORDER", "amount")
    assert "37.50 EUR" in body["detail"]
    assert body["refundable"] == "37.50"


def test_the_api_prints_card_ids_as_on_the_card_and_reads_any_form(api, program, member):
    printed = api.get(url(program, f"members/{member.pk}/")).json()["card_id"]
    plain = member.card_id

    assert printed == "-".join(plain[i:i + 4] for i in range(0, 16, 4))
    for typed in (printed, plain, plain.lower(), printed.lower()):
        assert api.get(url(program, f"members/{typed}/")).json()["id"] == member.pk
        listed = api.get(url(program, "members/"), {"card_id": typed}).json()["results"]
        assert [m["id"] for m in listed] == [member.pk]


def test_a_preview_takes_the_order_body_as_it_is_and_writes_nothing(api, program, member,
                                                                   clock):
    body = order(member, items=[
        {"sku": "LATTE-L", "category": "coffee", "quantity": 2, "price": "4.25"},
        {"sku": "BEANS-1KG", "category": "beans", "quantity": 1, "price": "54.00"},
    ])

    preview = post(api, url(program, "orders/preview/"), body)
    recorded = post(api, url(program, "orders/"), body)

    assert preview.status_code == 200, preview.content
    assert preview.json()["points"] == recorded.json()["points"] == 62
    assert Order.objects.count() == 1
