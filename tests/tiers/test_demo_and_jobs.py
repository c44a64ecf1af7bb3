"""The demo's ladder and streaks, and the jobs as ``run_jobs`` runs them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from ledger.selectors import member_ledger_discrepancies
from members.management.commands.run_jobs import discover_jobs
from members.models import Member, Program
from tiers.models import StreakPause, StreakReward, TierChange, TierOverride

pytestmark = pytest.mark.django_db


def _counts() -> tuple:
    return (TierChange.objects.count(), TierOverride.objects.count(),
            StreakPause.objects.count(), StreakReward.objects.count(),
            list(Member.objects.order_by("id").values_list(
                "tier__name", "streak", "streak_state", "balance")))


@pytest.mark.slow
def test_the_demo_has_every_tier_and_streak_state_and_a_second_run_adds_nothing(clock):
    call_command("loyalty_demo", stdout=StringIO())
    first = _counts()
    call_command("loyalty_demo", stdout=StringIO())

    assert _counts() == first
    program = Program.objects.get(merchant__slug="demo")
    members = Member.objects.filter(program=program)
    assert {m.tier.name for m in members} == {"Bronze", "Silver", "Gold"}
    assert {m.streak_state for m in members} == {"active", "paused", "broken"}
    assert TierOverride.objects.filter(ended_at__isnull=True).count() == 1
    assert StreakReward.objects.exists()  # four weeks of orders reached a milestone
    assert all(member_ledger_discrepancies(member_id=m.pk) == [] for m in members)


def test_run_jobs_knows_the_tier_jobs_and_runs_them(program, clock):
    names = [name for name, _ in discover_jobs()]
    assert names.index("streak-upkeep") < names.index("evaluate-tiers")

    out = StringIO()
    call_command("run_jobs", "--job", "evaluate-tiers", "--job", "streak-upkeep", stdout=out)

    assert "evaluate-tiers: 0" in out.getvalue()
    assert "streak-upkeep: 0" in out.getvalue()


def test_one_failing_program_does_not_stop_the_others(program, other_program, monkeypatch,
                                                      clock):
    from tiers import jobs, services
    from tiers.services import evaluation

    services.tier_create(program=program, name="A", rank=1, threshold_points=0)
    services.tier_create(program=other_program, name="B", rank=1, threshold_points=0)
    seen = []
    real = evaluation.tiers_evaluate

    def flaky(*, program_id, **kwargs):
        seen.append(program_id)
        if program_id == program.pk:
            raise RuntimeError("boom")
        return real(program_id=program_id, **kwargs)

    monkeypatch.setattr(evaluation, "tiers_evaluate", flaky)
    with pytest.raises(RuntimeError, match="1 program"):
        jobs.evaluate_tiers(clock=clock, batch_size=10)
    assert sorted(seen) == sorted([program.pk, other_program.pk])
