"""POST /earn/ answers the member's figures from the posting itself, as a fresh read has them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.services import points_credit
from tests.api.helpers import post
from tiers import services as tiers

pytestmark = pytest.mark.django_db


def test_an_earn_answers_the_figures_a_fresh_read_gives_tier_included(api, program, member,
                                                                       clock):
    tiers.tier_create(program=program, name="Bronze", rank=1, threshold_points=0)
    tiers.tier_create(program=program, name="Silver", rank=2, threshold_points=100,
                      earn_multiplier=Decimal("1.25"))
    points_credit(member=member, points=40, actor="t", clock=clock)
    base = f"/api/v1/programs/{program.pk}/members/{member.pk}"

    earned = post(api, f"{base}/earn/", {"points": 70, "reason": "Survey"})
    read = api.get(f"{base}/")

    assert earned.status_code == 201, earned.content
    assert earned.json()["member"] == read.json()
    assert read.json()["balance"] == 110
    assert read.json()["tier"] == "Silver"


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="the answer comes from the PostgreSQL fast path's RETURNING")
def test_an_earn_does_not_read_the_member_again_after_posting(api, program, member):
    base = f"/api/v1/programs/{program.pk}/members/{member.pk}"
    post(api, f"{base}/earn/", {"points": 1, "reason": "warm-up"})

    with CaptureQueriesContext(connection) as queries:
        earned = post(api, f"{base}/earn/", {"points": 5, "reason": "Survey"})

    assert earned.status_code == 201
    member_reads = [q["sql"] for q in queries if q["sql"].lstrip().startswith("SELECT")
                    and re.search(r'FROM "members_member"', q["sql"])]
    assert len(member_reads) == 1, member_reads  # the look-up before the posting only
    assert earned.json()["member"]["balance"] == 6
