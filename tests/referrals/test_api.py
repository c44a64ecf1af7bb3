"""The referrals API: codes, attribution at checkout and at enrolment, lists and filters,
approve and reject, settings; problem documents, idempotency, and another merchant's ids."""

from __future__ import annotations

import pytest

from referrals import services
from referrals.models import Referral, ReferralCode, ReferralSettings
from tests.api.helpers import assert_problem, patch, post
from tests.rewards.factories import RewardFactory

from ..factories import MemberFactory
from .conftest import referral_of, terms

pytestmark = pytest.mark.django_db


def base(program) -> str:
    return f"/api/v1/programs/{program.pk}/"


# -- codes -------------------------------------------------------------------------------------


def test_a_members_code_is_created_once_and_answered_after(api, program, referrer, clock):
    url = f"{base(program)}members/{referrer.pk}/referral-code/"
    assert_problem(api.get(url), 404, "REFERRAL_CODE_NOT_FOUND")

    first = post(api, url)
    again = post(api, url)
    read = api.get(url)

    assert (first.status_code, again.status_code, read.status_code) == (201, 200, 200)
    body = first.json()
    assert again.json() == body == read.json()
    assert body["share_url"] == f"http://testserver/r/{body['code']}/"
    assert (body["member"], body["is_active"]) == (referrer.pk, True)


def test_a_code_by_card_id_and_regenerate_and_deactivate(api, program, referrer, code):
    url = f"{base(program)}members/{referrer.card_id_display}/referral-code/"

    regenerated = post(api, f"{url}regenerate/")
    assert regenerated.status_code == 201
    new_code = regenerated.json()["code"]
    assert new_code != code.code
    assert api.get(url).json()["code"] == new_code

    deactivated = post(api, f"{url}deactivate/")
    assert deactivated.status_code == 200
    assert (deactivated.json()["code"], deactivated.json()["is_active"]) == (new_code, False)
    assert post(api, url).json()["is_active"] is False  # stays off


def test_code_writes_refuse_a_body(api, program, referrer):
    response = post(api, f"{base(program)}members/{referrer.pk}/referral-code/", {"x": 1})
    assert_problem(response, 400, "VALIDATION_ERROR", field="x")
    assert not ReferralCode.objects.exists()


def test_a_suspended_member_gets_no_code(api, program, referrer, clock):
    from members.services import member_set_status

    member_set_status(member=referrer, status="suspended", clock=clock)
    response = post(api, f"{base(program)}members/{referrer.pk}/referral-code/")
    assert_problem(response, 422, "MEMBER_INACTIVE")


# -- attribution at checkout -------------------------------------------------------------------


def test_checkout_attribution_creates_a_pending_referral(api, program, referrer, code, clock):
    response = post(api, f"{base(program)}referrals/",
                    {"code": code.code.lower(), "external_id": "buyer-1", "source": "o-77"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["attributed"], body["reason"]) == (True, None)
    referral = body["referral"]
    assert (referral["status"], referral["channel"], referral["source"], referral["code"]) == (
        "pending", "checkout", "o-77", code.code
    )
    assert referral["referrer"]["id"] == referrer.pk
    assert referral["referee"]["external_id"] == "buyer-1"
    assert referral["rewards"] == []


@pytest.mark.parametrize("code", ["NOPE2345", "nope-2345", "ÆØÅ", "x" * 64])
def test_an_unknown_code_is_answered_not_attributed_never_an_error(api, program, code):
    response = post(api, f"{base(program)}referrals/", {"code": code, "external_id": "b-1"})

    assert response.status_code == 200
    assert response.json() == {
        "attributed": False, "reason": "unknown_code",
        "detail": "No such referral code in this program.", "referral": None,
    }
    assert not Referral.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"external_id": "b-1"}, "code"),
    ({"code": "   ", "external_id": "b-1"}, "code"),
    ({"code": "K7QX9M2P"}, "member"),
    ({"code": "K7QX9M2P", "member": "1", "external_id": "b"}, "external_id"),
    ({"code": "K7QX9M2P", "external_id": "b", "unknown": 1}, "unknown"),
    ({"code": "K7QX9M2P", "external_id": "b", "source": "s" * 129}, "source"),
])
def test_malformed_attributions_are_400_naming_the_field(api, program, body, field):
    assert_problem(post(api, f"{base(program)}referrals/", body), 400, "VALIDATION_ERROR",
                   field=field)


def test_guards_answer_problem_documents(api, program, referrer, code, friend, clock):
    url = f"{base(program)}referrals/"
    body = assert_problem(post(api, url, {"code": code.code, "member": str(referrer.pk)}),
                          422, "SELF_REFERRAL", field="code")
    assert body["rule"] == "same_member"
    body = assert_problem(post(api, url, {"code": code.code, "card_id": friend.card_id}),
                          409, "DUPLICATE_REFERRAL", field="member")
    assert body["referral"] == referral_of(friend).pk
    assert_problem(post(api, url, {"code": code.code, "member": "999999"}), 404,
                   "MEMBER_NOT_FOUND")
    terms(program, limit_count=1)
    body = assert_problem(post(api, url, {"code": code.code, "external_id": "b-2"}), 429,
                          "REFERRAL_LIMIT_EXCEEDED", field="code")
    assert (body["limit"], body["period_days"]) == (1, 30)
    assert Referral.objects.count() == 1


def test_an_attribution_replays_with_its_idempotency_key(api, program, code):
    url = f"{base(program)}referrals/"
    body = {"code": code.code, "external_id": "b-1", "source": "o-1"}

    first = post(api, url, body, **{"Idempotency-Key": "att-1"})
    again = post(api, url, body, **{"Idempotency-Key": "att-1"})
    other = post(api, url, {**body, "external_id": "b-2"}, **{"Idempotency-Key": "att-1"})
    without = post(api, url, body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "IDEMPOTENCY_CONFLICT")
    assert_problem(without, 409, "DUPLICATE_REFERRAL")
    assert Referral.objects.count() == 1


def test_a_refused_attribution_is_the_keys_outcome_and_writes_nothing(api, program, referrer,
                                                                      code):
    url = f"{base(program)}referrals/"
    body = {"code": code.code, "member": str(referrer.pk)}
    first = post(api, url, body, **{"Idempotency-Key": "k"})
    again = post(api, url, body, **{"Idempotency-Key": "k"})

    assert_problem(first, 422, "SELF_REFERRAL")
    assert again.json() == first.json()
    assert not Referral.objects.exists()


# -- attribution at enrolment --------------------------------------------------------------------


def test_enrolment_with_a_referral_code_is_attributed(api, program, referrer, code):
    response = post(api, f"{base(program)}members/",
                    {"external_id": "new-1", "email": "new@example.com",
                     "referral_code": code.code})

    assert response.status_code == 201, response.content
    body = response.json()
    referral = Referral.objects.get()
    assert body["referral"] == {"attributed": True, "reason": None, "detail": None,
                                "referral": referral.pk, "status": "pending"}
    assert (referral.referee_id, referral.channel, referral.actor) == (
        body["id"], "enrolment", f"api-key:{api.raw_key.split('.')[0]}"
    )


def test_enrolment_with_a_bad_code_still_enrols(api, program, referrer, code):
    response = post(api, f"{base(program)}members/",
                    {"external_id": "new-1", "referral_code": "NOPE2345"})

    assert response.status_code == 201
    assert response.json()["referral"]["reason"] == "unknown_code"


def test_enrolment_refused_by_a_guard_still_enrols_and_says_why(api, program, code):
    response = post(api, f"{base(program)}members/",
                    {"external_id": "c-100", "email": "x@example.com",
                     "referral_code": code.code})

    assert response.status_code == 201
    assert response.json()["referral"]["reason"] == "self_referral"
    assert not Referral.objects.exists()


def test_enrolment_without_a_code_answers_as_before(api, program):
    response = post(api, f"{base(program)}members/", {"external_id": "new-1"})
    assert response.status_code == 201
    assert "referral" not in response.json()


# -- lists, detail, review ---------------------------------------------------------------------


@pytest.fixture
def several(program, referrer, code, join, buy, clock):
    """Three referrals: one pending, one rewarded, one rejected (a day apart)."""
    pending, _ = join("F-1")
    clock.advance(days=1)
    rewarded, _ = join("F-2")
    buy(rewarded, "30.00", order_id="sale-2")
    clock.advance(days=1)
    rejected, _ = join("F-3")
    services.referral_reject(referral=referral_of(rejected), actor="s", reason="No",
                             clock=clock)
    return [referral_of(m) for m in (pending, rewarded, rejected)]


def test_the_list_is_newest_first_and_filters(api, program, referrer, several, clock):
    url = f"{base(program)}referrals/"
    ids = [r.pk for r in several]

    assert [r["id"] for r in api.get(url).json()["results"]] == ids[::-1]
    assert [r["id"] for r in api.get(url, {"status": "rewarded"}).json()["results"]] == [ids[1]]
    assert len(api.get(url, {"referrer": referrer.pk}).json()["results"]) == 3
    assert api.get(url, {"referrer": referrer.pk + 999}).json()["results"] == []
    assert len(api.get(url, {"referrer_card_id": referrer.card_id_display}).json()["results"]) == 3
    after = several[1].created_at.isoformat()
    assert [r["id"] for r in api.get(url, {"created_after": after}).json()["results"]] == [
        ids[2], ids[1]
    ]
    assert [r["id"] for r in api.get(url, {"created_before": after}).json()["results"]] == [
        ids[0]
    ]
    rewarded = api.get(url, {"status": "rewarded"}).json()["results"][0]
    assert rewarded["order_id"] == "sale-2"
    assert {r["side"] for r in rewarded["rewards"]} == {"referrer", "referee"}


@pytest.mark.parametrize("query", [
    {"status": "nope"}, {"referrer": "abc"}, {"referrer": "١٢"}, {"referrer": "1.5"},
    {"created_after": "yesterday"}, {"channel": "x"},
])
def test_an_invalid_filter_is_400_naming_the_parameter(api, program, query):
    response = api.get(f"{base(program)}referrals/", query)
    assert_problem(response, 400, "VALIDATION_ERROR", field=next(iter(query)))


def test_a_referral_reads_with_both_members(api, program, referrer, several):
    referral = several[1]
    body = api.get(f"{base(program)}referrals/{referral.pk}/").json()

    assert (body["referrer"]["card_id"], body["referee"]["card_id"]) == (
        referrer.card_id_display, referral.referee.card_id_display
    )
    assert_problem(api.get(f"{base(program)}referrals/999999/"), 404, "REFERRAL_NOT_FOUND")
    assert_problem(api.get(f"{base(program)}referrals/abc/"), 404, "REFERRAL_NOT_FOUND")


def test_approve_and_reject_over_the_api(api, program, join, buy):
    terms(program, requires_approval=True)
    first, _ = join("F-1")
    second, _ = join("F-2")
    buy(first, "30.00")

    approved = post(api, f"{base(program)}referrals/{referral_of(first).pk}/approve/",
                    {"reason": "ok"})
    rejected = post(api, f"{base(program)}referrals/{referral_of(second).pk}/reject/",
                    {"reason": "Same card on file"})

    assert (approved.status_code, approved.json()["status"]) == (200, "rewarded")
    assert approved.json()["decided_by"].startswith("api-key:")
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == (
        "rejected", "Same card on file"
    )
    # final states refuse the other decision
    assert_problem(post(api, f"{base(program)}referrals/{referral_of(first).pk}/reject/",
                        {"reason": "x"}), 422, "INVALID_STATUS_TRANSITION")
    assert_problem(post(api, f"{base(program)}referrals/{referral_of(second).pk}/reject/",
                        {}), 400, "VALIDATION_ERROR", field="reason")


# -- settings ----------------------------------------------------------------------------------


def test_settings_read_as_defaults_until_changed(api, program):
    body = api.get(f"{base(program)}referral-settings/").json()

    assert body == {
        "program": program.pk, "is_enabled": True, "referrer_reward_kind": "points",
        "referrer_points": 200, "referrer_reward": None, "referee_reward_kind": "points",
        "referee_points": 100, "referee_reward": None, "min_order_amount": "0.00",
        "conversion_window_days": 30, "requires_approval": False, "new_customers_only": True,
        "limit_count": 10, "limit_period_days": 30, "updated_at": None,
    }
    assert not ReferralSettings.objects.exists()


def test_settings_change_field_by_field(api, program):
    mug = RewardFactory(program=program, name="Mug")
    url = f"{base(program)}referral-settings/"

    response = patch(api, url, {"referrer_reward_kind": "reward", "referrer_reward": mug.pk,
                                "min_order_amount": "20.5", "requires_approval": True,
                                "limit_count": None})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["referrer_reward"], body["min_order_amount"], body["limit_count"]) == (
        mug.pk, "20.50", None
    )
    assert patch(api, url, {"referee_points": 50}).json()["referrer_reward"] == mug.pk
    assert ReferralSettings.objects.count() == 1


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({}, 400, "VALIDATION_ERROR", "body"),
    ({"referrer_reward_kind": "reward"}, 422, "INVALID_VALUE", "referrer_reward"),
    ({"referee_points": 0}, 422, "INVALID_VALUE", "referee_points"),
    ({"referrer_reward_kind": "cash"}, 400, "VALIDATION_ERROR", "referrer_reward_kind"),
    ({"min_order_amount": "1.005"}, 422, "INVALID_VALUE", "min_order_amount"),
    ({"conversion_window_days": 0}, 400, "VALIDATION_ERROR", "conversion_window_days"),
    ({"limit_count": 0}, 400, "VALIDATION_ERROR", "limit_count"),
    ({"referrer_reward": 999999}, 404, "REWARD_NOT_FOUND", "referrer_reward"),
    ({"program": 5}, 400, "VALIDATION_ERROR", "program"),
    ({"updated_at": "2026-01-01T00:00:00Z", "referee_points": 5}, 400, "VALIDATION_ERROR",
     "updated_at"),
    ({"wat": 1}, 400, "VALIDATION_ERROR", "wat"),
])
def test_bad_settings_are_refused_naming_the_field(api, program, body, status, code, field):
    response = patch(api, f"{base(program)}referral-settings/", body)
    assert_problem(response, status, code, field=field)
    assert not ReferralSettings.objects.exists()


def test_a_reward_of_another_program_is_not_found(api, program, other_program):
    foreign = RewardFactory(program=other_program)
    response = patch(api, f"{base(program)}referral-settings/",
                     {"referrer_reward_kind": "reward", "referrer_reward": foreign.pk})
    assert_problem(response, 404, "REWARD_NOT_FOUND")


def test_a_read_only_key_reads_but_cannot_write(read_only_api, program, referrer):
    assert read_only_api.get(f"{base(program)}referral-settings/").status_code == 200
    assert_problem(patch(read_only_api, f"{base(program)}referral-settings/",
                         {"referee_points": 5}), 403, "PERMISSION_DENIED")
    assert_problem(post(read_only_api, f"{base(program)}members/{referrer.pk}/referral-code/"),
                   403, "PERMISSION_DENIED")


# -- another merchant's ids --------------------------------------------------------------------

ENDPOINTS = [
    ("get", "members/{member}/referral-code/", None),
    ("post", "members/{member}/referral-code/", {}),
    ("post", "members/{member}/referral-code/regenerate/", {}),
    ("post", "members/{member}/referral-code/deactivate/", {}),
    ("get", "referrals/", None),
    ("post", "referrals/", {"code": "{code}", "external_id": "intruder"}),
    ("get", "referrals/{referral}/", None),
    ("post", "referrals/{referral}/approve/", {}),
    ("post", "referrals/{referral}/reject/", {"reason": "x"}),
    ("get", "referral-settings/", None),
    ("patch", "referral-settings/", {"referee_points": 1}),
]


def _call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return (patch if method == "patch" else post)(client, url, body)


def _fill(text: str, **ids) -> str:
    for name, value in ids.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _world():
    return (
        list(Referral.objects.values_list("id", "status", "decision")),
        list(ReferralCode.objects.values_list("id", "is_active")),
        list(ReferralSettings.objects.values_list("id", "referee_points")),
    )


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_merchants_program_answers_404_and_changes_nothing(
    other_api, program, referrer, code, friend, method, path, body
):
    ids = {"member": referrer.pk, "referral": referral_of(friend).pk, "code": code.code}
    url = base(program) + _fill(path, **ids)
    body = {k: _fill(v, **ids) if isinstance(v, str) else v for k, v in (body or {}).items()} \
        if body is not None else None
    before = _world()

    assert_problem(_call(other_api, method, url, body), 404, "NOT_FOUND")
    assert _world() == before


@pytest.mark.parametrize(("method", "path", "body"),
                         [e for e in ENDPOINTS if "{" in e[1]])
def test_another_merchants_ids_under_my_program_answer_404(
    api, program, other_program, method, path, body, clock
):
    # given: a referral, a code and a member in the other merchant's program
    stranger = MemberFactory(program=other_program)
    their_code, _ = services.referral_code_get_or_create(member=stranger, clock=clock)
    outcome = services.referral_attribute(
        program=other_program, code=their_code.code, referee=MemberFactory(program=other_program),
        channel="checkout", actor="t", clock=clock,
    )
    ids = {"member": stranger.pk, "referral": outcome.referral.pk, "code": their_code.code}
    before = _world()

    response = _call(api, method, base(program) + _fill(path, **ids), body)

    assert response.status_code == 404
    assert response.json()["code"] in {"MEMBER_NOT_FOUND", "REFERRAL_NOT_FOUND"}
    assert _world() == before


def test_another_merchants_code_attributes_nothing_here(api, program, other_program, clock):
    stranger = MemberFactory(program=other_program)
    their_code, _ = services.referral_code_get_or_create(member=stranger, clock=clock)

    response = post(api, f"{base(program)}referrals/",
                    {"code": their_code.code, "external_id": "b-1"})

    assert (response.status_code, response.json()["reason"]) == (200, "unknown_code")


def test_lists_never_show_another_merchants_referrals(api, other_api, program, friend):
    assert other_api.get(f"/api/v1/programs/{program.pk}/referrals/").status_code == 404
    assert len(api.get(f"{base(program)}referrals/").json()["results"]) == 1
