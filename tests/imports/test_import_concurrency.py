"""Two imports of the same new customers at once: one creates them, the other finds them."""

from __future__ import annotations

import pytest

from members.imports import CustomerRow, members_import
from members.models import Customer, Member
from tests.concurrency import in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def test_two_imports_racing_on_the_same_new_customers_create_each_once(program):
    rows = [CustomerRow(external_id=f"moved-{i}", email=f"moved{i}@example.com")
            for i in range(50)]

    results = in_threads(4, lambda _: members_import(program=program, rows=rows))

    assert all(result == results[0] for result in results)
    assert Customer.objects.filter(external_id__startswith="moved-").count() == 50
    assert Member.objects.filter(program=program).count() == 50
