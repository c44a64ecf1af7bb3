"""The member look-up a checkout makes: one prepared statement, the member with its customer
and tier, values as the ORM gives them, scoped to the program, locking when asked."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyaltysite.errors import MemberNotFound
from members.models import Member
from members.selectors import member_find, member_get
from tiers.services import tier_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiered(program, member):
    silver = tier_create(program=program, name="Silver", rank=1, threshold_points=0)
    Member.objects.filter(pk=member.pk).update(tier=silver, tier_value=Decimal("12.50"))
    return Member.objects.select_related("customer", "tier").get(pk=member.pk)


@pytest.mark.parametrize("how", ["id", "card", "dashed card", "external_id"])
def test_a_member_comes_with_customer_and_tier_in_one_query(program, tiered, how):
    naming = {
        "id": {"member_id": str(tiered.pk)},
        "card": {"card_id": tiered.card_id},
        "dashed card": {"member_id": tiered.card_id_display},
        "external_id": {"external_id": tiered.customer.external_id},
    }[how]

    with CaptureQueriesContext(connection) as queries:
        found = member_find(program=program, **naming)
        customer, tier = found.customer, found.tier

    assert len(queries) == 1
    assert found.pk == tiered.pk
    assert customer.external_id == tiered.customer.external_id
    assert tier.name == "Silver"
    assert found.program is program
    for field in Member._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(tiered, field.attname), field.name
    assert isinstance(found.enrolled_at, datetime)
    assert found.enrolled_at.tzinfo is not None
    assert found.tier_value == Decimal("12.50")


def test_a_member_without_a_tier_has_none(program, member):
    found = member_get(program=program, ident=member.pk)

    assert found.tier is None
    assert found.customer.pk == member.customer_id


def test_another_programs_member_is_not_found(program, other_member):
    with pytest.raises(MemberNotFound):
        member_get(program=program, ident=other_member.pk)
    with pytest.raises(MemberNotFound):
        member_find(program=program, external_id=other_member.customer.external_id)
    with pytest.raises(MemberNotFound):
        member_find(program=program, card_id=other_member.card_id)


def test_a_malformed_card_id_is_not_found_without_a_query(program):
    with CaptureQueriesContext(connection) as queries, pytest.raises(MemberNotFound):
        member_find(program=program, card_id="not-a-card")
    assert len(queries) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
def test_a_locking_look_up_locks_only_the_member_row(program, member):
    with CaptureQueriesContext(connection) as queries:
        member_get(program=program, ident=member.pk, lock=True)

    assert "FOR UPDATE OF m" in queries[0]["sql"]
