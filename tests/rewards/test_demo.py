"""The demo data: a catalog, some redeemed with vouchers, some reserved; twice adds nothing."""

from __future__ import annotations

import pytest

from ledger.selectors import member_ledger_discrepancies
from rewards import demo
from rewards.models import Redemption, Reward, Voucher
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_catalog_with_redemptions_once(program, clock):
    members = [MemberFactory(program=program) for _ in range(6)]

    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)
    counts = (Reward.objects.count(), Redemption.objects.count(), Voucher.objects.count())
    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)

    assert counts == (len(demo.CATALOG), 8, 4)
    assert (Reward.objects.count(), Redemption.objects.count(), Voucher.objects.count()) == counts
    statuses = set(Redemption.objects.values_list("status", flat=True))
    assert statuses == {"reserved", "confirmed"}
    assert set(Voucher.objects.values_list("status", flat=True)) == {"issued", "used"}
    assert all(member_ledger_discrepancies(member_id=m.pk) == [] for m in members)
