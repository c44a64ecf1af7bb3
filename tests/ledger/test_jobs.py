"""The ledger's scheduled jobs and the ``run_jobs`` command, with the clock moved by the test."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ledger import jobs, services
from ledger.idempotency import run_idempotent
from ledger.models import Entry, IdempotencyKey
from ledger.selectors import member_ledger_discrepancies
from members.management.commands.run_jobs import discover_jobs
from members.models import Member, Program
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _fresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)


def _set_expiry(program: Program, policy: str, months: int) -> None:
    program.expiry_policy = policy
    program.expiry_months = months
    program.save()


def _entry_count() -> int:
    return Entry.objects.count()


def test_expire_job_expires_due_points_and_a_second_run_changes_nothing(program, clock):
    # given
    _set_expiry(program, Program.ExpiryPolicy.AFTER_EARN, 1)
    members = MemberFactory.create_batch(3, program=program)
    for m in members:
        services.points_credit(member=m, points=100, actor="t")
    services.points_debit(member=members[0], points=30, actor="t")
    clock.advance(days=10)
    fresh_lot = services.points_credit(member=members[1], points=5, actor="t")

    # when: nothing is due yet, then the first lots are
    assert jobs.expire_points(clock=clock, batch_size=100) == 0
    clock.advance(days=25)
    handled = jobs.expire_points(clock=clock, batch_size=100)

    # then
    assert handled == 3
    assert [_fresh(m).balance for m in members] == [0, 5, 0]
    assert Entry.objects.get(member=members[0], kind=Entry.Kind.EXPIRE).points == -70
    assert fresh_lot.lot.__class__.objects.get(pk=fresh_lot.lot.pk).remaining == 5
    before = _entry_count()
    assert jobs.expire_points(clock=clock, batch_size=100) == 0
    assert _entry_count() == before
    for m in members:
        assert _fresh(m).lifetime_points >= 100
        assert member_ledger_discrepancies(member_id=m.pk) == []


def test_pending_job_makes_points_spendable_only_once_the_window_closes(program, clock):
    member = MemberFactory(program=program)
    services.points_credit(member=member, points=80, actor="t", pending_days=14)
    services.points_credit(member=member, points=20, actor="t", pending_days=20)

    clock.advance(days=13)
    assert jobs.make_pending_spendable(clock=clock, batch_size=10) == 0
    clock.advance(days=1)
    assert jobs.make_pending_spendable(clock=clock, batch_size=10) == 1
    assert jobs.make_pending_spendable(clock=clock, batch_size=10) == 0

    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (80, 20, 80)
    clock.advance(days=6)
    assert jobs.make_pending_spendable(clock=clock, batch_size=10) == 1
    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (100, 0, 100)
    assert member_ledger_discrepancies(member_id=m.pk) == []


def test_pending_job_skips_lots_fully_reversed_while_pending(program, clock):
    member = MemberFactory(program=program)
    earned = services.points_credit(member=member, points=50, actor="t", pending_days=7)
    services.points_reverse(entry=earned, points=50, actor="t")

    clock.advance(days=7)
    assert jobs.make_pending_spendable(clock=clock, batch_size=10) == 0

    m = _fresh(member)
    assert (m.balance, m.pending_points, m.lifetime_points) == (0, 0, 0)
    assert not Entry.objects.filter(member=member, kind=Entry.Kind.AVAILABLE).exists()
    assert member_ledger_discrepancies(member_id=m.pk) == []


def test_batches_smaller_than_the_data_still_handle_every_member(program, clock):
    _set_expiry(program, Program.ExpiryPolicy.AFTER_EARN, 1)
    members = MemberFactory.create_batch(7, program=program)
    for m in members:
        services.points_credit(member=m, points=10, actor="t", pending_days=3)
        services.points_credit(member=m, points=10, actor="t", expires_at=None)

    clock.advance(days=3)
    assert jobs.make_pending_spendable(clock=clock, batch_size=2) == 7
    clock.advance(days=40)
    assert jobs.expire_points(clock=clock, batch_size=3) == 7

    for m in members:
        assert _fresh(m).balance == 10  # the never-expiring lot is left alone
        assert member_ledger_discrepancies(member_id=m.pk) == []


def test_inactivity_policy_expires_only_members_inactive_for_the_period(program, clock):
    # given: one member keeps earning, one stops, one only ever got an adjustment
    _set_expiry(program, Program.ExpiryPolicy.INACTIVITY, 3)
    active, idle, never_active = MemberFactory.create_batch(3, program=program)
    services.points_credit(member=active, points=100, actor="t")
    services.points_credit(member=idle, points=100, actor="t")
    services.points_credit(member=idle, points=40, actor="t", pending_days=200)
    services.points_adjust(member=never_active, points=25, actor="staff:1", reason="goodwill")

    # when
    clock.advance(days=80)
    services.points_credit(member=active, points=1, actor="t")
    assert jobs.expire_points(clock=clock, batch_size=10) == 0
    clock.advance(days=15)  # idle for 95 days: past add_months(earned, 3)
    handled = jobs.expire_points(clock=clock, batch_size=1)

    # then
    assert handled == 2
    assert _fresh(active).balance == 101
    idle_now = _fresh(idle)
    assert (idle_now.balance, idle_now.pending_points, idle_now.lifetime_points) == (0, 0, 100)
    assert _fresh(never_active).balance == 0  # enrolled_at stands in for the last activity
    assert jobs.expire_points(clock=clock, batch_size=10) == 0
    for m in (active, idle, never_active):
        assert member_ledger_discrepancies(member_id=m.pk) == []


def test_inactivity_expiry_waits_for_the_end_of_a_short_month(program, clock):
    # Jan 31 + 1 month is Feb 28: due on Feb 28, not before
    _set_expiry(program, Program.ExpiryPolicy.INACTIVITY, 1)
    clock.set(clock.now().replace(month=1, day=31))
    member = MemberFactory(program=program, enrolled_at=clock.now())
    services.points_credit(member=member, points=10, actor="t")

    clock.set(clock.now().replace(month=2, day=27))
    assert jobs.expire_points(clock=clock, batch_size=10) == 0
    clock.set(clock.now().replace(day=28))
    assert jobs.expire_points(clock=clock, batch_size=10) == 1
    assert _fresh(member).balance == 0


def test_purge_job_deletes_only_keys_past_retention(merchant, program, clock):
    def run():
        return 201, {"ok": True}

    run_idempotent(merchant_id=merchant.pk, program_id=program.pk, key="old",
                   request_fingerprint="f", run=run, clock=clock)
    clock.advance(hours=40)
    run_idempotent(merchant_id=merchant.pk, program_id=program.pk, key="new",
                   request_fingerprint="f", run=run, clock=clock)
    clock.advance(hours=9)  # "old" is 49 hours old, past the default 48

    assert jobs.purge_idempotency_keys(clock=clock, batch_size=1) == 1
    assert jobs.purge_idempotency_keys(clock=clock, batch_size=1) == 0
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [f"{program.pk}:new"]


def test_run_jobs_runs_every_job_once_and_prints_a_line_each(program, clock):
    member = MemberFactory(program=program)
    services.points_credit(member=member, points=10, actor="t", pending_days=1)
    clock.advance(days=1)
    out = StringIO()

    call_command("run_jobs", stdout=out)

    lines = out.getvalue().splitlines()
    every_job = [name for name, _ in discover_jobs()]
    assert [line.split(":")[0] for line in lines] == every_job
    assert every_job[: len(jobs.JOBS)] == [name for name, _ in jobs.JOBS]  # ledger's first
    assert any(line.startswith("make-pending-spendable: 1 ") for line in lines)
    assert _fresh(member).balance == 10


def test_run_jobs_runs_only_the_named_jobs(program, clock):
    out = StringIO()
    call_command("run_jobs", "--job", "expire-points", "--batch-size", "5", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("expire-points: 0")
    assert len(out.getvalue().splitlines()) == 1

    with pytest.raises(CommandError, match="Unknown job"):
        call_command("run_jobs", "--job", "no-such-job", stdout=StringIO())
    with pytest.raises(CommandError, match="batch-size"):
        call_command("run_jobs", "--batch-size", "0", stdout=StringIO())


def test_a_failing_job_does_not_stop_the_others_but_fails_the_run(
    program, clock, monkeypatch
):
    def broken(*, clock, batch_size):
        raise RuntimeError("boom")

    member = MemberFactory(program=program)
    services.points_credit(member=member, points=10, actor="t", pending_days=1)
    clock.advance(days=1)
    monkeypatch.setattr(jobs, "JOBS", [("broken", broken), *jobs.JOBS])
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="broken"):
        call_command("run_jobs", stdout=out, stderr=err)

    assert "broken: FAILED (boom)" in err.getvalue()
    assert "make-pending-spendable: 1" in out.getvalue()
    assert _fresh(member).balance == 10


def test_one_failing_member_is_skipped_and_reported(program, clock, monkeypatch):
    members = MemberFactory.create_batch(3, program=program)
    for m in members:
        services.points_credit(member=m, points=10, actor="t", pending_days=1)
    clock.advance(days=1)
    real = services.points_make_available

    def flaky(*, member, **kwargs):
        if member.pk == members[1].pk:
            raise RuntimeError("bad member")
        return real(member=member, **kwargs)

    monkeypatch.setattr(services, "points_make_available", flaky)
    with pytest.raises(RuntimeError, match="1 member"):
        jobs.make_pending_spendable(clock=clock, batch_size=1)

    assert [_fresh(m).balance for m in members] == [10, 0, 10]


def test_run_jobs_loop_repeats_until_interrupted(program, clock, monkeypatch):
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("members.management.commands.run_jobs.time.sleep", sleep)
    out = StringIO()
    call_command("run_jobs", "--loop", "--interval", "0.5", "--job", "expire-points", stdout=out)

    assert sleeps == [0.5, 0.5]
    assert out.getvalue().count("expire-points: 0") == 2
    assert "Interrupted." in out.getvalue()


def test_expire_job_reaches_lots_past_expiry_set_explicitly(program, clock):
    member = MemberFactory(program=program)
    services.points_credit(
        member=member, points=30, actor="t", expires_at=clock.now() + timedelta(days=2)
    )
    clock.advance(days=2)
    assert jobs.expire_points(clock=clock, batch_size=10) == 1
    assert _fresh(member).balance == 0
