"""Orders, caps and budgets under real concurrency (PostgreSQL, threads with own connections)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from members.models import Member
from rules import services
from rules.models import Award, EarningRule, Order
from rules.services import Customer
from tests.concurrency import in_threads

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

def client_for(api) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
    return client


def test_sixteen_concurrent_submissions_of_one_order_earn_once(api, program, member, make_rule):
    make_rule("order", {"multiplier": "2"})
    payload = json.dumps({"order_id": "race-1", "member": str(member.pk), "amount": "30.00",
                          "currency": "EUR"})
    url = f"/api/v1/programs/{program.pk}/orders/"

    def submit(_: int):
        response = client_for(api).post(url, data=payload, content_type="application/json")
        return response.status_code, response.json()

    answers = in_threads(16, submit)

    statuses = {status for status, _ in answers}
    earned = [body for status, body in answers if status == 201]
    assert statuses <= {201, 409}, answers  # 409: IDEMPOTENCY_IN_PROGRESS, safe to retry
    assert earned
    assert all(body["points"] == 60 for body in earned)
    assert Order.objects.count() == 1
    assert Entry.objects.filter(member=member, kind="earn").count() == 1
    assert Member.objects.get(pk=member.pk).balance == 60
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_concurrent_orders_race_a_once_per_member_rule_and_it_is_awarded_once(
    program, member, make_rule
):
    rule = make_rule("order", {"points": 100}, name="first order", max_per_member=1)

    def record(i: int):
        return services.order_record(
            program=program, order_id=f"o-{i}", amount=Decimal("10.00"), currency="EUR",
            customer=Customer(member=str(member.pk)), actor="t",
        ).order.points_earned

    earned = in_threads(12, record)

    assert sorted(earned) == [10] * 11 + [110]
    assert Award.objects.filter(rule=rule).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 12 * 10 + 100
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_concurrent_events_respect_a_cooldown(program, member, make_rule):
    make_rule("event", {"event_type": "check-in", "points": 5}, cooldown_hours=24)

    def check_in(i: int):
        return services.event_record(
            program=program, type="check-in", event_id=f"c-{i}",
            customer=Customer(member=str(member.pk)), actor="t",
        ).event.points_earned

    assert sorted(in_threads(10, check_in)) == [0] * 9 + [5]


def test_a_budget_is_never_overspent_by_concurrent_members(program, make_rule):
    rule = make_rule("order", {"points": 30}, name="launch", budget_points=100)
    members = [
        services.order_record(
            program=program, order_id=f"enrol-{i}", amount=Decimal("1"), currency="EUR",
            customer=Customer(external_id=f"c-{i}"), actor="t",
        ).member
        for i in range(10)
    ]
    EarningRule.objects.filter(pk=rule.pk).update(budget_spent=0)
    Award.objects.all().delete()

    def record(i: int):
        return services.order_record(
            program=program, order_id=f"o-{i}", amount=Decimal("1"), currency="EUR",
            customer=Customer(member=str(members[i].pk)), actor="t",
        ).order.points_earned - 1

    bonuses = in_threads(10, record)

    assert sum(bonuses) == 100
    assert sorted(bonuses) == [0] * 6 + [10, 30, 30, 30]
    rule.refresh_from_db()
    assert rule.budget_spent == 100
