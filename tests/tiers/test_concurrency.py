"""Tiers and streaks under real concurrency (PostgreSQL, threads with their own connections)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from ledger import services as ledger
from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from tests.concurrency import in_threads
from tiers import jobs
from tiers import ladder as cache
from tiers.models import StreakReward, TierChange
from tiers.services.streaks import streak_milestone_pay

from .conftest import fresh

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def client_for(api) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
    return client


def test_concurrent_earns_crossing_one_threshold_upgrade_once(ladder, member, clock):
    def earn(_: int):
        return ledger.points_credit(member=member, points=300, actor="t").pk

    in_threads(8, earn)

    assert fresh(member).lifetime_points == 2400
    assert fresh(member).tier.name == "Silver"
    assert list(TierChange.objects.filter(member=member).values_list("to_name", "reason")) == [
        ("Silver", "earned")]
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_two_orders_crossing_a_threshold_at_once_upgrade_once(api, program, ladder, member,
                                                              clock):
    url = f"/api/v1/programs/{program.pk}/orders/"

    def submit(i: int):
        body = json.dumps({"order_id": f"big-{i}", "member": str(member.pk),
                           "amount": "1000.00", "currency": "EUR"})
        response = client_for(api).post(url, data=body, content_type="application/json")
        return response.status_code, response.json()["member"]["tier"]

    answers = in_threads(2, submit)

    assert sorted(answers) == [(201, "Silver"), (201, "Silver")]
    assert TierChange.objects.filter(member=member, reason="earned").count() == 1


def test_a_milestone_raced_by_concurrent_orders_pays_once(api, program, ladder, weekly, member,
                                                          order, clock):
    for _ in range(3):
        order(member)
        clock.advance(timedelta(weeks=1))
    url = f"/api/v1/programs/{program.pk}/orders/"

    def submit(i: int):
        body = json.dumps({"order_id": f"week4-{i}", "member": str(member.pk),
                           "amount": "5.00", "currency": "EUR"})
        return client_for(api).post(url, data=body, content_type="application/json").status_code

    assert in_threads(6, submit) == [201] * 6

    assert fresh(member).streak == 4
    assert StreakReward.objects.filter(member=member).count() == 1
    assert Entry.objects.filter(member=member, metadata__has_key="streak_milestone").count() == 1
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_milestone_paid_by_two_workers_at_once_pays_once(program, ladder, weekly, member,
                                                           order, clock):
    """No member lock here: the unique (member, cycle) row alone decides."""
    for _ in range(4):
        order(member)
        clock.advance(timedelta(weeks=1))
    StreakReward.objects.all().delete()
    member = fresh(member)

    def pay(_: int):
        with transaction.atomic():
            return streak_milestone_pay(member=member, ladder=cache.ladder_for(program.pk),
                                        cycle=member.streak_cycle, actor="t", clock=clock)

    paid = in_threads(4, pay)

    assert sum(p is not None for p in paid) == 1
    assert StreakReward.objects.count() == 1


def test_two_evaluation_workers_at_once_make_each_change_once(program, ladder, clock):
    from tests.factories import MemberFactory

    members = [MemberFactory(program=program) for _ in range(30)]
    for index, member in enumerate(members):
        ledger.points_adjust(member=member, points=1 + 500 * (index % 6), reason="x", actor="t")
    TierChange.objects.all().delete()
    from members.models import Member

    Member.objects.filter(program=program).update(tier=None)

    in_threads(2, lambda _: jobs.evaluate_tiers(clock=clock, batch_size=7))

    assert TierChange.objects.count() == 30
    assert all(fresh(m).tier is not None for m in members)
