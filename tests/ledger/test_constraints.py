"""The database itself refuses rows that break the ledger's invariants.

Rows are written directly (``_base_manager``, bypassing the services) so only the database's
check and unique constraints stand in the way. Each test first shows that a good row of the
same shape is accepted, so a refusal is about the broken field and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from ledger.models import Entry, Hold, IdempotencyKey, Lot
from members.models import Customer, Member
from tests.factories import FIXED_NOW, CustomerFactory

pytestmark = pytest.mark.django_db


def _refused(model: type, **fields: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        model._base_manager.create(**fields)


def _entry(member: Member, **overrides: Any) -> dict[str, Any]:
    fields = {
        "merchant_id": member.merchant_id, "program_id": member.program_id,
        "member_id": member.pk, "kind": Entry.Kind.EARN, "points": 10, "balance_delta": 10,
        "balance_after": 10, "actor": "test", "created_at": FIXED_NOW,
    }
    return {**fields, **overrides}


def _lot(entry: Entry, **overrides: Any) -> dict[str, Any]:
    fields = {
        "merchant_id": entry.merchant_id, "member_id": entry.member_id, "entry": entry,
        "points": 10, "remaining": 10, "available_at": FIXED_NOW, "created_at": FIXED_NOW,
    }
    return {**fields, **overrides}


@pytest.mark.parametrize("field", ["balance", "pending_points", "reserved_points",
                                   "lifetime_points"])
def test_a_member_figure_can_never_be_negative(member, field):
    Member._base_manager.filter(pk=member.pk).update(**{field: 0})

    with pytest.raises(IntegrityError), transaction.atomic():
        Member._base_manager.filter(pk=member.pk).update(**{field: -1})

    assert getattr(Member._base_manager.get(pk=member.pk), field) == 0


def test_a_well_formed_entry_and_lot_are_accepted(member):
    entry = Entry._base_manager.create(**_entry(member))
    Lot._base_manager.create(**_lot(entry))
    Entry._base_manager.create(**_entry(
        member, kind=Entry.Kind.RESERVE, points=-4, balance_delta=-4, reserved_delta=4,
        balance_after=6,
    ))
    assert Entry._base_manager.filter(member=member).count() == 2


def test_an_entry_of_zero_points_is_refused(member):
    _refused(Entry, **_entry(member, points=0, balance_delta=0))


def test_an_entry_leaving_a_negative_balance_is_refused(member):
    _refused(Entry, **_entry(member, balance_after=-1))


@pytest.mark.parametrize("kind", ["earn", "release", "available"])
def test_a_credit_kind_with_negative_points_is_refused(member, kind):
    fields = (
        {"balance_delta": -10} if kind == "earn" else {"balance_delta": -10, "reserved_delta": 10}
    )
    _refused(Entry, **_entry(member, kind=kind, points=-10, **fields))


@pytest.mark.parametrize("kind", ["redeem", "reserve", "expire", "reverse"])
def test_a_debit_kind_with_positive_points_is_refused(member, kind):
    fields = (
        {"balance_delta": 10, "reserved_delta": -10} if kind == "reserve"
        else {"balance_delta": 10}
    )
    _refused(Entry, **_entry(member, kind=kind, points=10, **fields))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "earn", "points": 10, "balance_delta": 5}, id="earn-half-booked"),
        pytest.param(
            {"kind": "adjust", "points": -5, "balance_delta": -5, "pending_delta": 5},
            id="adjust-moved-into-pending",
        ),
        pytest.param(
            {"kind": "reserve", "points": -10, "balance_delta": -10, "reserved_delta": 5},
            id="reserve-lost-points",
        ),
        pytest.param(
            {"kind": "available", "points": 10, "balance_delta": 10, "pending_delta": 0},
            id="available-from-nowhere",
        ),
        pytest.param(
            {"kind": "expire", "points": -10, "balance_delta": 0}, id="expire-moved-nothing"
        ),
    ],
)
def test_deltas_that_do_not_match_the_kind_are_refused(member, fields):
    _refused(Entry, **_entry(member, **fields))


@pytest.mark.parametrize(
    ("points", "remaining"), [(10, 11), (10, -1), (0, 0), (-5, -5)],
    ids=["remaining-above-points", "remaining-negative", "zero-lot", "negative-lot"],
)
def test_a_lot_outside_its_bounds_is_refused(member, points, remaining):
    entry = Entry._base_manager.create(**_entry(member))
    _refused(Lot, **_lot(entry, points=points, remaining=remaining))


def test_a_lot_can_never_be_drained_below_zero(member):
    entry = Entry._base_manager.create(**_entry(member))
    lot = Lot._base_manager.create(**_lot(entry))
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot._base_manager.filter(pk=lot.pk).update(remaining=-1)


def test_a_hold_of_no_points_is_refused(member):
    _refused(
        Hold, merchant_id=member.merchant_id, program_id=member.program_id, member_id=member.pk,
        points=0, expires_at=FIXED_NOW, created_at=FIXED_NOW,
    )


def test_an_idempotency_key_is_unique_per_merchant(merchant, other_merchant, program):
    fields = {"key": f"{program.pk}:abc", "fingerprint": "f", "created_at": FIXED_NOW}
    IdempotencyKey._base_manager.create(merchant=merchant, program=program, **fields)

    _refused(IdempotencyKey, merchant=merchant, program=program, **fields)
    IdempotencyKey._base_manager.create(merchant=other_merchant, **fields)  # another tenant


def test_a_customer_external_id_is_unique_within_a_merchant_only(merchant, other_merchant):
    CustomerFactory(merchant=merchant, external_id="C-1")

    _refused(Customer, merchant=merchant, external_id="C-1")
    Customer._base_manager.create(merchant=other_merchant, external_id="C-1")
    # customers with no external id are not duplicates of one another
    Customer._base_manager.create(merchant=merchant, external_id="")
    Customer._base_manager.create(merchant=merchant, external_id="")


def test_a_customer_is_enrolled_once_per_program(member):
    _refused(
        Member, merchant_id=member.merchant_id, program_id=member.program_id,
        customer_id=member.customer_id, enrolled_at=FIXED_NOW,
    )
