"""Windows, caps, cooldowns, budgets, stacking and priority, conditions on events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rules import services
from rules.engine import EventFacts, condition_matches, event_rule_raw
from rules.models import Award, EarningRule
from rules.services import Customer as Who

from .conftest import fresh

pytestmark = pytest.mark.django_db


def rule_points(result) -> dict[str, int]:
    return {a.name: a.points for a in result.evaluation.rule_awards}


_ids = iter(range(1, 100_000))


def event(program, member, clock, type="review", **fields):
    fields.setdefault("event_id", f"ev-{next(_ids)}")
    return services.event_record(program=program, type=type, customer=Who(member=str(member.pk)),
                                 actor="t", clock=clock, **fields)


# -- window ----------------------------------------------------------------------------------


def test_a_rule_applies_only_inside_its_window(order, make_rule, clock):
    now = clock.now()
    make_rule("order", {"points": 5}, name="promo", starts_at=now + timedelta(days=1),
              ends_at=now + timedelta(days=2))

    assert rule_points(order("10")) == {}
    clock.advance(days=1)
    assert rule_points(order("10")) == {"promo": 5}
    clock.advance(days=1)  # ends_at is exclusive
    assert rule_points(order("10")) == {}


def test_the_window_is_checked_at_the_orders_occurred_at(order, make_rule, clock):
    now = clock.now()
    make_rule("order", {"points": 5}, name="yesterday only", starts_at=now - timedelta(days=2),
              ends_at=now - timedelta(days=1))

    late = order("10", occurred_at=now - timedelta(hours=36))

    assert rule_points(late) == {"yesterday only": 5}


def test_an_inactive_or_deleted_rule_never_applies(order, make_rule):
    make_rule("order", {"points": 5}, name="off", is_active=False)
    gone = make_rule("order", {"points": 7}, name="gone")
    services.rule_delete(rule=gone)

    assert rule_points(order("10")) == {}


# -- caps and cooldowns ---------------------------------------------------------------------------


def test_max_per_member_caps_a_rule_for_life(order, make_rule, member):
    make_rule("order", {"points": 20}, name="first orders", max_per_member=2)

    awarded = [rule_points(order("10")) for _ in range(3)]

    assert awarded == [{"first orders": 20}, {"first orders": 20}, {}]
    assert Award.objects.filter(member=member).count() == 2


def test_a_cap_counts_a_members_awards_only_up_to_the_cap(order, make_rule, member, program,
                                                           clock):
    """A member with more awards than the cap (the cap was lowered after): the history read
    stops at the cap on both databases, and the decision is the same as counting them all."""
    from rules.selectors import live_rules

    rule = make_rule("order", {"points": 20}, name="first orders", max_per_member=5)
    for _ in range(4):
        order("10")
    rule.max_per_member = 2
    rule.save(update_fields=["max_per_member"])

    with CaptureQueriesContext(connection) as queries:
        read = {r.pk: r.history.count for r in live_rules(
            program=program, kinds=["order"], at=clock.now(), member_id=member.pk)}

    assert Award.objects.filter(member=member, rule=rule).count() == 4
    assert read[rule.pk] == 2  # the cap, not the four awards
    # on PostgreSQL the count itself stops at the cap
    bounded = "LIMIT GREATEST(COALESCE(r.max_per_member, 1), 1)" in queries[0]["sql"]
    assert bounded == (connection.vendor == "postgresql")
    assert rule_points(order("10")) == {}


def test_the_cap_is_per_member(order, make_rule, program, clock):
    make_rule("order", {"points": 20}, name="first order", max_per_member=1)

    first = order("10", who=Who(external_id="a"))
    second = order("10", who=Who(external_id="b"))

    assert rule_points(first) == rule_points(second) == {"first order": 20}


def test_cooldown_keeps_a_rule_from_firing_again_too_soon(order, make_rule, clock):
    make_rule("order", {"points": 3}, name="daily", cooldown_hours=24)

    assert rule_points(order("10")) == {"daily": 3}
    clock.advance(hours=23, minutes=59)
    assert rule_points(order("10")) == {}
    clock.advance(minutes=1)
    assert rule_points(order("10")) == {"daily": 3}


# -- budgets ---------------------------------------------------------------------------------


def test_a_budget_stops_the_rule_once_spent_and_the_last_award_takes_what_is_left(
    order, make_rule
):
    rule = make_rule("order", {"points": 40}, name="launch", budget_points=100)

    awarded = [rule_points(order("10")).get("launch", 0) for _ in range(4)]

    assert awarded == [40, 40, 20, 0]
    rule.refresh_from_db()
    assert rule.budget_spent == 100


def test_a_budget_cannot_be_set_below_what_was_already_awarded(order, make_rule):
    from loyaltysite.errors import InvalidValue

    rule = make_rule("order", {"points": 40}, budget_points=100)
    order("10")

    with pytest.raises(InvalidValue) as refused:
        services.rule_update(rule=rule, budget_points=39)
    assert refused.value.field == "budget_points"


# -- stacking and priority -------------------------------------------------------------------


def test_stackable_rules_all_combine(order, make_rule):
    make_rule("order", {"points": 1}, name="a")
    make_rule("order", {"points": 2}, name="b")

    assert rule_points(order("10")) == {"a": 1, "b": 2}


def test_of_the_non_stackable_rules_only_the_highest_priority_fires(order, make_rule):
    make_rule("order", {"points": 1}, name="low", stackable=False, priority=1)
    make_rule("order", {"points": 9}, name="high", stackable=False, priority=5)
    make_rule("order", {"points": 2}, name="stacks", priority=0)

    assert rule_points(order("10")) == {"high": 9, "stacks": 2}


def test_a_non_stackable_rule_that_is_capped_lets_the_next_one_fire(order, make_rule):
    make_rule("order", {"points": 9}, name="first only", stackable=False, priority=5,
              max_per_member=1)
    make_rule("order", {"points": 1}, name="always", stackable=False, priority=1)

    assert rule_points(order("10")) == {"first only": 9}
    assert rule_points(order("10")) == {"always": 1}


def test_equal_priorities_go_to_the_older_rule(order, make_rule):
    make_rule("order", {"points": 1}, name="older", stackable=False)
    make_rule("order", {"points": 9}, name="newer", stackable=False)

    assert rule_points(order("10")) == {"older": 1}


# -- events and conditions ----------------------------------------------------------------------


def test_all_matching_event_rules_fire(program, member, make_rule, clock):
    make_rule("event", {"event_type": "review", "points": 10}, name="any review")
    make_rule("event", {"event_type": "review", "points": 5,
                        "conditions": {"outcome": "approved"}}, name="approved")
    make_rule("event", {"event_type": "review", "points": 100,
                        "conditions": {"outcome": "featured"}}, name="featured")
    make_rule("event", {"event_type": "check-in", "points": 1}, name="check-in")

    result = event(program, member, clock, outcome="approved")

    assert rule_points(result) == {"any review": 10, "approved": 5}
    assert result.event.points_earned == 15
    assert fresh(member).balance == 15


def test_conditions_reach_into_nested_metadata(program, member, make_rule, clock):
    make_rule("event", {"event_type": "register", "points": 25,
                        "conditions": {"metadata.device.os": "ios",
                                       "metadata.device.version": {"gte": 17}}}, name="ios")

    android = event(program, member, clock, type="register",
                    metadata={"device": {"os": "android", "version": 17}})
    old_ios = event(program, member, clock, type="register",
                    metadata={"device": {"os": "ios", "version": 16}})
    new_ios = event(program, member, clock, type="register",
                    metadata={"device": {"os": "ios", "version": 17.2}})

    assert [r.event.points_earned for r in (android, old_ios, new_ios)] == [0, 0, 25]


def test_condition_operators():
    assert condition_matches("a", ["a", "b"])
    assert not condition_matches("c", {"in": ["a", "b"]})
    assert condition_matches("c", {"not_in": ["a", "b"]})
    assert condition_matches(5, {"gt": 4})
    assert not condition_matches("5", {"gt": 4})
    assert not condition_matches(True, 1)  # no truthy coercion
    assert not condition_matches("1", 1)
    assert condition_matches(1, 1.0)


def test_missing_metadata_only_matches_exists_false():
    rule = EarningRule(kind="event", priority=0, config={
        "event_type": "x", "points": 1, "conditions": {"metadata.a.b": {"exists": False}}})

    assert event_rule_raw(rule, EventFacts(type="x", metadata={"a": 1})) == Decimal(1)
    assert event_rule_raw(rule, EventFacts(type="x", metadata={"a": {"b": 0}})) is None


def test_event_cooldown_and_cap(program, member, make_rule, clock):
    make_rule("event", {"event_type": "vote", "points": 1}, name="vote", cooldown_hours=24,
              max_per_member=2)

    earned = []
    for _ in range(4):
        earned.append(event(program, member, clock, type="vote").event.points_earned)
        clock.advance(hours=12)

    assert earned == [1, 0, 1, 0]


def test_a_rule_that_fails_to_evaluate_awards_nothing_and_others_still_fire(
    program, member, make_rule, clock, monkeypatch, caplog
):
    broken = make_rule("event", {"event_type": "review", "points": 10}, name="broken")
    make_rule("event", {"event_type": "review", "points": 5}, name="fine")
    from rules import engine

    real = engine.event_rule_raw

    def explode(rule, facts):
        if rule.pk == broken.pk:
            raise ZeroDivisionError("boom")
        return real(rule, facts)

    monkeypatch.setattr(engine, "event_rule_raw", explode)

    result = event(program, member, clock)

    assert rule_points(result) == {"fine": 5}
    assert result.event.failed
    assert "failed to evaluate" in caplog.text
