"""Programs and members over REST: the SPEC 15 contract."""

from __future__ import annotations

import pytest

from ledger import services as ledger
from members.models import Member

from ..factories import MemberFactory
from .helpers import assert_problem, patch, post

pytestmark = pytest.mark.django_db

MEMBER_FIELDS = {
    "id", "card_id", "external_id", "status", "balance", "pending_points", "reserved_points",
    "lifetime_points", "tier",
}


def test_program_needs_only_name_and_currency(api):
    response = post(api, "/api/v1/programs/", {"name": "Coffee Club", "currency": "EUR"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["currency"] == "EUR"
    assert body["earn_rate"] == "1.0000"
    assert body["expiry_policy"] == "none"
    assert body["auto_enrol"] is True


def test_program_list_detail_patch_and_soft_delete(api, program):
    listed = api.get("/api/v1/programs/").json()
    assert [p["id"] for p in listed["results"]] == [program.pk]

    response = patch(api, f"/api/v1/programs/{program.pk}/", {"pending_days": 30})
    assert response.status_code == 200
    assert response.json()["pending_days"] == 30

    assert api.delete(f"/api/v1/programs/{program.pk}/").status_code == 204
    assert_problem(api.get(f"/api/v1/programs/{program.pk}/"), 404, "NOT_FOUND")
    assert api.get("/api/v1/programs/").json()["results"] == []
    program.refresh_from_db()
    assert program.deleted_at is not None


def test_program_names_are_unique_per_merchant_only(api, other_api, program):
    assert_problem(
        post(api, "/api/v1/programs/", {"name": program.name, "currency": "EUR"}),
        409, "NAME_TAKEN", "name",
    )
    assert post(other_api, "/api/v1/programs/", {"name": program.name, "currency": "EUR"}
                ).status_code == 201


def test_enrol_returns_the_member_contract(api, program):
    response = post(
        api, f"/api/v1/programs/{program.pk}/members/",
        {"external_id": "shop-42", "email": "kim@example.com", "name": "Kim"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= MEMBER_FIELDS
    assert body["external_id"] == "shop-42"
    assert body["status"] == "active"
    assert (body["balance"], body["pending_points"], body["reserved_points"]) == (0, 0, 0)
    assert len(body["card_id"]) == 19  # four groups of four, dashed: as printed on the card


def test_enrolling_twice_is_member_already_enrolled(api, program):
    post(api, f"/api/v1/programs/{program.pk}/members/", {"external_id": "dup"})

    response = post(api, f"/api/v1/programs/{program.pk}/members/", {"external_id": "dup"})

    assert_problem(response, 409, "MEMBER_ALREADY_ENROLLED")
    assert Member.objects.filter(program=program).count() == 1


def test_members_filter_by_external_id_card_id_and_status(api, program):
    first = MemberFactory(program=program)
    second = MemberFactory(program=program, status=Member.Status.SUSPENDED)
    url = f"/api/v1/programs/{program.pk}/members/"

    by_external = api.get(url, {"external_id": first.customer.external_id}).json()["results"]
    by_card = api.get(url, {"card_id": second.card_id_display.lower()}).json()["results"]
    by_status = api.get(url, {"status": "suspended"}).json()["results"]

    assert [m["id"] for m in by_external] == [first.pk]
    assert [m["id"] for m in by_card] == [second.pk]
    assert [m["id"] for m in by_status] == [second.pk]
    assert_problem(api.get(url, {"status": "sleeping"}), 400, "VALIDATION_ERROR", "status")


def test_member_detail_by_id_or_card_id(api, member):
    base = f"/api/v1/programs/{member.program_id}/members"
    assert api.get(f"{base}/{member.pk}/").json()["card_id"] == member.card_id_display
    assert api.get(f"{base}/{member.card_id_display}/").json()["id"] == member.pk
    assert_problem(api.get(f"{base}/999999/"), 404, "MEMBER_NOT_FOUND")


def test_status_transitions(api, member):
    base = f"/api/v1/programs/{member.program_id}/members/{member.pk}"

    assert post(api, f"{base}/suspend/").json()["status"] == "suspended"
    assert_problem(
        post(api, f"{base}/earn/", {"points": 5, "reason": "x"}), 422, "MEMBER_INACTIVE"
    )
    assert post(api, f"{base}/reactivate/").json()["status"] == "active"
    assert post(api, f"{base}/deactivate/").json()["status"] == "inactive"
    assert_problem(post(api, f"{base}/suspend/"), 422, "INVALID_STATUS_TRANSITION", "status")
    assert post(api, f"{base}/reactivate/").json()["status"] == "active"


def test_earn_and_adjust_answer_the_entry_and_the_member(api, member, clock):
    base = f"/api/v1/programs/{member.program_id}/members/{member.pk}"

    earned = post(api, f"{base}/earn/", {"points": 100, "reason": "Survey", "reference": "s-1"})
    adjusted = post(api, f"{base}/adjust/", {"points": -30, "reason": "Correction"})

    assert earned.status_code == 201
    assert earned.json()["entry"]["points"] == 100
    assert earned.json()["entry"]["reference"] == "s-1"
    assert adjusted.json()["entry"]["balance_after"] == 70
    assert adjusted.json()["member"]["balance"] == 70
    assert adjusted.json()["member"]["lifetime_points"] == 100


def test_adjust_beyond_balance_is_insufficient_points(api, member):
    response = post(
        api, f"/api/v1/programs/{member.program_id}/members/{member.pk}/adjust/",
        {"points": -1, "reason": "oops"},
    )
    assert_problem(response, 422, "INSUFFICIENT_POINTS", "points")


def test_transactions_are_newest_first_and_paginated(api, member, clock):
    for n in range(1, 8):
        clock.advance(minutes=1)
        ledger.points_credit(member=member, points=n, actor="test")
    url = f"/api/v1/programs/{member.program_id}/members/{member.pk}/transactions/"

    first = api.get(url, {"page_size": 5}).json()
    second = api.get(first["next"]).json()

    assert [e["points"] for e in first["results"]] == [7, 6, 5, 4, 3]
    assert [e["points"] for e in second["results"]] == [2, 1]
    assert second["next"] is None
    entry = first["results"][0]
    assert {"id", "kind", "points", "balance_after", "reason", "reference", "created_at"} <= set(
        entry
    )


def test_read_only_key_reads_but_cannot_write(read_only_api, member):
    base = f"/api/v1/programs/{member.program_id}/members/{member.pk}"
    assert read_only_api.get(f"{base}/").status_code == 200
    assert_problem(
        post(read_only_api, f"{base}/earn/", {"points": 1, "reason": "x"}), 403,
        "PERMISSION_DENIED",
    )


@pytest.mark.parametrize("header", [None, "Api-Key nope.nope", "Bearer abc", "Api-Key "])
def test_missing_or_bad_key_is_authentication_failed(client, program, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/api/v1/programs/", **extra)
    assert_problem(response, 401, "AUTHENTICATION_FAILED")


def test_revoked_key_is_refused(api, merchant):
    from members.models import MerchantAPIKey

    MerchantAPIKey.objects.filter(merchant=merchant).update(revoked=True)
    assert_problem(api.get("/api/v1/programs/"), 401, "AUTHENTICATION_FAILED")


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/programs/{program}/members/{member}/earn/" in schema.content
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "googleapis"):
        assert cdn not in html


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_expired_key_is_refused(api, merchant, clock):
    from datetime import timedelta

    from django.utils import timezone

    from members.models import MerchantAPIKey

    MerchantAPIKey.objects.filter(merchant=merchant).update(
        expiry_date=timezone.now() - timedelta(minutes=1)
    )
    assert_problem(api.get("/api/v1/programs/"), 401, "AUTHENTICATION_FAILED")


def test_inactive_merchant_key_is_refused(api, merchant):
    merchant.is_active = False
    merchant.save()
    assert_problem(api.get("/api/v1/programs/"), 401, "AUTHENTICATION_FAILED")
