"""The ledger's transaction manager: credits, debits, adjusts, holds, reversals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import services
from ledger.models import Entry, Hold, Lot
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import InsufficientPoints, MemberInactive, RedemptionExpired, Unprocessable
from members.models import Member, Program

pytestmark = pytest.mark.django_db


def _fresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)


def test_credit_adds_to_balance_and_lifetime(member, clock):
    entry = services.points_credit(member=member, points=120, actor="test", reason="welcome")

    member = _fresh(member)
    assert (member.balance, member.lifetime_points, member.pending_points) == (120, 120, 0)
    assert entry.balance_after == 120
    assert entry.kind == Entry.Kind.EARN
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_debit_more_than_balance_is_rejected_and_writes_nothing(member, clock):
    services.points_credit(member=member, points=50, actor="test")

    with pytest.raises(InsufficientPoints):
        services.points_debit(member=member, points=51, actor="test")

    assert _fresh(member).balance == 50
    assert Entry.objects.filter(member=member).count() == 1


def test_debit_consumes_lots_first_to_expire_first(member, clock):
    program = member.program
    program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    program.expiry_months = 6
    program.save()
    later = services.points_credit(member=member, points=100, actor="t", expires_at=None)
    sooner = services.points_credit(member=member, points=100, actor="t")

    services.points_debit(member=member, points=150, actor="t")

    assert sooner.lot.__class__.objects.get(pk=sooner.lot.pk).remaining == 0
    assert later.lot.__class__.objects.get(pk=later.lot.pk).remaining == 50
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_pending_points_are_not_spendable_until_available(member, clock):
    services.points_credit(member=member, points=80, actor="t", pending_days=14)
    member = _fresh(member)
    assert (member.balance, member.pending_points, member.lifetime_points) == (0, 80, 0)
    with pytest.raises(InsufficientPoints):
        services.points_debit(member=member, points=10, actor="t")

    clock.advance(days=14)
    services.points_make_available(member=member)

    member = _fresh(member)
    assert (member.balance, member.pending_points, member.lifetime_points) == (80, 0, 80)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_expiry_turns_what_remains_into_an_expire_entry(member, clock):
    program = member.program
    program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    program.expiry_months = 1
    program.save()
    services.points_credit(member=member, points=100, actor="t")
    services.points_debit(member=member, points=30, actor="t")

    clock.advance(days=31)
    entry = services.points_expire_due(member=member)

    assert entry.points == -70
    member = _fresh(member)
    assert member.balance == 0
    assert member.lifetime_points == 100
    assert services.points_expire_due(member=member) is None
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_signed_adjust_needs_a_reason_and_never_goes_below_zero(member, clock):
    services.points_adjust(member=member, points=40, actor="staff:1", reason="goodwill")
    with pytest.raises(InsufficientPoints):
        services.points_adjust(member=member, points=-41, actor="staff:1", reason="fix")
    services.points_adjust(member=member, points=-40, actor="staff:1", reason="fix")
    assert _fresh(member).balance == 0
    assert _fresh(member).lifetime_points == 40


def test_reserve_confirm_and_release(member, clock):
    services.points_credit(member=member, points=100, actor="t")
    hold = services.points_reserve(member=member, points=60, actor="t")
    m = _fresh(member)
    assert (m.balance, m.reserved_points) == (40, 60)

    services.hold_confirm(hold=hold, actor="t")
    services.hold_confirm(hold=hold, actor="t")  # idempotent
    m = _fresh(member)
    assert (m.balance, m.reserved_points) == (40, 0)
    with pytest.raises(Unprocessable):
        services.hold_release(hold=hold, actor="t")

    second = services.points_reserve(member=member, points=40, actor="t")
    services.hold_release(hold=second, actor="t")
    services.hold_release(hold=second, actor="t")  # idempotent
    m = _fresh(member)
    assert (m.balance, m.reserved_points) == (40, 0)
    assert Hold.objects.get(pk=second.pk).status == Hold.Status.RELEASED
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_confirm_after_ttl_is_expired(member, clock):
    services.points_credit(member=member, points=100, actor="t")
    hold = services.points_reserve(member=member, points=10, actor="t", ttl=timedelta(minutes=5))
    clock.advance(minutes=6)
    with pytest.raises(RedemptionExpired):
        services.hold_confirm(hold=hold, actor="t")


def test_reverse_takes_pending_first_and_never_below_zero(member, clock):
    earned = services.points_credit(member=member, points=100, actor="t", pending_days=30)
    result = services.points_reverse(entry=earned, points=40, actor="t")
    m = _fresh(member)
    assert (result.reversed_points, result.shortfall) == (40, 0)
    assert (m.pending_points, m.balance) == (60, 0)

    spendable = services.points_credit(member=member, points=50, actor="t")
    services.points_debit(member=member, points=45, actor="t")
    result = services.points_reverse(entry=spendable, points=50, actor="t")
    assert (result.reversed_points, result.shortfall) == (5, 45)
    assert result.entry.metadata["shortfall"] == 45
    assert _fresh(member).balance == 0
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_operations_on_a_suspended_member_are_rejected(member, clock):
    member.status = Member.Status.SUSPENDED
    member.save()
    with pytest.raises(MemberInactive):
        services.points_credit(member=member, points=1, actor="t")


def _expiring(program: Program, policy: str = Program.ExpiryPolicy.AFTER_EARN, months=3) -> None:
    program.expiry_policy = policy
    program.expiry_months = months
    program.save()


def _remaining(*entries: Entry) -> list[int]:
    return [Lot.objects.get(entry=e).remaining for e in entries]


def test_debits_drain_lots_by_expiry_then_age_with_never_expiring_lots_last(member, clock):
    # given: lots earned on different days, with different expiries
    _expiring(member.program, months=3)
    never = services.points_credit(member=member, points=10, actor="t", expires_at=None)
    clock.advance(days=10)
    late = services.points_credit(member=member, points=10, actor="t")  # expires day 10 + 3m
    early = services.points_credit(
        member=member, points=10, actor="t", expires_at=clock.now() + timedelta(days=5)
    )
    same_as_late = services.points_credit(
        member=member, points=10, actor="t", expires_at=Lot.objects.get(entry=late).expires_at
    )

    # when / then: each debit takes from the soonest expiry, ties broken by age
    services.points_debit(member=member, points=12, actor="t")
    assert _remaining(early, late, same_as_late, never) == [0, 8, 10, 10]
    services.points_debit(member=member, points=13, actor="t")
    assert _remaining(early, late, same_as_late, never) == [0, 0, 5, 10]
    services.points_debit(member=member, points=9, actor="t")
    assert _remaining(early, late, same_as_late, never) == [0, 0, 0, 6]
    assert _fresh(member).balance == 6
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_partly_consumed_lot_expires_only_what_remains(member, clock):
    _expiring(member.program, months=1)
    first = services.points_credit(member=member, points=100, actor="t")
    clock.advance(days=20)
    second = services.points_credit(member=member, points=50, actor="t")
    services.points_debit(member=member, points=60, actor="t")  # all from the first lot
    hold = services.points_reserve(  # 30 more from the first lot
        member=member, points=30, actor="t", ttl=timedelta(days=30)
    )

    clock.advance(days=11)  # the first lot expires, the second does not
    expired = services.points_expire_due(member=member)

    assert expired.points == -10
    assert _remaining(first, second) == [0, 50]
    m = _fresh(member)
    assert (m.balance, m.reserved_points, m.lifetime_points) == (50, 30, 150)
    # the hold keeps the points it took: confirming spends them, nothing comes back
    services.hold_confirm(hold=hold, actor="t")
    assert _fresh(member).balance == 50
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_inactivity_expiry_takes_everything_only_after_the_inactive_period(member, clock):
    # given
    _expiring(member.program, Program.ExpiryPolicy.INACTIVITY, months=2)
    services.points_credit(member=member, points=70, actor="t")
    services.points_credit(member=member, points=30, actor="t", pending_days=90)
    assert Lot.objects.filter(member=member, expires_at__isnull=False).count() == 0

    # when: activity within the period pushes the deadline out
    clock.advance(days=50)
    services.points_debit(member=member, points=20, actor="t")
    clock.advance(days=50)  # 100 days since earning, 50 since the debit
    assert services.points_expire_due(member=member) is None
    clock.advance(days=12)  # 62 days since the last activity
    expired = services.points_expire_due(member=member)

    # then: spendable and pending alike are gone; lifetime is kept
    assert (expired.points, expired.balance_delta, expired.pending_delta) == (-80, -50, -30)
    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (0, 0, 70)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_an_adjustment_alone_does_not_count_as_activity(member, clock):
    _expiring(member.program, Program.ExpiryPolicy.INACTIVITY, months=1)
    services.points_adjust(member=member, points=40, actor="staff:1", reason="goodwill")
    clock.advance(days=31)
    assert services.points_expire_due(member=member).points == -40


def test_reversing_a_credit_while_pending_takes_it_before_it_becomes_spendable(member, clock):
    # given: an order's points in their return window, and older spendable points
    services.points_credit(member=member, points=50, actor="t")
    order = services.points_credit(member=member, points=80, actor="t", pending_days=14)

    # when: the order is refunded in full inside the window
    result = services.points_reverse(entry=order, points=80, actor="t", reason="refund")

    # then: only the pending points go; nothing becomes spendable when the window closes
    assert (result.reversed_points, result.shortfall) == (80, 0)
    assert (result.entry.pending_delta, result.entry.balance_delta) == (-80, 0)
    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (50, 0, 50)
    clock.advance(days=14)
    assert services.points_make_available(member=member) is None
    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (50, 0, 50)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_partial_reversal_while_pending_leaves_the_rest_to_become_spendable(member, clock):
    order = services.points_credit(member=member, points=80, actor="t", pending_days=14)
    services.points_reverse(entry=order, points=30, actor="t", reason="partial refund")

    clock.advance(days=14)
    available = services.points_make_available(member=member)

    assert available.points == 50
    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (50, 0, 50)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_released_hold_gives_points_back_to_the_lots_they_came_from(member, clock):
    _expiring(member.program, months=1)
    soon = services.points_credit(member=member, points=20, actor="t")
    clock.advance(days=10)
    later = services.points_credit(member=member, points=20, actor="t")
    hold = services.points_reserve(member=member, points=25, actor="t")
    assert _remaining(soon, later) == [0, 15]

    services.hold_release(hold=hold, actor="t")

    assert _remaining(soon, later) == [20, 20]
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_debit_spanning_more_lots_than_one_page_takes_them_all_in_order(member, clock):
    earned = [services.points_credit(member=member, points=1, actor="t") for _ in range(170)]

    services.points_debit(member=member, points=165, actor="t")

    assert _remaining(*earned) == [0] * 165 + [1] * 5
    assert member_ledger_discrepancies(member_id=member.pk) == []
