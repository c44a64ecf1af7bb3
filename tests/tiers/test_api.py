"""The tiers and streaks REST contract: shapes, problem documents, idempotency."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_problem, patch, post, snapshot
from tiers.models import StreakPause, Tier, TierChange, TierOverride, TierSettings

from .conftest import fresh

pytestmark = pytest.mark.django_db


def url(program, path: str = "") -> str:
    return f"/api/v1/programs/{program.pk}/{path}"


def test_an_owner_builds_a_ladder_over_the_api(api, program, clock):
    created = post(api, url(program, "tiers/"), {
        "name": "Silver", "rank": 2, "threshold_points": 1000, "earn_multiplier": "1.25",
        "perks": "Free oat milk", "colour": "#8D99A6",
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {
        "id": body["id"], "name": "Silver", "rank": 2, "threshold_points": 1000,
        "threshold_amount": "0.00", "earn_multiplier": "1.250", "perks": "Free oat milk",
        "colour": "#8D99A6", "streak_multiplier": "1.000", "streak_bonus_points": 0,
        "member_count": 0,
    }
    post(api, url(program, "tiers/"), {"name": "Bronze", "rank": 1, "threshold_points": 0})

    listed = api.get(url(program, "tiers/")).json()
    assert [t["name"] for t in listed["results"]] == ["Bronze", "Silver"]
    assert api.get(url(program, "tiers/?name=silver")).json()["count"] == 1

    changed = patch(api, url(program, f"tiers/{body['id']}/"), {"threshold_points": 900})
    assert changed.json()["threshold_points"] == 900
    assert api.delete(url(program, f"tiers/{body['id']}/")).status_code == 204
    assert_problem(api.get(url(program, f"tiers/{body['id']}/")), 404, "TIER_NOT_FOUND")


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"name": "Platinum", "rank": 4, "threshold_points": 500}, 422, "INVALID_VALUE",
     "threshold_points"),
    ({"name": "Platinum", "rank": 2, "threshold_points": 5000}, 422, "INVALID_VALUE", "rank"),
    ({"name": "silver", "rank": 4, "threshold_points": 5000}, 409, "NAME_TAKEN", "name"),
    ({"name": "Platinum", "rank": 4, "colour": "gold"}, 400, "VALIDATION_ERROR", "colour"),
    ({"name": "Platinum", "rank": 4, "earn_multiplier": "-1"}, 400, "VALIDATION_ERROR",
     "earn_multiplier"),
    ({"name": "", "rank": 4}, 400, "VALIDATION_ERROR", "name"),
    ({"name": "Platinum", "rank": 4, "surprise": 1}, 400, "VALIDATION_ERROR", "surprise"),
])
def test_a_tier_that_breaks_the_ladder_is_a_field_error_and_writes_nothing(api, program, ladder,
                                                                           body, status, code,
                                                                           field):
    """Malformed values are 400s; well-formed ones the ladder refuses are 422 (409 for a name
    already taken)."""
    before = list(Tier.objects.values_list("id", "name", "rank", "threshold_points"))
    assert_problem(post(api, url(program, "tiers/"), body), status, code, field)
    assert list(Tier.objects.values_list("id", "name", "rank", "threshold_points")) == before


def test_a_tier_in_use_cannot_be_deleted(api, program, ladder, member, earn):
    earn(member, 1200)
    silver = ladder[1]
    body = assert_problem(api.delete(url(program, f"tiers/{silver.pk}/")), 409, "TIER_IN_USE")
    assert body["members"] == 1
    assert Tier.objects.filter(pk=silver.pk).exists()


def test_tier_settings_read_and_change(api, program, ladder):
    body = api.get(url(program, "tier-settings/")).json()
    assert (body["basis"], body["streak_cycle"], body["grace_days"]) == (
        "lifetime_points", "off", 30)

    changed = patch(api, url(program, "tier-settings/"), {
        "streak_cycle": "week", "streak_activity": "orders", "milestone_every": 4,
        "milestone_points": 10,
    })

    assert changed.status_code == 200, changed.content
    assert changed.json()["streak_cycle"] == "week"
    assert TierSettings.objects.get(program=program).milestone_every == 4
    assert_problem(patch(api, url(program, "tier-settings/"), {"streak_cycle": "year"}),
                   400, "VALIDATION_ERROR", "streak_cycle")
    assert_problem(patch(api, url(program, "tier-settings/"), {"basis": "window_spend"}),
                   422, "INVALID_VALUE", "threshold_amount")


def test_the_member_representation_has_the_tier_contract(api, program, ladder, member, earn):
    earn(member, 1200)
    body = api.get(url(program, f"members/{member.pk}/")).json()
    assert body["tier"] == "Silver"
    assert body["tier_id"] == ladder[1].pk
    assert body["tier_progress"] == {"next_tier": {"id": ladder[2].pk, "name": "Gold"},
                                     "points_needed": 1300, "amount_needed": None}
    assert body["streak"] == {"count": 0, "state": "active", "cycle": None, "next_due": None,
                              "paused_until": None}


def test_an_earn_over_the_api_answers_the_lifted_member(api, program, ladder, member):
    response = post(api, url(program, f"members/{member.pk}/earn/"),
                    {"points": 2600, "reason": "Big order"})
    assert response.json()["member"]["tier"] == "Gold"
    assert response.json()["member"]["tier_progress"]["next_tier"] is None


def test_an_order_over_the_api_answers_the_lifted_member(api, program, ladder, weekly, member):
    response = post(api, url(program, "orders/"), {
        "order_id": "o-1", "member": str(member.pk), "amount": "1000.00", "currency": "EUR"})
    assert response.status_code == 201, response.content
    assert response.json()["member"]["tier"] == "Silver"
    assert response.json()["member"]["streak"]["count"] == 1


def test_override_set_and_clear_over_the_api(api, program, ladder, member, earn):
    earn(member, 100)
    gold = ladder[2]
    response = post(api, url(program, f"members/{member.pk}/tier-override/"), {
        "tier": gold.pk, "ends_at": "2026-02-15T00:00:00Z", "reason": "Lost order"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["override"]["tier"] == {"id": gold.pk, "name": "Gold"}
    assert body["override"]["ends_at"] == "2026-02-15T00:00:00Z"
    assert body["member"]["tier"] == "Gold"

    cleared = api.delete(url(program, f"members/{member.pk}/tier-override/"))
    assert cleared.status_code == 200
    assert cleared.json()["member"]["tier"] == "Bronze"
    assert cleared.json()["override"]["ended_at"] is not None
    assert_problem(api.delete(url(program, f"members/{member.pk}/tier-override/")), 404,
                   "TIER_OVERRIDE_NOT_FOUND")


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"tier": 999999, "reason": "x"}, 404, "TIER_NOT_FOUND", "tier"),
    ({"tier": "¹", "reason": "x"}, 400, "VALIDATION_ERROR", "tier"),
    ({"tier": "GOLD", "reason": "x"}, 400, "VALIDATION_ERROR", "tier"),
    ({"tier": None, "reason": "x"}, 400, "VALIDATION_ERROR", "tier"),
    ({"reason": "x"}, 400, "VALIDATION_ERROR", "tier"),
    ({"tier": 0, "reason": ""}, 400, "VALIDATION_ERROR", "tier"),
    ({"tier": "TIER", "reason": " "}, 400, "VALIDATION_ERROR", "reason"),
    ({"tier": "TIER", "reason": "x", "ends_at": "2020-01-01T00:00:00Z"}, 422,
     "INVALID_VALUE", "ends_at"),
])
def test_a_bad_override_is_refused_and_writes_nothing(api, program, ladder, member, body, status,
                                                     code, field):
    if body.get("tier") == "TIER":
        body = {**body, "tier": ladder[2].pk}
    before = snapshot(), list(TierOverride.objects.all()), list(TierChange.objects.all())
    response = post(api, url(program, f"members/{member.pk}/tier-override/"), body)
    assert_problem(response, status, code, field)
    assert (snapshot(), list(TierOverride.objects.all()), list(TierChange.objects.all())) == before


def test_tier_history_is_newest_first_and_paginated(api, program, ladder, member, earn, clock):
    earn(member, 1000)
    clock.advance(days=1)
    earn(member, 1500)
    clock.advance(days=1)
    post(api, url(program, f"members/{member.pk}/tier-override/"),
         {"tier": ladder[0].pk, "reason": "Review"})

    page = api.get(url(program, f"members/{member.pk}/tier-history/?page_size=2")).json()

    assert [(c["to_tier"]["name"], c["reason"]) for c in page["results"]] == [
        ("Bronze", "override"), ("Gold", "earned")]
    assert page["results"][0]["from_tier"] == {"id": ladder[2].pk, "name": "Gold"}
    rest = api.get(page["next"]).json()
    assert [c["to_tier"]["name"] for c in rest["results"]] == ["Silver"]
    assert rest["next"] is None
    filtered = api.get(url(program, f"members/{member.pk}/tier-history/?reason=earned")).json()
    assert len(filtered["results"]) == 2
    assert_problem(api.get(url(program, f"members/{member.pk}/tier-history/?reason=zzz")),
                   400, "VALIDATION_ERROR", "reason")


def test_streak_pause_and_resume_over_the_api(api, program, weekly, member, clock):
    paused = post(api, url(program, f"members/{member.pk}/streak/pause/"),
                  {"days": 14, "reason": "Holiday"})

    assert paused.status_code == 201, paused.content
    assert paused.json()["pause"]["until"] == "2026-01-29"
    assert paused.json()["member"]["streak"]["state"] == "paused"
    assert paused.json()["member"]["streak"]["paused_until"] == "2026-01-29"
    assert_problem(post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 3}),
                   409, "STREAK_ALREADY_PAUSED")

    clock.advance(days=3)
    resumed = post(api, url(program, f"members/{member.pk}/streak/resume/"))
    assert resumed.status_code == 200
    assert resumed.json()["outcome"] == "frozen"
    assert resumed.json()["member"]["streak"]["state"] == "active"
    assert_problem(post(api, url(program, f"members/{member.pk}/streak/resume/")), 422,
                   "STREAK_NOT_PAUSED")


def test_the_pause_limit_is_a_problem_document(api, program, weekly, member, clock):
    for _ in range(2):
        post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 2})
        post(api, url(program, f"members/{member.pk}/streak/resume/"))

    body = assert_problem(post(api, url(program, f"members/{member.pk}/streak/pause/"),
                               {"days": 2}), 422, "STREAK_PAUSE_LIMIT")

    assert body["pauses_per_year"] == 2
    assert StreakPause.objects.filter(member=member).count() == 2


def test_a_pause_longer_than_the_program_allows_is_an_invalid_value(api, program, weekly,
                                                                      member):
    response = post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 91})
    assert_problem(response, 422, "INVALID_VALUE", "days")


@pytest.mark.parametrize(("body", "field"), [
    ({"days": 0}, "days"), ({"days": 366}, "days"), ({"days": "¹"}, "days"),
    ({"days": 2**63}, "days"), ({"reason": "x" * 300}, "reason"), ({"why": 1}, "why"),
])
def test_a_bad_pause_is_refused(api, program, weekly, member, body, field):
    response = post(api, url(program, f"members/{member.pk}/streak/pause/"), body)
    assert_problem(response, 400, "VALIDATION_ERROR", field)
    assert fresh(member).streak_state == "active"


def test_pausing_without_streaks_is_refused(api, program, member):
    assert_problem(post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 3}),
                   422, "STREAKS_DISABLED")


def test_writes_replay_under_one_idempotency_key(api, program, ladder, weekly, member):
    first = post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 5},
                 **{"Idempotency-Key": "pause-1"})
    again = post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 5},
                 **{"Idempotency-Key": "pause-1"})
    other = post(api, url(program, f"members/{member.pk}/streak/pause/"), {"days": 6},
                 **{"Idempotency-Key": "pause-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "IDEMPOTENCY_CONFLICT")
    assert StreakPause.objects.count() == 1

    tier = {"name": "Platinum", "rank": 9, "threshold_points": 9000}
    one = post(api, url(program, "tiers/"), tier, **{"Idempotency-Key": "t-1"})
    two = post(api, url(program, "tiers/"), tier, **{"Idempotency-Key": "t-1"})
    assert one.json() == two.json()
    assert Tier.objects.filter(name="Platinum").count() == 1


def test_a_read_only_key_cannot_change_tiers(read_only_api, program, ladder, member):
    assert_problem(post(read_only_api, url(program, "tiers/"), {"name": "X", "rank": 9}),
                   403, "PERMISSION_DENIED")
    assert_problem(post(read_only_api, url(program, f"members/{member.pk}/tier-override/"),
                        {"tier": ladder[2].pk, "reason": "x"}), 403, "PERMISSION_DENIED")
    assert read_only_api.get(url(program, "tiers/")).status_code == 200


@pytest.mark.parametrize(("query", "expected"), [
    ("tier={silver}", ["silver"]), ("tier=gold", []), ("tier=none", ["plain"]),
    ("tier=%C2%B9", []), ("tier=99999999999999999999999", []), ("tier=0", []),
])
def test_the_member_list_filters_by_tier_id_or_name(api, program, ladder, member, earn,
                                                     query, expected):
    from tests.factories import MemberFactory

    plain = MemberFactory(program=program)
    earn(member, 1200)
    names = {member.pk: "silver", plain.pk: "plain"}
    response = api.get(url(program, "members/?" + query.format(silver=ladder[1].pk)))
    assert response.status_code == 200
    assert sorted(names[m["id"]] for m in response.json()["results"]) == expected
