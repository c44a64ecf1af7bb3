"""The rewards REST API: catalog CRUD, validate / reserve / confirm / release, vouchers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from members.models import Member
from rewards.models import Redemption, Reward, Voucher
from tests.api.helpers import assert_problem, patch, post

from .conftest import fund
from .factories import RewardFactory

pytestmark = pytest.mark.django_db


def _p(program) -> str:
    return f"/api/v1/programs/{program.pk}"


def _reserve(api, member, reward, **extra):
    return post(api, f"{_p(member.program)}/redemptions/",
                {"member": str(member.pk), "reward": reward.pk, **extra})


# --- catalog ---------------------------------------------------------------------------------


def test_an_owner_key_creates_lists_updates_and_deletes_rewards(api, program, tiers):
    silver, _ = tiers
    created = post(api, f"{_p(program)}/rewards/", {
        "name": "10% off", "points_cost": 300, "kind": "percent_discount", "value": "10",
        "stock": 50, "per_member_limit": 2, "min_tier": silver.pk,
        "image_url": "https://img.example.com/10.png",
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["min_tier"] == {"id": silver.pk, "name": "Silver"}
    assert (body["stock"], body["value"], body["voucher_valid_days"]) == (50, "10.00", 90)

    listed = api.get(f"{_p(program)}/rewards/?kind=percent_discount")
    assert [r["id"] for r in listed.json()["results"]] == [body["id"]]

    url = f"{_p(program)}/rewards/{body['id']}/"
    changed = patch(api, url, {"stock": 10, "min_tier": None})
    assert (changed.json()["stock"], changed.json()["min_tier"]) == (10, None)

    assert api.delete(url).status_code == 204
    assert_problem(api.get(url), 404, "REWARD_NOT_FOUND")
    assert api.get(f"{_p(program)}/rewards/").json()["results"] == []
    assert Reward.objects.get(pk=body["id"]).deleted_at is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points_cost": 10}, "name"),
        ({"name": "x"}, "points_cost"),
        ({"name": "x", "points_cost": 0}, "points_cost"),
        ({"name": "x", "points_cost": "many"}, "points_cost"),
        ({"name": "x", "points_cost": 2**31}, "points_cost"),
        ({"name": " ", "points_cost": 10}, "name"),
        ({"name": "x", "points_cost": 10, "kind": "cash"}, "kind"),
        ({"name": "x", "points_cost": 10, "kind": "percent_discount", "value": "120"}, "value"),
        ({"name": "x", "points_cost": 10, "kind": "fixed_discount"}, "value"),
        ({"name": "x", "points_cost": 10, "kind": "fixed_discount", "value": "1.005"}, "value"),
        ({"name": "x", "points_cost": 10, "value": "-1"}, "value"),
        ({"name": "x", "points_cost": 10, "stock": -1}, "stock"),
        ({"name": "x", "points_cost": 10, "per_member_limit": 0}, "per_member_limit"),
        ({"name": "x", "points_cost": 10, "image_url": "javascript:alert(1)"}, "image_url"),
        ({"name": "x", "points_cost": 10, "starts_at": "soon"}, "starts_at"),
        ({"name": "x", "points_cost": 10, "starts_at": "2026-02-01T00:00:00Z",
          "ends_at": "2026-01-01T00:00:00Z"}, "ends_at"),
        ({"name": "x", "points_cost": 10, "voucher_valid_days": 0}, "voucher_valid_days"),
        ({"name": "x", "points_cost": 10, "colour": "red"}, "colour"),
    ],
)
def test_creating_a_reward_rejects_bad_input(api, program, body, field):
    # A value that breaks the kind's rule (a percent over 100, a discount without money, more
    # decimals than the currency has, a window ending before it starts) is well-formed: 422.
    semantic = body.get("kind") in ("percent_discount", "fixed_discount") or "ends_at" in body
    status, code = (422, "INVALID_VALUE") if semantic else (400, "VALIDATION_ERROR")
    assert_problem(post(api, f"{_p(program)}/rewards/", body), status, code, field)
    assert not Reward.objects.exists()


def test_a_reward_cannot_require_a_tier_of_another_merchant(api, program, other_program):
    from tiers.models import Tier

    foreign = Tier.objects.create(
        merchant=other_program.merchant, program=other_program, name="Gold", rank=1
    )
    response = post(api, f"{_p(program)}/rewards/",
                    {"name": "x", "points_cost": 10, "min_tier": foreign.pk})
    assert_problem(response, 404, "TIER_NOT_FOUND", "min_tier")
    assert not Reward.objects.exists()


def test_patch_rejects_bad_input_and_changes_nothing(api, reward):
    url = f"{_p(reward.program)}/rewards/{reward.pk}/"
    assert_problem(patch(api, url, {}), 400, "VALIDATION_ERROR", "body")
    assert_problem(patch(api, url, {"points_cost": -3}), 400, "VALIDATION_ERROR", "points_cost")
    assert_problem(patch(api, url, {"kind": "fixed_discount"}), 422, "INVALID_VALUE", "value")
    assert Reward.objects.get(pk=reward.pk).points_cost == 100


@pytest.mark.parametrize("ident", ["999999", "abc", "-1", "1" * 30])
def test_unknown_reward_ids_are_reward_not_found(api, program, ident):
    assert_problem(api.get(f"{_p(program)}/rewards/{ident}/"), 404, "REWARD_NOT_FOUND")


def test_another_merchants_rewards_are_not_found_anywhere(api, program, other_reward):
    url = f"{_p(program)}/rewards/{other_reward.pk}/"
    assert_problem(api.get(url), 404, "REWARD_NOT_FOUND")
    assert_problem(patch(api, url, {"points_cost": 1}), 404, "REWARD_NOT_FOUND")
    assert_problem(api.delete(url), 404, "REWARD_NOT_FOUND")
    foreign_program_url = f"{_p(other_reward.program)}/rewards/{other_reward.pk}/"
    assert_problem(api.get(foreign_program_url), 404, "NOT_FOUND")
    assert_problem(api.get(f"{_p(other_reward.program)}/rewards/"), 404, "NOT_FOUND")
    assert Reward.objects.get(pk=other_reward.pk).points_cost == 100
    assert Reward.objects.get(pk=other_reward.pk).deleted_at is None


def test_a_read_only_key_reads_the_catalog_but_cannot_change_it(read_only_api, reward):
    url = f"{_p(reward.program)}/rewards/"
    assert read_only_api.get(url).status_code == 200
    assert_problem(post(read_only_api, url, {"name": "x", "points_cost": 1}), 403,
                   "PERMISSION_DENIED")


# --- reserve / confirm / release -------------------------------------------------------------


def test_reserve_then_confirm_issues_a_voucher(api, funded, reward, clock):
    reserved = _reserve(api, funded, reward)
    assert reserved.status_code == 201, reserved.content
    body = reserved.json()
    assert (body["status"], body["points"], body["kind"]) == ("reserved", 100, "reward")
    assert body["member"]["card_id"] == funded.card_id_display
    assert body["voucher"] is None
    assert Member.objects.get(pk=funded.pk).reserved_points == 100

    url = f"{_p(funded.program)}/redemptions/{body['id']}/confirm/"
    confirmed = post(api, url, {"order_id": "A-1"})
    assert confirmed.status_code == 200, confirmed.content
    voucher = confirmed.json()["voucher"]
    assert confirmed.json()["status"] == "confirmed"
    assert voucher["status"] == "issued"
    assert len(voucher["code"]) == 14
    assert voucher["code"][4::5] == "--"

    again = post(api, url, {"order_id": "A-1"})
    assert again.status_code == 200
    assert again.json() == confirmed.json()


def test_members_can_be_named_by_card_id_or_external_id(api, funded, reward):
    program = funded.program
    by_card = post(api, f"{_p(program)}/redemptions/",
                   {"card_id": funded.card_id.lower(), "reward": reward.pk})
    by_external = post(api, f"{_p(program)}/redemptions/",
                       {"external_id": funded.customer.external_id, "reward": reward.pk})
    by_member_card = post(api, f"{_p(program)}/redemptions/",
                          {"member": funded.card_id, "reward": reward.pk})
    assert [r.status_code for r in (by_card, by_external, by_member_card)] == [201, 201, 201]


def test_release_gives_the_points_back_and_twice_is_the_same(api, funded, reward):
    body = _reserve(api, funded, reward).json()
    url = f"{_p(funded.program)}/redemptions/{body['id']}/release/"

    first = post(api, url)
    second = post(api, url)

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "released"
    assert Member.objects.get(pk=funded.pk).balance == 1000
    confirm = post(api, f"{_p(funded.program)}/redemptions/{body['id']}/confirm/")
    assert_problem(confirm, 422, "REDEMPTION_RELEASED")


def test_releasing_a_confirmed_redemption_is_refused(api, funded, reward):
    body = _reserve(api, funded, reward).json()
    base = f"{_p(funded.program)}/redemptions/{body['id']}"
    post(api, f"{base}/confirm/")
    assert_problem(post(api, f"{base}/release/"), 422, "REDEMPTION_CONFIRMED")


def test_confirm_after_the_ttl_is_gone(api, funded, reward, clock):
    body = _reserve(api, funded, reward).json()
    clock.advance(minutes=16)

    response = post(api, f"{_p(funded.program)}/redemptions/{body['id']}/confirm/")

    assert_problem(response, 410, "REDEMPTION_EXPIRED")
    assert not Voucher.objects.exists()


def test_points_as_a_discount_answer_money_and_limits(api, funded):
    program = funded.program
    response = post(api, f"{_p(program)}/redemptions/", {
        "member": str(funded.pk), "points": 250, "order_amount": "12.34", "currency": "EUR",
        "order_id": "web-77",
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["discount_amount"], body["currency"]) == ("discount", "2.50",
                                                                         "EUR")
    assert (body["min_points"], body["max_points_for_order"]) == (0, 1234)
    assert body["order_id"] == "web-77"


def test_validate_answers_what_would_be_held_and_writes_nothing(api, funded, reward):
    from tests.api.helpers import snapshot

    before = snapshot()
    url = f"{_p(funded.program)}/redemptions/validate/"

    on_reward = post(api, url, {"member": str(funded.pk), "reward": reward.pk},
                     **{"Idempotency-Key": "v-1"})
    on_order = post(api, url, {"member": str(funded.pk), "points": 300, "order_amount": "3.00"})

    assert on_reward.status_code == 200, on_reward.content
    assert on_reward.json()["ok"] is True
    assert (on_reward.json()["points"], on_reward.json()["reward"]["id"]) == (100, reward.pk)
    assert on_order.status_code == 200
    assert on_order.json()["discount_amount"] == "3.00"
    assert (on_order.json()["max_points"], on_order.json()["max_points_for_order"]) == (300, 300)
    assert snapshot() == before
    assert not Redemption.objects.exists()


def test_validate_fails_with_the_same_codes_as_the_real_call(api, member, program):
    fund(member, 50)
    reward = RewardFactory(program=program, points_cost=100)
    body = {"member": str(member.pk), "reward": reward.pk}
    base = f"{_p(program)}/redemptions/"

    dry = post(api, f"{base}validate/", body)
    real = post(api, base, body)

    assert_problem(dry, 422, "INSUFFICIENT_POINTS")
    assert_problem(real, 422, "INSUFFICIENT_POINTS")
    assert dry.json()["code"] == real.json()["code"]
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("path", ["", "validate/"])
def test_every_redemption_failure_has_its_code(api, path, member, program, tiers, clock):
    from members.services import member_set_status

    silver, _ = tiers
    member = fund(member, 500)
    url = f"{_p(program)}/redemptions/{path}"
    ident = {"member": str(member.pk)}
    cases = [
        (RewardFactory(program=program, points_cost=600), 422, "INSUFFICIENT_POINTS"),
        (RewardFactory(program=program, stock=0), 422, "REWARD_UNAVAILABLE"),
        (RewardFactory(program=program, is_active=False), 422, "REWARD_UNAVAILABLE"),
        (RewardFactory(program=program, min_tier=silver), 422, "REWARD_UNAVAILABLE"),
        (RewardFactory(program=program, starts_at=clock.now() + timedelta(days=1)), 422,
         "REWARD_UNAVAILABLE"),
    ]
    for reward, status, code in cases:
        assert_problem(post(api, url, {**ident, "reward": reward.pk}), status, code)
    program.min_redeem_points = 100
    program.max_redeem_percent = 50
    program.save()
    order = {**ident, "order_amount": "2.00"}
    assert_problem(post(api, url, {**order, "points": 99}), 422, "REDEEM_BELOW_MINIMUM")
    assert_problem(post(api, url, {**order, "points": 101}), 422, "REDEEM_ABOVE_MAXIMUM")
    assert_problem(post(api, url, {**order, "points": 100, "currency": "USD"}), 422,
                   "CURRENCY_MISMATCH")
    assert_problem(post(api, url, {**ident, "reward": 10**9}), 404, "REWARD_NOT_FOUND")
    assert_problem(post(api, url, {"member": "999999", "points": 1, "order_amount": "1"}), 404,
                   "MEMBER_NOT_FOUND")
    member_set_status(member=member, status=Member.Status.SUSPENDED)
    assert_problem(post(api, url, {**order, "points": 100}), 422, "MEMBER_INACTIVE")
    assert not Redemption.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reward": 1}, "member"),
        ({"member": "1"}, "reward"),
        ({"member": "1", "reward": 1, "points": 5}, "reward"),
        ({"member": "1", "points": 5}, "order_amount"),
        ({"member": "1", "points": 0, "order_amount": "1"}, "points"),
        ({"member": "1", "points": "lots", "order_amount": "1"}, "points"),
        ({"member": "1", "points": 2**31, "order_amount": "1"}, "points"),
        ({"member": "1", "points": 5, "order_amount": "-1"}, "order_amount"),
        ({"member": "1", "points": 5, "order_amount": "abc"}, "order_amount"),
        ({"member": "1", "points": 5, "order_amount": "1e40"}, "order_amount"),
        ({"member": "1", "points": 5, "order_amount": "1", "currency": "EURO"}, "currency"),
        ({"member": "1", "reward": "x"}, "reward"),
        ({"member": "1", "reward": 1, "order_amount": "5"}, "order_amount"),
        ({"member": "1", "reward": 1, "order_id": "x" * 200}, "order_id"),
        ({"member": "1", "reward": 1, "tip": 5}, "tip"),
    ],
)
@pytest.mark.parametrize("path", ["", "validate/"])
def test_reserve_and_validate_reject_bad_input(api, funded, program, path, body, field):
    response = post(api, f"{_p(program)}/redemptions/{path}", body)
    assert_problem(response, 400, "VALIDATION_ERROR", field)
    assert not Redemption.objects.exists()


def test_a_malformed_body_is_bad_input(api, program):
    response = api.post(f"{_p(program)}/redemptions/", data="{not json",
                        content_type="application/json")
    assert_problem(response, 400, "VALIDATION_ERROR")


def test_another_merchants_members_rewards_and_redemptions_are_not_found(
    api, other_api, funded, reward, other_member, other_reward, program
):
    fund(other_member, 1000)
    theirs = _reserve(other_api, other_member, other_reward).json()
    mine = _reserve(api, funded, reward).json()
    before = list(Redemption.objects.values_list("id", "status"))
    url = f"{_p(program)}/redemptions/"

    assert_problem(post(api, url, {"member": str(other_member.pk), "reward": reward.pk}), 404,
                   "MEMBER_NOT_FOUND")
    assert_problem(post(api, url, {"member": str(funded.pk), "reward": other_reward.pk}), 404,
                   "REWARD_NOT_FOUND")
    for action in ("", "confirm/", "release/"):
        target = f"{url}{theirs['id']}/{action}"
        response = api.get(target) if not action else post(api, target)
        assert_problem(response, 404, "REDEMPTION_NOT_FOUND")
        foreign_program = f"{_p(other_member.program)}/redemptions/{theirs['id']}/{action}"
        response = api.get(foreign_program) if not action else post(api, foreign_program)
        assert_problem(response, 404, "NOT_FOUND")
    assert [r["id"] for r in api.get(url).json()["results"]] == [mine["id"]]
    assert list(Redemption.objects.values_list("id", "status")) == before


@pytest.mark.parametrize("ident", ["0", "abc", "99999999", "1" * 40])
def test_unknown_redemption_ids_are_not_found(api, program, ident):
    base = f"{_p(program)}/redemptions/{ident}/"
    assert_problem(api.get(base), 404, "REDEMPTION_NOT_FOUND")
    assert_problem(post(api, f"{base}confirm/"), 404, "REDEMPTION_NOT_FOUND")
    assert_problem(post(api, f"{base}release/"), 404, "REDEMPTION_NOT_FOUND")


def test_confirm_and_release_reject_bad_input(api, funded, reward):
    body = _reserve(api, funded, reward).json()
    base = f"{_p(funded.program)}/redemptions/{body['id']}"
    assert_problem(post(api, f"{base}/confirm/", {"order_id": "x" * 200}), 400,
                   "VALIDATION_ERROR", "order_id")
    assert_problem(post(api, f"{base}/confirm/", {"coupon": 1}), 400, "VALIDATION_ERROR",
                   "coupon")
    assert_problem(post(api, f"{base}/release/", {"why": "x"}), 400, "VALIDATION_ERROR", "why")
    assert Redemption.objects.get().status == "reserved"


def test_redemptions_list_filters(api, funded, reward, program, clock):
    a = _reserve(api, funded, reward).json()
    b = _reserve(api, funded, reward).json()
    post(api, f"{_p(program)}/redemptions/{b['id']}/confirm/")
    c = post(api, f"{_p(program)}/redemptions/",
             {"member": str(funded.pk), "points": 10, "order_amount": "5", "order_id": "o-9"})
    url = f"{_p(program)}/redemptions/"

    def ids(query: str) -> list[int]:
        response = api.get(f"{url}?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("status=confirmed") == [b["id"]]
    assert ids("kind=discount") == [c.json()["id"]]
    assert ids("order_id=o-9") == [c.json()["id"]]
    assert ids(f"reward={reward.pk}") == [b["id"], a["id"]]
    assert ids(f"card_id={funded.card_id}") == [c.json()["id"], b["id"], a["id"]]
    assert ids("member=999999") == []
    assert_problem(api.get(f"{url}?status=bogus"), 400, "VALIDATION_ERROR", "status")
    assert_problem(api.get(f"{url}?created_after=yesterday"), 400, "VALIDATION_ERROR")


def test_a_reserve_retried_with_the_same_idempotency_key_holds_once(api, funded, reward):
    first = post(
        api, f"{_p(funded.program)}/redemptions/",
        {"member": str(funded.pk), "reward": reward.pk}, **{"Idempotency-Key": "k-1"},
    )
    second = post(
        api, f"{_p(funded.program)}/redemptions/",
        {"member": str(funded.pk), "reward": reward.pk}, **{"Idempotency-Key": "k-1"},
    )
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert Redemption.objects.count() == 1
    assert Member.objects.get(pk=funded.pk).balance == 900


# --- vouchers --------------------------------------------------------------------------------


def _voucher_code(api, member, reward) -> str:
    body = _reserve(api, member, reward).json()
    confirmed = post(api, f"{_p(member.program)}/redemptions/{body['id']}/confirm/")
    return confirmed.json()["voucher"]["code"]


def test_a_voucher_is_looked_up_in_any_form_and_used_once(api, funded, reward, clock):
    code = _voucher_code(api, funded, reward)
    base = f"{_p(funded.program)}/vouchers"

    looked_up = api.get(f"{base}/{code.lower().replace('-', '')}/")
    assert looked_up.status_code == 200
    assert (looked_up.json()["code"], looked_up.json()["status"]) == (code, "issued")

    used = post(api, f"{base}/{code}/use/", {"reference": "till-2"})
    assert used.status_code == 200, used.content
    assert (used.json()["status"], used.json()["used_reference"]) == ("used", "till-2")

    assert_problem(post(api, f"{base}/{code}/use/"), 422, "VOUCHER_ALREADY_USED")
    assert [v["code"] for v in api.get(f"{base}/?status=used").json()["results"]] == [code]


def test_an_expired_voucher_is_gone(api, funded, reward, clock):
    code = _voucher_code(api, funded, reward)
    clock.advance(days=91)
    assert_problem(post(api, f"{_p(funded.program)}/vouchers/{code}/use/"), 410,
                   "VOUCHER_EXPIRED")
    assert Voucher.objects.get().status == "issued"


def test_vouchers_of_another_merchant_are_not_found(
    api, other_api, program, other_member, other_reward
):
    fund(other_member, 1000)
    code = _voucher_code(other_api, other_member, other_reward)
    base = f"{_p(program)}/vouchers/{code}/"

    assert_problem(api.get(base), 404, "VOUCHER_NOT_FOUND")
    assert_problem(post(api, f"{base}use/"), 404, "VOUCHER_NOT_FOUND")
    assert api.get(f"{_p(program)}/vouchers/").json()["results"] == []
    assert Voucher.objects.get().status == "issued"


@pytest.mark.parametrize("code", ["nope", "0000-0000-0000", "x" * 300])
def test_unknown_voucher_codes_are_not_found(api, program, code):
    assert_problem(api.get(f"{_p(program)}/vouchers/{code}/"), 404, "VOUCHER_NOT_FOUND")
    assert_problem(post(api, f"{_p(program)}/vouchers/{code}/use/"), 404, "VOUCHER_NOT_FOUND")


def test_voucher_use_rejects_bad_input(api, funded, reward):
    code = _voucher_code(api, funded, reward)
    url = f"{_p(funded.program)}/vouchers/{code}/use/"
    assert_problem(post(api, url, {"reference": "x" * 200}), 400, "VALIDATION_ERROR", "reference")
    assert_problem(post(api, url, {"till": 1}), 400, "VALIDATION_ERROR", "till")
    assert Voucher.objects.get().status == "issued"


def test_the_schema_documents_the_rewards_endpoints(api):
    from django.test import Client

    schema = Client().get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/v1/programs/{program}/redemptions/{redemption}/confirm/" in paths
    assert "/api/v1/programs/{program}/vouchers/{code}/use/" in paths


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(api, funded, reward):
    url = f"{_p(funded.program)}/redemptions/"
    post(api, url, {"member": str(funded.pk), "reward": reward.pk}, **{"Idempotency-Key": "k"})

    response = post(api, url, {"member": str(funded.pk), "points": 5, "order_amount": "1"},
                    **{"Idempotency-Key": "k"})

    assert_problem(response, 422, "IDEMPOTENCY_CONFLICT")
    assert Redemption.objects.count() == 1


def test_a_rejection_is_replayed_for_the_same_key(api, member, reward):
    url = f"{_p(member.program)}/redemptions/"
    body = {"member": str(member.pk), "reward": reward.pk}

    first = post(api, url, body, **{"Idempotency-Key": "poor"})
    fund(member, 500)
    second = post(api, url, body, **{"Idempotency-Key": "poor"})

    assert_problem(first, 422, "INSUFFICIENT_POINTS")
    assert_problem(second, 422, "INSUFFICIENT_POINTS")
    assert not Redemption.objects.exists()


def test_the_roles_get_the_rewards_permissions(owner_user, manager_user):
    owner = {p for p in owner_user.get_all_permissions() if p.startswith("rewards.")}
    manager = {p for p in manager_user.get_all_permissions() if p.startswith("rewards.")}
    assert {"rewards.add_reward", "rewards.change_reward", "rewards.release_redemption",
            "rewards.use_voucher"} <= owner
    assert manager == {
        "rewards.view_reward", "rewards.view_redemption", "rewards.change_redemption",
        "rewards.release_redemption", "rewards.view_voucher", "rewards.change_voucher",
        "rewards.use_voucher",
    }
