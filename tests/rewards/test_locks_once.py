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


def test_a_reservation_and_its_confirmation_cost_a_bounded_number_of_statements(
    api, funded, reward
):
    """Reserve: the member and the reward, then in its transaction the member's lock, the
    hold (lots, figures, entry, hold in one statement), the redemption and its event in one.
    Confirm:
    the redemption, then the member's lock, the redemption with its hold, the spend (entry,
    event, figures, hold in one statement), and the redemption, voucher and event in one."""
    base = f"/api/v1/programs/{funded.program_id}/redemptions/"
    post(api, base, {"member": str(funded.pk), "reward": reward.pk})  # warm caches
    with CaptureQueriesContext(connection) as reserving:
        reserved = post(api, base, {"member": str(funded.pk), "reward": reward.pk})
    with CaptureQueriesContext(connection) as confirming:
        confirmed = post(api, f"{base}{reserved.json()['id']}/confirm/", {"order_id": "L-9"})

    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["voucher"]["code"]
    limit = (8, 8) if connection.vendor == "postgresql" else (18, 18)
    assert len(reserving) <= limit[0], "\n".join(q["sql"][:90] for q in reserving)
    assert len(confirming) <= limit[1], "\n".join(q["sql"][:90] for q in confirming)


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="the one-statement writes are PostgreSQL's")
def test_a_reservation_and_confirmation_write_the_same_rows_on_both_paths(
    funded, reward, clock, monkeypatch
):
    from events.models import OutboxEvent
    from ledger import _pg
    from rewards import services
    from rewards.models import Redemption, Voucher
    from tests.factories import MemberFactory

    from .conftest import fund

    other = fund(MemberFactory(program=funded.program), 1000)

    def redeem(member):
        reserved = services.redemption_reserve(member=member, reward=reward, actor="till",
                                               order_id="R-1")
        return services.redemption_confirm(redemption=reserved, actor="till")

    def rows(redemption):
        voucher = Voucher.objects.filter(redemption=redemption).values(
            "status", "issued_at", "expires_at", "used_at", "reward_id", "member_id").get()
        stored = Redemption.objects.filter(pk=redemption.pk).values(
            "status", "order_id", "confirmed_at", "points", "stock_taken").get()
        events = []
        for type_ in ("reward.reserved", "reward.redeemed"):
            event = OutboxEvent.objects.get(member_id=redemption.member_id, type=type_)
            assert event.data["redemption"]["id"] == redemption.pk
            data = {**event.data, "member": {k: v for k, v in event.data["member"].items()
                                             if k not in ("id", "card_id", "external_id")}}
            data["redemption"] = {**data["redemption"], "id": None}
            if "voucher" in data:
                data["voucher"] = {**data["voucher"], "code": None, "redemption": None}
            events.append((data, event.sequence))
        return {**voucher, "member_id": None}, stored, events

    fast = redeem(funded)
    monkeypatch.setattr(_pg, "ENABLED", False)
    slow = redeem(other)

    assert rows(fast) == rows(slow)
    assert fast.voucher.code == Voucher.objects.get(redemption=fast).code
