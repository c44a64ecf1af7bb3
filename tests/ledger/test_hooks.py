"""Hooks after a posting hear the entry and the member's figures, in the posting's transaction."""

from __future__ import annotations

import pytest

from ledger import _pg, hooks, services
from ledger.models import Entry
from members.models import Member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["fast", "orm"])
def heard(request, monkeypatch):
    """The ``Posted`` records a hook receives, on the fast path and on the ORM path."""
    monkeypatch.setattr(_pg, "ENABLED", request.param == "fast")
    received: list[hooks.Posted] = []
    hooks.register_after_post(received.append)
    yield received
    hooks.unregister_after_post(received.append)


def test_hooks_hear_each_posting_with_the_figures_after_it(member, clock, heard):
    services.points_credit(member=member, points=100, actor="t")
    services.points_credit(member=member, points=40, actor="t", pending_days=14)
    services.points_debit(member=member, points=30, actor="t")
    services.points_adjust(member=member, points=-5, actor="t", reason="fix")

    assert [(p.entry.kind, p.entry.points) for p in heard] == [
        ("earn", 100), ("earn", 40), ("redeem", -30), ("adjust", -5)]
    assert [(p.balance, p.pending_points, p.lifetime_points, p.lifetime_delta) for p in heard] == [
        (100, 0, 100, 100), (100, 40, 100, 0), (70, 40, 100, 0), (65, 40, 100, 0)]
    assert {p.member_id for p in heard} == {member.pk}
    assert {p.program_id for p in heard} == {member.program_id}


def test_a_failing_hook_rolls_the_posting_back(member, clock, heard):
    def refuse(posted: hooks.Posted) -> None:
        raise RuntimeError("no")

    hooks.register_after_post(refuse)
    try:
        with pytest.raises(RuntimeError):
            services.points_credit(member=member, points=100, actor="t")
    finally:
        hooks.unregister_after_post(refuse)
    assert not Entry.objects.filter(member=member).exists()
    assert Member.objects.get(pk=member.pk).balance == 0
