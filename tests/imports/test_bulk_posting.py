"""The ledger's bulk posting of opening balances (``ledger.services.points_open_bulk``)."""

from __future__ import annotations

import pytest

from events.models import OutboxEvent
from ledger.models import Entry, IdempotencyKey, Lot
from ledger.selectors import member_ledger_discrepancies
from ledger.services import Opening, points_adjust, points_open_bulk
from loyaltysite.errors import MemberInactive, ValidationFailed
from members.models import Member
from members.services import member_set_status
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def opening(member, points, tag="x"):
    return Opening(member_id=member.pk, points=points, key=f"opening:{tag}:{member.pk}",
                   reference=f"import:{member.pk}")


def test_each_opening_is_one_entry_one_lot_and_one_event(program, clock):
    members = [MemberFactory(program=program) for _ in range(3)]
    points_adjust(member=members[0], points=5, reason="before", actor="test")

    posted = points_open_bulk(program=program, actor="staff:1",
                              openings=[opening(m, 10 * (i + 1)) for i, m in enumerate(members)])

    assert set(posted) == {m.pk for m in members}
    balances = dict(Member.objects.filter(program=program).values_list("id", "balance"))
    assert balances == {members[0].pk: 15, members[1].pk: 20, members[2].pk: 30}
    assert posted[members[0].pk].balance_after == 15
    assert Lot.objects.filter(entry__in=posted.values()).count() == 3
    events = OutboxEvent.objects.filter(type="points.adjusted", member=members[0])
    assert [e.data["member"]["balance"] for e in events.order_by("sequence")] == [5, 15]
    assert [e.sequence for e in OutboxEvent.objects.filter(member=members[0])
            .order_by("sequence")] == [1, 2]
    for member in members:
        assert not member_ledger_discrepancies(member_id=member.pk)


def test_posting_the_same_openings_again_writes_nothing(program, clock):
    member = MemberFactory(program=program)
    points_open_bulk(program=program, actor="a", openings=[opening(member, 40)])

    again = points_open_bulk(program=program, actor="a", openings=[opening(member, 40)])

    assert again == {}
    assert Entry.objects.filter(member=member).count() == 1
    assert IdempotencyKey.objects.filter(program=program).count() == 1
    member.refresh_from_db()
    assert member.balance == 40


def test_an_inactive_member_refuses_the_whole_batch(program, clock):
    active, suspended = MemberFactory(program=program), MemberFactory(program=program)
    member_set_status(member=suspended, status=Member.Status.SUSPENDED)

    with pytest.raises(MemberInactive):
        points_open_bulk(program=program, actor="a",
                         openings=[opening(active, 10), opening(suspended, 10)])

    assert not Entry.objects.exists()
    assert not IdempotencyKey.objects.exists()
    active.refresh_from_db()
    assert active.balance == 0


def test_a_member_of_another_program_is_refused(program, other_member, clock):
    with pytest.raises(ValidationFailed):
        points_open_bulk(program=program, actor="a", openings=[opening(other_member, 10)])

    assert not Entry.objects.exists()


@pytest.mark.parametrize("points", [0, -5, 2**31])
def test_bad_points_are_refused_before_anything_is_written(program, clock, points):
    member = MemberFactory(program=program)

    with pytest.raises(ValidationFailed):
        points_open_bulk(program=program, actor="a", openings=[opening(member, points)])

    assert not IdempotencyKey.objects.exists()
