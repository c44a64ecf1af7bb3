"""A reservation and its confirmation lock the member once each, and stay correct."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.selectors import member_ledger_discrepancies
from members.models import Member
from tests.api.helpers import post

pytestmark = pytest.mark.django_db


def locks(queries) -> list[str]:
    return [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]


def member_locks(queries) -> list[str]:
    return [sql for sql in locks(queries) if re.search(r'FROM "members_member"', sql)]


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="SQLite has no SELECT ... FOR UPDATE to count")
def test_a_reservation_and_its_confirmation_each_lock_the_member_once(api, funded, reward):
    base = f"/api/v1/programs/{funded.program_id}/redemptions/"
    with CaptureQueriesContext(connection) as reserving:
        reserved = post(api, base, {"member": str(funded.pk), "reward": reward.pk})
    assert reserved.status_code == 201, reserved.content

    with CaptureQueriesContext(connection) as confirming:
        confirmed = post(api, f"{base}{reserved.json()['id']}/confirm/", {"order_id": "L-1"})
    assert confirmed.status_code == 200, confirmed.content

    assert len(member_locks(reserving)) == 1, locks(reserving)
    assert len(locks(reserving)) == 1, locks(reserving)
    # the member, then the redemption with its hold in one statement
    assert len(member_locks(confirming)) == 1, locks(confirming)
    assert len(locks(confirming)) == 2, locks(confirming)


def test_a_confirmed_reservation_spends_the_held_points_exactly_once(api, funded, reward):
    base = f"/api/v1/programs/{funded.program_id}/redemptions/"
    reserved = post(api, base, {"member": str(funded.pk), "reward": reward.pk}).json()
    url = f"{base}{reserved['id']}/confirm/"

    first = post(api, url, {"order_id": "L-2"})
    again = post(api, url, {"order_id": "L-2"})

    member = Member.objects.get(pk=funded.pk)
    assert first.status_code == again.status_code == 200
    assert (member.balance, member.reserved_points) == (900, 0)
    assert member_ledger_discrepancies(member_id=member.pk) == []
