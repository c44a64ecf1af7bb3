"""The demo writes each member's history in date order, so its running balance reads right."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from members.models import Member

pytestmark = pytest.mark.django_db


def test_the_demo_posts_every_members_entries_in_date_order():
    call_command("loyalty_demo", stdout=io.StringIO())

    members = list(Member.objects.all())
    assert len(members) > 8
    for member in members:
        dates = list(
            Entry.objects.filter(member=member).order_by("id").values_list("created_at", flat=True)
        )
        assert dates == sorted(dates), member.customer.name
        assert member_ledger_discrepancies(member_id=member.pk) == []
