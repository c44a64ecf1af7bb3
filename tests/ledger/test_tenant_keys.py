"""A member-owned row's merchant and program are its member's, held by the database itself
(PostgreSQL: one foreign key to the member's (id, program, merchant) key,
``loyaltysite.migration_ops.AnchorToMember``): a cross-merchant row cannot be written even by
code that forgets to check."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import Entry
from rules.models import Award, EarningRule, Order
from rules.services import rule_create

from ..factories import FIXED_NOW, MemberFactory, ProgramFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the composite foreign keys are PostgreSQL's"),
]

ANCHORED = ("ledger_entry", "ledger_hold", "rules_order", "rules_event", "rules_award")


def immediately(write) -> None:
    """Run ``write`` and check the deferred foreign keys at once, as COMMIT would."""
    with transaction.atomic():
        write()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def member():
    return MemberFactory()


@pytest.fixture
def rule(member) -> EarningRule:
    return rule_create(program=member.program, name="Double", kind="order",
                       config={"multiplier": "2"})


def award(member, rule, **fields) -> Award:
    values = {"merchant_id": member.merchant_id, "program_id": member.program_id,
              "member": member, "rule": rule, "points": 5, "created_at": FIXED_NOW}
    return Award(**{**values, **fields})


def test_a_row_of_the_members_own_merchant_and_program_is_written(member, rule):
    immediately(lambda: award(member, rule).save())

    assert Award.objects.filter(member=member).count() == 1


def test_an_award_naming_another_merchant_than_its_members_is_refused(member, rule):
    other = ProgramFactory()

    with pytest.raises(IntegrityError, match="tenant_fk"):
        immediately(lambda: award(member, rule, merchant_id=other.merchant_id).save())
    assert not Award.objects.filter(member=member).exists()


def test_an_order_naming_another_program_of_the_same_merchant_is_refused(member):
    sibling = ProgramFactory(merchant=member.merchant, currency=member.program.currency)

    def write():
        Order.objects.create(
            merchant_id=member.merchant_id, program_id=sibling.pk, member=member,
            order_id="X-1", currency=sibling.currency, amount="10.00", items=[],
            points_earned=0, awards=[], actor="t", occurred_at=FIXED_NOW, created_at=FIXED_NOW,
        )

    with pytest.raises(IntegrityError, match="tenant_fk"):
        immediately(write)


def test_an_entry_for_another_merchants_member_is_refused(member):
    stranger = MemberFactory()

    def write():
        Entry.objects.create(
            merchant_id=member.merchant_id, program_id=member.program_id, member=stranger,
            kind=Entry.Kind.ADJUST, points=5, balance_delta=5, balance_after=5,
            actor="t", reason="test", created_at=FIXED_NOW,
        )

    with pytest.raises(IntegrityError, match="tenant_fk"):
        immediately(write)


def test_every_member_owned_table_has_one_foreign_key_for_member_merchant_and_program():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, c.confrelid::regclass::text,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                         ORDER BY k.i)::text[]
              FROM pg_constraint c
             WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
            """,
            [list(ANCHORED)],
        )
        keys = cursor.fetchall()

    for table in ANCHORED:
        tenant = [(name, target, columns) for t, name, target, columns in keys
                  if t == table and {"member_id", "merchant_id", "program_id"} & set(columns)]
        assert tenant == [(f"{table}_tenant_fk", "members_member",
                           ["member_id", "program_id", "merchant_id"])], table
