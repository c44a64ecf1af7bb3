"""The daily rollup job: registered with run_jobs, idempotent, rewrites the days it re-runs."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.jobs import rollup
from analytics.models import ProgramDay, ProgramSnapshot, RewardDay, RuleDay
from analytics.services import rollup_program, rollup_since
from ledger.services import points_credit
from members.management.commands.run_jobs import discover_jobs

from .conftest import at

pytestmark = pytest.mark.django_db


def stored() -> dict[str, list[tuple]]:
    """Every rollup row's figures (ids and computation times aside)."""
    skip = {"id", "computed_at"}
    return {
        model.__name__: sorted(
            tuple(row[f] for f in sorted(row) if f not in skip)
            for row in model.objects.values()
        )
        for model in (ProgramDay, RuleDay, RewardDay)
    }


def test_run_jobs_knows_the_rollup():
    assert "analytics-rollup" in dict(discover_jobs())


def test_running_the_job_twice_writes_the_same_rows(known, clock):
    assert rollup(clock=clock, batch_size=500) == 2  # both merchants' programs
    first = stored()

    rollup(clock=clock, batch_size=500)

    assert stored() == first
    assert ProgramSnapshot.objects.filter(program=known.program).count() == 1
    assert ProgramDay.objects.filter(program=known.program, day=date(2025, 12, 10)).get().issued \
        == 1500


def test_re_running_a_day_rewrites_that_day(known, clock):
    rollup(clock=clock, batch_size=500)
    before = stored()
    ProgramDay.objects.filter(program=known.program, day=date(2025, 12, 20)).update(
        redeemed=999_999)
    RuleDay.objects.filter(program=known.program).delete()

    rollup_program(program=known.program, since=date(2025, 12, 1))

    assert stored() == before


def test_the_next_run_starts_the_day_before_the_last_one(known, clock):
    rollup(clock=clock, batch_size=500)
    clock.set(at("2026-01-16"))
    points_credit(member=known.a, points=5, actor="test")

    assert rollup_since(program=known.program) == date(2026, 1, 14)
    call_command("run_jobs", job=["analytics-rollup"])

    day = ProgramDay.objects.get(program=known.program, day=date(2026, 1, 16))
    assert day.issued == 5
    assert ProgramDay.objects.get(program=known.program, day=date(2025, 12, 10)).issued == 1500
    assert ProgramSnapshot.objects.filter(program=known.program).count() == 2  # one per day


def test_the_rollup_never_mixes_merchants(known, clock):
    rollup(clock=clock, batch_size=500)

    for model in (ProgramDay, RuleDay, RewardDay, ProgramSnapshot):
        for row in model.objects.select_related("program"):
            assert row.merchant_id == row.program.merchant_id
    rival_days = ProgramDay.objects.filter(program=known.other_program)
    assert sum(d.issued for d in rival_days) == 9000
    assert sum(d.issued for d in ProgramDay.objects.filter(program=known.program)) == 1880


def test_the_command_rewrites_the_days_from_a_date(known, clock):
    rollup(clock=clock, batch_size=500)
    before = stored()
    ProgramDay.objects.filter(program=known.program, day=date(2026, 1, 10)).delete()
    ProgramDay.objects.filter(program=known.other_program).update(issued=1)
    out = StringIO()

    call_command("analytics_rollup", "--since", "2026-01-01", "--program",
                 str(known.program.pk), stdout=out)

    assert f"{known.program.pk} Acme Rewards: rolled up from 2026-01-01" in out.getvalue()
    assert ProgramDay.objects.get(program=known.program, day=date(2026, 1, 10)).expired == 80
    assert not ProgramDay.objects.filter(program=known.other_program).exclude(issued=1).exists()
    call_command("analytics_rollup", "--all", stdout=StringIO())
    assert stored() == before
    with pytest.raises(CommandError, match="No live program"):
        call_command("analytics_rollup", "--all", "--program", "999999", stdout=StringIO())
