"""The PostgreSQL fast paths (ledger/_pg.py) write exactly what the ORM path writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from ledger import _pg, services
from ledger.models import Entry, Lot
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import InsufficientPoints, MemberInactive
from members.models import Member, Program

from ..factories import MemberFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the fast paths are PostgreSQL's"
    ),
]

ENTRY_FIELDS = [
    "kind", "points", "balance_delta", "pending_delta", "reserved_delta", "balance_after",
    "reference", "actor", "reason", "metadata", "created_at", "rule_id",
]
LOT_FIELDS = ["points", "remaining", "pending", "available_at", "expires_at", "created_at"]
MEMBER_FIELDS = ["balance", "pending_points", "reserved_points", "lifetime_points",
                 "last_activity_at"]


def _script(member: Member, clock) -> list[Entry]:
    returned = []
    returned.append(services.points_credit(member=member, points=100, actor="t", reason="a",
                                           reference="r1", metadata={"order": "o-1"}))
    returned.append(services.points_credit(member=member, points=40, actor="t",
                                           pending_days=None))
    returned.append(services.points_credit(member=member, points=30, actor="t",
                                           pending_days=3, lifetime=False))
    returned.append(services.points_credit(member=member, points=25, actor="t",
                                           expires_at=None))
    clock.advance(days=1)
    returned.append(services.points_debit(member=member, points=90, actor="t", reason="spend",
                                          metadata={"k": 1}))
    returned.append(services.points_debit(member=member, points=20, actor="t"))
    clock.advance(days=20)
    services.points_make_available(member=member)
    returned.append(services.points_debit(member=member, points=45, actor="t",
                                          kind=Entry.Kind.REDEEM, reference="r2"))
    return returned


def _rows(member: Member) -> tuple:
    entries = list(Entry.objects.filter(member=member).order_by("id").values(*ENTRY_FIELDS))
    lots = list(Lot.objects.filter(member=member).order_by("id").values(*LOT_FIELDS))
    figures = Member.objects.filter(pk=member.pk).values(*MEMBER_FIELDS).get()
    for entry in entries:  # lot ids differ between the two members
        entry["metadata"].pop("lots", None)
    return entries, lots, figures


def test_credit_and_debit_write_the_same_rows_on_both_paths(program, clock, monkeypatch):
    program.expiry_policy = Program.ExpiryPolicy.AFTER_EARN
    program.expiry_months = 1
    program.pending_days = 14
    program.save()
    fast, slow = MemberFactory(program=program), MemberFactory(program=program)
    start = clock.now()

    fast_returned = _script(fast, clock)
    clock.set(start)
    monkeypatch.setattr(_pg, "ENABLED", False)
    slow_returned = _script(slow, clock)

    assert _rows(fast) == _rows(slow)
    for a, b in zip(fast_returned, slow_returned, strict=True):
        assert (a.kind, a.points, a.balance_after, a.pending_delta) == (
            b.kind, b.points, b.balance_after, b.pending_delta
        )
        assert Entry.objects.get(pk=a.pk).metadata == a.metadata
    assert member_ledger_discrepancies(member_id=fast.pk) == []


def test_debit_allocations_are_first_to_expire_first(member, clock):
    first = services.points_credit(member=member, points=10, actor="t", expires_at=None)
    clock.advance(days=1)
    second = services.points_credit(member=member, points=10, actor="t",
                                    expires_at=clock.now().replace(year=2027))

    entry = services.points_debit(member=member, points=15, actor="t")

    assert entry.metadata["lots"] == [[second.lot.pk, 10], [first.lot.pk, 5]]


def test_fast_paths_leave_errors_to_the_orm_path(member, clock):
    services.points_credit(member=member, points=5, actor="t")
    with pytest.raises(InsufficientPoints):
        services.points_debit(member=member, points=6, actor="t")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    with pytest.raises(MemberInactive):
        services.points_credit(member=member, points=5, actor="t")
    with pytest.raises(MemberInactive):
        services.points_debit(member=member, points=1, actor="t")
    assert Entry.objects.filter(member=member).count() == 1
    # a system credit (a refund given back) still reaches a suspended member
    services.points_credit(member=member, points=5, actor="t", require_active=False)
    assert Member.objects.get(pk=member.pk).balance == 10


def _reserve_script(member: Member, clock) -> list:
    """Lots with several expiries, holds taken and confirmed as a redemption takes them (the
    member locked first, the hold confirmed with the member in hand)."""
    from ledger.locking import lock_member

    services.points_credit(member=member, points=30, actor="t", expires_at=None)
    services.points_credit(member=member, points=20, actor="t",
                           expires_at=clock.now() + timedelta(days=40))
    services.points_credit(member=member, points=25, actor="t",
                           expires_at=clock.now() + timedelta(days=10))
    holds = []
    for points, reference in ((30, "order-1"), (12, ""), (20, "order-3")):
        clock.advance(minutes=1)
        locked = lock_member(member.pk)
        holds.append(services.points_reserve(member=locked, points=points, actor="till",
                                             reason="Reward: Coffee", reference=reference,
                                             locked=True))
        assert locked.reserved_points == sum(h.points for h in holds)
    clock.advance(minutes=1)
    for hold, reference in ((holds[0], ""), (holds[1], "order-2")):
        locked = lock_member(member.pk)
        fresh = services.Hold.objects.select_for_update().get(pk=hold.pk)
        confirmed = services.hold_confirm(hold=fresh, actor="till", reason="Reward: Coffee",
                                          reference=reference, member=locked)
        assert confirmed.status == "confirmed"
        assert services.hold_confirm(hold=confirmed, actor="till", member=locked) is confirmed
    return holds


def _hold_rows(member: Member) -> tuple:
    from events.models import OutboxEvent

    lots = {pk: n for n, pk in enumerate(Lot.objects.filter(member=member).order_by("id")
                                         .values_list("id", flat=True))}
    entries = {pk: n for n, pk in enumerate(Entry.objects.filter(member=member).order_by("id")
                                            .values_list("id", flat=True))}
    holds = {pk: n for n, pk in enumerate(services.Hold.objects.filter(member=member)
                                          .order_by("id").values_list("id", flat=True))}
    held = [
        {**row, "allocations": [[lots[lot], taken] for lot, taken in row["allocations"]]}
        for row in services.Hold.objects.filter(member=member).order_by("id").values(
            "points", "status", "reference", "allocations", "expires_at", "created_at",
            "settled_at")
    ]
    entry_rows = [{**row, "metadata": {k: holds[v] if k == "hold" else v
                                       for k, v in row["metadata"].items()}}
                  for row in Entry.objects.filter(member=member).order_by("id")
                  .values(*ENTRY_FIELDS)]
    events = []
    for event in OutboxEvent.objects.filter(member=member).order_by("sequence"):
        data = dict(event.data)
        data["member"] = {k: v for k, v in data["member"].items()
                          if k not in ("id", "card_id", "external_id")}
        data["entry"] = {**data["entry"], "id": entries[data["entry"]["id"]]}
        events.append((event.type, event.sequence, data, event.created_at))
    figures = Member.objects.filter(pk=member.pk).values(*MEMBER_FIELDS, "event_sequence").get()
    lot_rows = list(Lot.objects.filter(member=member).order_by("id").values(*LOT_FIELDS))
    return held, entry_rows, lot_rows, events, figures


def test_reserve_and_confirm_write_the_same_rows_on_both_paths(program, clock, monkeypatch):
    program.reservation_ttl_minutes = 30
    program.save()
    fast, slow = MemberFactory(program=program), MemberFactory(program=program)
    start = clock.now()
    calls: list[str] = []
    for name in ("reserve", "confirm"):  # the fast run takes the fast paths (else trivial)
        original = getattr(_pg, name)
        monkeypatch.setattr(_pg, name, lambda _f=original, _n=name, **kw: (
            calls.append(_n), _f(**kw))[1])

    fast_holds = _reserve_script(fast, clock)
    assert calls == ["reserve"] * 3 + ["confirm"] * 2
    clock.set(start)
    monkeypatch.setattr(_pg, "ENABLED", False)
    slow_holds = _reserve_script(slow, clock)

    assert _hold_rows(fast) == _hold_rows(slow)
    for a, b in zip(fast_holds, slow_holds, strict=True):  # the returned holds, as stored
        assert services.Hold.objects.filter(pk=a.pk).values(
            "points", "allocations", "expires_at", "created_at").get() == {
            "points": a.points, "allocations": a.allocations, "expires_at": a.expires_at,
            "created_at": a.created_at}
        assert (a.points, a.status, a.reference) == (b.points, b.status, b.reference)
    assert member_ledger_discrepancies(member_id=fast.pk) == []


def test_a_fast_reservation_refuses_what_the_orm_path_refuses(member, clock):
    from ledger.locking import lock_member

    services.points_credit(member=member, points=5, actor="t")
    with pytest.raises(InsufficientPoints):
        services.points_reserve(member=lock_member(member.pk), points=6, actor="t",
                                locked=True)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    with pytest.raises(MemberInactive):
        services.points_reserve(member=lock_member(member.pk), points=1, actor="t",
                                locked=True)
    assert not services.Hold.objects.filter(member=member).exists()
