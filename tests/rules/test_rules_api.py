"""CRUD /rules/ over HTTP, with strict validation of each kind's config."""

from __future__ import annotations

import pytest

from rules.models import EarningRule
from tiers.models import Tier

from .factories import assert_problem, patch, post

pytestmark = pytest.mark.django_db


def url(program, rule=None) -> str:
    return f"/api/v1/programs/{program.pk}/rules/" + (f"{rule}/" if rule else "")


VALID = [
    {"kind": "order", "config": {"multiplier": "2", "min_amount": "50"}},
    {"kind": "order", "config": {"points_per_unit": 0.5}},
    {"kind": "order", "config": {"points": 100}},
    {"kind": "category", "config": {"categories": ["coffee", "tea"], "multiplier": 3}},
    {"kind": "sku", "config": {"skus": ["ESP-1"], "points_per_item": 10}},
    {"kind": "event", "config": {"event_type": "review", "points": 50,
                                 "conditions": {"outcome": ["approved", "featured"],
                                                "metadata.device.os": "ios",
                                                "metadata.stars": {"gte": 4},
                                                "scope": {"exists": True}}}},
    {"kind": "welcome", "config": {"points": 100}},
    {"kind": "birthday", "config": {"points": 50}},
]


@pytest.mark.parametrize("payload", VALID, ids=lambda p: p["kind"])
def test_each_kind_of_rule_can_be_created(api, program, payload):
    response = post(api, url(program), {"name": "A rule", **payload})

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == payload["kind"]
    assert response.json()["summary"]


def test_a_tier_bonus_needs_a_tier_of_the_program(api, program, other_program):
    gold = Tier.objects.create(merchant=program.merchant, program=program, name="Gold")
    theirs = Tier.objects.create(merchant=other_program.merchant, program=other_program,
                                 name="Gold")

    ok = post(api, url(program), {"name": "Gold bonus", "kind": "tier_bonus",
                                  "config": {"tier": gold.pk, "multiplier": "1.5"}})
    foreign = post(api, url(program), {"name": "x", "kind": "tier_bonus",
                                       "config": {"tier": theirs.pk, "multiplier": "1.5"}})

    assert ok.status_code == 201
    assert_problem(foreign, 422, "INVALID_RULE_CONFIG", field="config.tier")


BAD = [
    ({"kind": "order", "config": {"multiplier": 2, "bonus": 1}}, "config.bonus"),
    ({"kind": "order", "config": {}}, "config.multiplier"),
    ({"kind": "order", "config": {"multiplier": 2, "points": 5}}, "config.points"),
    ({"kind": "order", "config": {"multiplier": "1"}}, "config.multiplier"),
    ({"kind": "order", "config": {"multiplier": "two"}}, "config.multiplier"),
    ({"kind": "order", "config": {"multiplier": True}}, "config.multiplier"),
    ({"kind": "order", "config": {"multiplier": "1e400"}}, "config.multiplier"),
    ({"kind": "order", "config": {"points": -5}}, "config.points"),
    ({"kind": "order", "config": {"points": 5, "min_amount": "-1"}}, "config.min_amount"),
    ({"kind": "order", "config": "double"}, "config"),
    ({"kind": "category", "config": {"multiplier": 2}}, "config.categories"),
    ({"kind": "category", "config": {"categories": [], "multiplier": 2}}, "config.categories"),
    ({"kind": "category", "config": {"categories": [""], "multiplier": 2}},
     "config.categories[0]"),
    ({"kind": "sku", "config": {"skus": "ESP", "multiplier": 2}}, "config.skus"),
    ({"kind": "event", "config": {"points": 5}}, "config.event_type"),
    ({"kind": "event", "config": {"event_type": "a b", "points": 5}}, "config.event_type"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5, "conditions": []}},
     "config.conditions"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"colour": "red"}}}, "config.conditions.colour"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"metadata.": "x"}}}, "config.conditions"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"metadata.a..b": "x"}}}, "config.conditions"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"outcome": {"like": "x"}}}},
     "config.conditions.outcome"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"outcome": {"eq": 1, "ne": 2}}}},
     "config.conditions.outcome"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"metadata.n": {"gt": "five"}}}},
     "config.conditions.metadata.n"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"outcome": {"nested": {"x": 1}}}}},
     "config.conditions.outcome"),
    ({"kind": "event", "config": {"event_type": "r", "points": 5,
                                  "conditions": {"outcome": [{"x": 1}]}}},
     "config.conditions.outcome"),
    ({"kind": "welcome", "config": {"points": 5, "multiplier": 2}}, "config.multiplier"),
    ({"kind": "tier_bonus", "config": {"multiplier": 2}}, "config.tier"),
    ({"kind": "lottery", "config": {}}, "kind"),
    ({"kind": "order", "config": {"points": 5}, "colour": "red"}, "colour"),
    ({"kind": "order", "config": {"points": 5}, "max_per_member": 0}, "max_per_member"),
    ({"kind": "order", "config": {"points": 5}, "cooldown_hours": -1}, "cooldown_hours"),
    ({"kind": "order", "config": {"points": 5}, "budget_points": "lots"}, "budget_points"),
    ({"kind": "order", "config": {"points": 5}, "starts_at": "2026-02-01T00:00:00Z",
      "ends_at": "2026-01-01T00:00:00Z"}, "ends_at"),
    ({"kind": "order", "config": {"points": 5}, "name": "  "}, "name"),
]


@pytest.mark.parametrize(("payload", "field"), BAD, ids=lambda x: str(x)[:40])
def test_malformed_rules_are_refused_naming_the_field_and_write_nothing(
    api, program, snapshot, payload, field
):
    before = snapshot()

    response = post(api, url(program), {"name": "Bad rule", **payload})

    # Shape errors the schema describes are 400; a config that does not fit its kind, or
    # a window that ends before it starts, is well-formed and refused by a rule: 422.
    status, code = (
        (422, "INVALID_RULE_CONFIG") if field.startswith("config.")
        else (422, "INVALID_VALUE") if field == "ends_at"
        else (400, "VALIDATION_ERROR")
    )
    assert_problem(response, status, code, field=field)
    assert snapshot() == before


def test_rules_can_be_listed_read_changed_and_deleted(api, program):
    created = post(api, url(program), {"name": "Double", "kind": "order",
                                       "config": {"multiplier": 2}}).json()

    listed = api.get(url(program), {"kind": "order"}).json()
    changed = patch(api, url(program, created["id"]), {"priority": 5, "config": {"points": 9}})
    bad = patch(api, url(program, created["id"]), {"config": {"points": 9, "oops": 1}})
    deleted = api.delete(url(program, created["id"]))

    assert [r["id"] for r in listed["results"]] == [created["id"]]
    assert changed.status_code == 200, changed.content
    assert changed.json()["priority"] == 5
    assert changed.json()["config"] == {"points": 9}
    assert_problem(bad, 422, "INVALID_RULE_CONFIG", field="config.oops")
    assert deleted.status_code == 204
    assert_problem(api.get(url(program, created["id"])), 404, "RULE_NOT_FOUND")
    assert EarningRule.objects.get().deleted_at is not None  # awards keep pointing at it


def test_changing_the_kind_revalidates_the_config(api, program):
    created = post(api, url(program), {"name": "Double", "kind": "order",
                                       "config": {"multiplier": 2}}).json()

    response = patch(api, url(program, created["id"]), {"kind": "welcome"})

    assert_problem(response, 422, "INVALID_RULE_CONFIG", field="config.multiplier")


def test_another_merchants_rule_is_rule_not_found(api, other_api, program, other_program):
    theirs = post(other_api, url(other_program), {"name": "x", "kind": "welcome",
                                                  "config": {"points": 5}}).json()
    mine = post(api, url(program), {"name": "x", "kind": "welcome",
                                    "config": {"points": 5}}).json()

    assert_problem(api.get(url(program, theirs["id"])), 404, "RULE_NOT_FOUND")
    assert_problem(patch(api, url(program, theirs["id"]), {"priority": 1}), 404, "RULE_NOT_FOUND")
    assert_problem(api.delete(url(program, theirs["id"])), 404, "RULE_NOT_FOUND")
    assert_problem(other_api.get(url(program, mine["id"])), 404, "NOT_FOUND")
    assert_problem(api.get(url(program, "not-a-number")), 404, "RULE_NOT_FOUND")
    assert_problem(api.get(url(program, "99999999999999999999999")), 404, "RULE_NOT_FOUND")


def test_a_read_only_key_reads_rules_but_cannot_change_them(read_only_api, api, program):
    post(api, url(program), {"name": "x", "kind": "welcome", "config": {"points": 5}})

    assert read_only_api.get(url(program)).status_code == 200
    assert_problem(post(read_only_api, url(program), {"name": "y", "kind": "welcome",
                                                      "config": {"points": 5}}),
                   403, "PERMISSION_DENIED")


def test_enrolling_through_the_api_gives_the_welcome_points(api, program, make_rule):
    make_rule("welcome", {"points": 100})

    response = post(api, f"/api/v1/programs/{program.pk}/members/", {"external_id": "w-1"})

    assert response.status_code == 201, response.content
    assert response.json()["balance"] == 100


def test_numbers_in_a_config_are_stored_as_plain_decimal_strings(api, program):
    response = post(api, url(program), {"name": "x", "kind": "order",
                                        "config": {"multiplier": 10, "min_amount": "20.50"}})

    assert response.json()["config"] == {"multiplier": "10", "min_amount": "20.5"}
