"""The ledger's transaction manager: credits, debits, adjusts, holds, reversals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import services
from ledger.models import Entry, Hold
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
