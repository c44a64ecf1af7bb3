"""The portal history as a customer reads it: one row per redemption, a cancelled hold shown
as cancelled, pending earns with the day they become spendable, a running total that adds up
row by row; the home page's points on hold and points expiring soon."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from ledger.services import (
    hold_confirm,
    hold_release,
    points_adjust,
    points_credit,
    points_debit,
    points_expire_due,
    points_make_available,
    points_reserve,
)
from members.models import Member, Program
from members.views import HISTORY_PAGE_SIZE

pytestmark = pytest.mark.django_db


def _history(client, member, page=1):
    response = client.get(reverse("portal:member", args=[member.card_id]), {"page": page})
    assert response.status_code == 200
    return response


def _assert_totals_add_up(rows, member):
    """Each row's total is the one below it plus what the row moved (if it counts), and the
    newest total is everything the member holds."""
    member = Member.objects.get(pk=member.pk)
    assert rows[0].total_after == member.balance + member.pending_points + member.reserved_points
    for above, below in zip(rows, rows[1:], strict=False):
        assert above.total_after == below.total_after + (above.points if above.counts else 0)


def test_a_reservation_and_its_confirmation_are_one_row(customer_client, member, clock):
    points_adjust(member=member, points=500, actor="test", reason="welcome")
    clock.advance(minutes=5)
    hold = points_reserve(member=member, points=150, actor="test", reason="Reward: Free coffee")
    clock.advance(minutes=1)
    hold_confirm(hold=hold, actor="test", reason="Reward: Free coffee")

    rows = _history(customer_client, member).context["rows"]

    assert [(r.state, r.points, r.total_after) for r in rows] == [
        ("redeemed", -150, 350), ("adjusted", 500, 500),
    ]
    page = _history(customer_client, member).content.decode()
    assert page.count("Redeemed") == 1
    assert "\u2212150" in page


def test_a_released_reservation_is_one_cancelled_row_that_takes_nothing(
    customer_client, member, clock
):
    points_adjust(member=member, points=500, actor="test", reason="welcome")
    clock.advance(minutes=5)
    hold = points_reserve(member=member, points=150, actor="test", reason="Reward: Mug")
    clock.advance(minutes=1)
    hold_release(hold=hold, actor="test")

    response = _history(customer_client, member)

    rows = response.context["rows"]
    assert [(r.state, r.points, r.counts, r.total_after) for r in rows] == [
        ("cancelled", -150, False, 500), ("adjusted", 500, True, 500),
    ]
    assert rows[0].reason == "Reward: Mug"
    page = response.content.decode()
    assert "Redemption cancelled" in page
    assert "Release" not in page


def test_an_active_reservation_shows_on_hold_without_moving_the_total(
    customer_client, member, clock
):
    points_adjust(member=member, points=500, actor="test", reason="welcome")
    clock.advance(minutes=5)
    points_reserve(member=member, points=200, actor="test", reason="Reward: Mug")

    response = _history(customer_client, member)

    [held, welcome] = response.context["rows"]
    assert (held.state, held.counts, held.total_after) == ("on_hold", False, 500)
    assert held.hold_until == clock.now() + timedelta(minutes=15)
    assert "Redemption on hold" in response.content.decode()


def test_a_pending_earn_is_marked_with_the_day_it_becomes_spendable(
    customer_client, member, clock
):
    points_credit(member=member, points=80, actor="test", reason="Order 1", pending_days=14)

    response = _history(customer_client, member)

    [row] = response.context["rows"]
    assert (row.state, row.points, row.total_after) == ("earned", 80, 80)
    assert row.pending_until == clock.now() + timedelta(days=14)
    assert "Pending: spendable from Jan. 29, 2026" in response.content.decode()


def test_points_becoming_spendable_add_no_second_row(customer_client, member, clock):
    points_credit(member=member, points=80, actor="test", reason="Order 1", pending_days=14)
    clock.advance(days=15)
    points_make_available(member=member)

    rows = _history(customer_client, member).context["rows"]

    assert [(r.state, r.points, r.pending_until) for r in rows] == [("earned", 80, None)]


def test_the_running_total_adds_up_across_every_kind_and_page(customer_client, member, clock):
    # given: earns (some pending), a redemption, a cancelled and an open hold, a direct spend,
    # an expiry, more than a page of rows
    member.program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    member.program.expiry_months = 1
    member.program.save()
    points_credit(member=member, points=300, actor="test", reason="Order 0")
    for n in range(HISTORY_PAGE_SIZE):
        clock.advance(days=1)
        points_credit(member=member, points=10 + n, actor="test", reason=f"Order {n + 1}",
                      pending_days=3 if n % 2 else 0)
        points_make_available(member=member)
    clock.advance(days=20)
    points_expire_due(member=member)
    clock.advance(minutes=1)
    hold = points_reserve(member=member, points=40, actor="test")
    hold_confirm(hold=hold, actor="test")
    clock.advance(minutes=1)
    hold_release(hold=points_reserve(member=member, points=30, actor="test"), actor="test")
    clock.advance(minutes=1)
    points_debit(member=member, points=5, actor="test", reason="till")
    clock.advance(minutes=1)
    points_credit(member=member, points=25, actor="test", reason="late", pending_days=7)
    clock.advance(minutes=1)
    points_reserve(member=member, points=20, actor="test")

    first = _history(customer_client, member).context["rows"]
    second = _history(customer_client, member, page=2).context["rows"]

    rows = first + second
    _assert_totals_add_up(rows, member)
    assert rows[-1].total_after == 300  # the oldest row: the first earn
    assert [r.state for r in first[:5]] == ["on_hold", "earned", "redeemed", "cancelled",
                                           "redeemed"]
    assert first[5].state == "expired"


def test_the_running_total_follows_the_dates_shown_even_if_posted_out_of_order(
    customer_client, member, clock
):
    later = clock.now()
    points_adjust(member=member, points=100, actor="test", reason="today")
    clock.set(later - timedelta(days=3))
    points_adjust(member=member, points=40, actor="test", reason="three days ago")

    rows = _history(customer_client, member).context["rows"]

    assert [(r.reason, r.total_after) for r in rows] == [("today", 140), ("three days ago", 40)]


def test_home_shows_points_on_hold_and_points_expiring_soon(customer_client, member, clock):
    member.program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    member.program.expiry_months = 1
    member.program.expiry_warning_days = 40
    member.program.save()
    points_credit(member=member, points=1200, actor="test", reason="Order")
    points_reserve(member=member, points=150, actor="test")

    response = customer_client.get(reverse("portal:home"))

    page = response.content.decode()
    assert "<dt>On hold</dt>" in page
    assert "<dd>150</dd>" in page
    assert "150 points are on hold for a redemption" in page
    assert "<dd>1,050 <span" in page  # spendable, grouped
    assert "Points expiring soon" in page
    assert "1,050 points expire on Feb. 15, 2026" in page
