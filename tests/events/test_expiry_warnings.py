"""``points.expiring``: sent once per member and expiry day, the program's warning days before;
the portal's membership card says what expires when."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.models import ExpiryWarning, OutboxEvent
from ledger import services as ledger
from ledger.jobs import warn_expiring_points
from members.models import Member, Program

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiring(program):
    program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    program.expiry_months = 12
    program.expiry_warning_days = 30
    program.save()
    return program


def at(clock, *args) -> None:
    clock.set(datetime(*args, tzinfo=UTC))


def warnings() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type="points.expiring").order_by("id"))


def run(clock) -> int:
    return warn_expiring_points(clock=clock, batch_size=2)


def test_the_warning_is_sent_once_per_member_and_expiry_day(expiring, member, clock):
    at(clock, 2025, 1, 12, 9)
    ledger.points_credit(member=member, points=100, actor="t")
    at(clock, 2025, 1, 12, 17)
    ledger.points_credit(member=member, points=20, actor="t")  # the same day: one warning
    at(clock, 2025, 2, 3, 9)
    ledger.points_credit(member=member, points=50, actor="t")

    at(clock, 2025, 12, 12, 8)
    assert run(clock) == 0  # 31 days before: not yet
    at(clock, 2025, 12, 14, 8)
    assert run(clock) == 1
    assert run(clock) == 0
    clock.advance(days=3)
    assert run(clock) == 0

    [warning] = warnings()
    assert warning.member_id == member.pk
    assert warning.data["points"] == 120
    assert warning.data["expires_on"] == "2026-01-12"
    assert warning.data["expires_at"] == "2026-01-12T09:00:00Z"
    assert warning.data["member"]["balance"] == 170
    at(clock, 2026, 1, 5, 8)
    assert run(clock) == 1  # February's points: a warning of their own
    assert [w.data["expires_on"] for w in warnings()] == ["2026-01-12", "2026-02-03"]
    assert ExpiryWarning.objects.count() == 2


def test_the_day_is_the_programs_day(expiring, member, clock):
    expiring.time_zone = "Pacific/Auckland"
    expiring.save()
    at(clock, 2025, 1, 12, 20)  # 13 January in Auckland
    ledger.points_credit(member=member, points=40, actor="t")

    at(clock, 2025, 12, 20, 0)
    run(clock)

    assert warnings()[0].data["expires_on"] == "2026-01-13"


def test_spent_or_expired_points_are_not_announced(expiring, member, clock):
    at(clock, 2025, 1, 12, 9)
    ledger.points_credit(member=member, points=30, actor="t")
    ledger.points_debit(member=member, points=30, actor="t")

    at(clock, 2025, 12, 20, 0)
    assert run(clock) == 0


def test_inactivity_expiry_is_announced_for_its_date_and_again_after_new_activity(
        program, member, clock):
    program.expiry_policy = Program.ExpiryPolicy.INACTIVITY
    program.expiry_months = 6
    program.expiry_warning_days = 14
    program.save()
    at(clock, 2025, 3, 1, 12)
    ledger.points_credit(member=member, points=80, actor="t")  # activity: expires 1 September

    at(clock, 2025, 8, 10, 12)
    assert run(clock) == 0
    at(clock, 2025, 8, 20, 12)
    assert run(clock) == 1
    assert run(clock) == 0
    ledger.points_credit(member=member, points=5, actor="t")  # activity moves the date
    at(clock, 2026, 2, 10, 12)
    assert run(clock) == 1

    assert [(w.data["expires_on"], w.data["points"]) for w in warnings()] == [
        ("2025-09-01", 80), ("2026-02-20", 85)]


def test_deactivated_members_are_not_warned(expiring, member, clock):
    at(clock, 2025, 1, 12, 9)
    ledger.points_credit(member=member, points=30, actor="t")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.INACTIVE)

    at(clock, 2025, 12, 20, 0)
    assert run(clock) == 0


def test_the_portal_card_says_what_expires_when(expiring, member, customer_client, clock):
    at(clock, 2025, 1, 12, 9)
    ledger.points_credit(member=member, points=120, actor="t")
    at(clock, 2025, 2, 3, 9)
    ledger.points_credit(member=member, points=1, actor="t")

    at(clock, 2025, 12, 20, 0)
    page = customer_client.get("/").content.decode()
    assert "Points expiring soon" in page
    assert "120 points expire on Jan. 12, 2026" in page  # the language's date format
    assert "Feb. 3" not in page  # beyond the warning days

    at(clock, 2026, 1, 20, 0)
    page = customer_client.get("/").content.decode()
    assert "1 point expires on Feb. 3, 2026" in page
    at(clock, 2026, 6, 1, 0)
    assert "Points expiring soon" not in customer_client.get("/").content.decode()
