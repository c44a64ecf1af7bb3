"""Benchmark: tier evaluation and streak upkeep over 1,000,000 members, and the hook's cost.

On PostgreSQL, in a dedicated database (``--db``, default ``tiers_bench``, dropped and
migrated here), one program with a Bronze / Silver / Gold ladder on lifetime points and a
weekly streak with milestone rewards gets ``--members`` members, bulk-loaded by
``INSERT ... SELECT generate_series`` (seconds, not minutes), in every state the jobs handle:

* evaluation: 1 in 200 members qualify above their tier (lifted: earns lift at once, so the
  job only meets those a changed ladder or an ended pause left behind), 1 in 100 hold a tier
  above what they qualify for (1 in 5 of those past the grace period: stepped down, the others
  start being watched), 1 in 2,000 have an override that ended;
* upkeep (a Monday, when a weekly streak's breaks fall due): 1 in 50 members missed last week
  (broken), 1 in 1,000 reach the end of a 30-day pause (reset by the pause rules), 1 in 2,000
  reached a milestone the earn did not pay. Everyone else has a streak of 1 to 3 weeks.

Each job runs twice through ``run_jobs``' functions (``tiers.jobs``) with ``--batch-size``:
the first run does the work, the second must change nothing (idempotent) and shows the
steady-state cost of scanning everyone. Printed: seconds, members per second, changes, and
peak memory (Python heap by ``tracemalloc``, and the process's maximum resident size). The
target is under 60 s per job. Then the after-post hook's cost per ledger credit is measured
(no tiers; a ladder whose threshold the credit does not cross; a streak counted once a cycle).
Figures are put beside pgbench's TPC-B rate (``bench/_reference.py``) as SPEC 18 asks.

    .venv/bin/python bench/tiers.py [--members 1000000] [--batch-size 20000] [--db tiers_bench]
                                    [--skip-reference] [--keep-db]

The seeded members are fixtures: their cached figures are not backed by ledger entries.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench._reference import create_database, database_url, pgbench_tps  # noqa: E402

TARGET_SECONDS = 60.0


def configure(db: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url(db), DEBUG="False", LOG_LEVEL="WARNING", CONN_MAX_AGE="600",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        DJANGO_SETTINGS_MODULE="loyaltysite.settings",
    )
    import django

    django.setup()


def seed(count: int):
    """The program, its ladder and settings, and ``count`` members in every state."""
    from django.db import connection

    from loyaltysite.clock import system_clock
    from members.models import Program
    from members.services import merchant_create
    from tiers import services

    merchant, _ = merchant_create(slug="bench-tiers", name="Bench Tiers")
    program = Program.objects.create(merchant=merchant, name="Bench", currency="EUR")
    bronze = services.tier_create(program=program, name="Bronze", rank=1, threshold_points=0)
    silver = services.tier_create(program=program, name="Silver", rank=2, threshold_points=1000,
                                  streak_multiplier=Decimal("1.5"))
    gold = services.tier_create(program=program, name="Gold", rank=3, threshold_points=5000,
                                streak_multiplier=Decimal(2), streak_bonus_points=50)
    services.tier_settings_update(program=program, streak_cycle="week", milestone_every=4,
                                  milestone_points=10, grace_days=30, evaluation_days=30)
    now = system_clock.now()
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    params = {
        "m": merchant.pk, "p": program.pk, "n": count, "now": now,
        "b": bronze.pk, "s": silver.pk, "g": gold.pk,
        "this": monday, "last": monday - timedelta(days=7), "long_ago": monday - timedelta(21),
        "due_ok": monday + timedelta(days=13), "due_missed": monday - timedelta(days=1),
        "paused_from": today - timedelta(days=30), "paused_until": today - timedelta(days=1),
        "old": now - timedelta(days=40), "ended": now - timedelta(hours=1),
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO members_customer (merchant_id, external_id, email, name, created_at)
            SELECT %(m)s, 'b-' || i, '', '', %(now)s FROM generate_series(1, %(n)s) i
        """, params)
        # lifetime points spread over 0..7999; the tier held is the one they qualify for,
        # except i % 200 = 1 (one tier too low: lifted) and i % 100 = 2 (too high: watched).
        cursor.execute("""
            INSERT INTO members_member (
                merchant_id, program_id, customer_id, card_id, status, enrolled_at,
                balance, pending_points, reserved_points, lifetime_points, tier_id,
                tier_value, tier_offset, streak, streak_state, streak_cycle, streak_due,
                streak_paused_until, event_sequence)
            SELECT %(m)s, %(p)s, c.id, upper(substr(md5(c.id::text), 1, 16)), 'active',
                   %(now)s, v.points, 0, 0, v.points,
                   CASE WHEN v.i %% 200 = 1 THEN %(b)s
                        WHEN v.i %% 100 = 2 THEN %(g)s
                        WHEN v.points >= 5000 THEN %(g)s
                        WHEN v.points >= 1000 THEN %(s)s ELSE %(b)s END,
                   0, 0,
                   CASE WHEN v.i %% 2000 = 3 THEN 4 ELSE 1 + v.i %% 3 END,
                   CASE WHEN v.i %% 1000 = 4 THEN 'paused' ELSE 'active' END,
                   CASE WHEN v.i %% 50 = 5 THEN %(long_ago)s::date ELSE %(last)s::date END,
                   CASE WHEN v.i %% 50 = 5 THEN %(due_missed)s::date
                        ELSE %(due_ok)s::date END,
                   CASE WHEN v.i %% 1000 = 4 THEN %(paused_until)s::date END, 0
            FROM (SELECT c.id, row_number() OVER (ORDER BY c.id) AS i
                  FROM members_customer c WHERE c.merchant_id = %(m)s) c
            CROSS JOIN LATERAL (SELECT c.i AS i, ((c.i * 7919) %% 8000)::bigint AS points) v
        """, params)
        cursor.execute("""
            INSERT INTO tiers_streakpause (merchant_id, program_id, member_id, started_on,
                                           until, reason, actor, created_at, resumed_by, outcome)
            SELECT merchant_id, program_id, id, %(paused_from)s, %(paused_until)s, '', 'bench',
                   %(now)s, '', ''
            FROM members_member WHERE program_id = %(p)s AND streak_state = 'paused'
        """, params)
        # i % 100 = 2 is held too high; one in five of them has been below for 40 days.
        cursor.execute("""
            INSERT INTO tiers_standing (member_id, merchant_id, program_id, below_since)
            SELECT id, merchant_id, program_id, %(old)s FROM members_member
            WHERE program_id = %(p)s AND id %% 500 = 2
        """, params)
        cursor.execute("""
            INSERT INTO tiers_tieroverride (merchant_id, member_id, tier_id, reason, actor,
                                            ends_at, created_at, ended_by)
            SELECT merchant_id, id, %(g)s, 'bench', 'bench', %(ended)s, %(old)s, ''
            FROM members_member WHERE program_id = %(p)s AND id %% 2000 = 7
        """, params)
        cursor.execute("ANALYZE")
        cursor.execute("""
            SELECT count(*) FILTER (WHERE streak_due < %(this)s),
                   count(*) FILTER (WHERE streak_state = 'paused'),
                   count(*) FILTER (WHERE streak = 4),
                   (SELECT count(*) FROM tiers_standing),
                   (SELECT count(*) FROM tiers_tieroverride)
            FROM members_member WHERE program_id = %(p)s
        """, params)
        missed, paused, milestones, watched, overrides = cursor.fetchone()
    print(f"seeded {count:,} members in {time.perf_counter() - started:.1f} s: {missed:,} missed "
          f"last week, {paused:,} at the end of a pause, {milestones:,} at an unpaid milestone, "
          f"{watched:,} below their tier for 40 days, {overrides:,} overrides that ended")
    return program


def run_job(name: str, fn, batch_size: int, members: int) -> tuple[float, int]:
    from django_scopes import scopes_disabled

    from loyaltysite.clock import system_clock

    tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with scopes_disabled():
        changes = fn(clock=system_clock, batch_size=batch_size)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    verdict = "ok" if seconds < TARGET_SECONDS else "OVER TARGET"
    print(f"{name:<16} {seconds:7.1f} s {members / seconds:>11,.0f} members/s "
          f"{changes:>8,} changes   peak heap {peak / 2**20:6.1f} MiB, "
          f"max RSS {rss / 1024:6.0f} MiB (+{(rss - rss_before) / 1024:.0f})   {verdict}")
    return seconds, changes


def hook_cost(samples: int) -> dict[str, float]:
    """What the after-post hook adds to a ledger credit: the hook's own CPU time on a posting
    that changes nothing (no query), and end-to-end credits in four set-ups, interleaved so
    that the machine's load falls on all of them alike."""
    import timeit

    from django_scopes import scopes_disabled

    from ledger import hooks as ledger_hooks
    from ledger import services as ledger
    from members.models import Program
    from members.services import customer_get_or_create, member_enrol
    from tiers import hooks, services

    def program(name: str, setup) -> list:
        target = Program.objects.create(merchant_id=Program.objects.first().merchant_id,
                                        name=name, currency="EUR")
        setup(target)
        return [member_enrol(program=target, customer=customer_get_or_create(
            merchant=target.merchant_id, external_id=f"{name}-{i}")) for i in range(samples)]

    def far(p) -> None:
        services.tier_create(program=p, name="Far", rank=1, threshold_points=10**9)

    def streaky(p) -> None:
        far(p)
        services.tier_settings_update(program=p, streak_cycle="week", streak_activity="any")

    with scopes_disabled():
        setups = {"no tiers": program("hook-plain", lambda p: None),
                  "ladder, no threshold crossed": program("hook-ladder", far),
                  "ladder + streak, first in cycle": program("hook-streak", streaky)}
        setups["ladder + streak, counted already"] = setups["ladder + streak, first in cycle"]
        for members in setups.values():  # warm caches and connections
            ledger.points_credit(member=members[0], points=1, actor="bench", metadata={
                "kind": "warm-up"})
        spent = dict.fromkeys(setups, 0.0)
        for i in range(samples):
            for label, members in setups.items():
                started = time.perf_counter()
                ledger.points_credit(member=members[i], points=10, actor="bench")
                spent[label] += time.perf_counter() - started
        entry = ledger.points_credit(member=setups["ladder, no threshold crossed"][0],
                                     points=10, actor="bench")
        posted = ledger_hooks.Posted(
            entry=entry, member_id=entry.member_id, merchant_id=entry.merchant_id,
            program_id=entry.program_id, balance=100, pending_points=0, reserved_points=0,
            lifetime_points=100, lifetime_delta=10,
        )
        cpu = min(timeit.repeat(lambda: hooks.after_post(posted), number=10_000, repeat=3))
    base = spent["no tiers"] / samples * 1e6
    print(f"\nafter-post hook: its own CPU on a posting that changes nothing: "
          f"{cpu / 10_000 * 1e6:.1f} µs, no query")
    print(f"end-to-end, microseconds per ledger credit ({samples} credits each, interleaved)")
    figures = {}
    for label, seconds in spent.items():
        micros = seconds / samples * 1e6
        figures[label] = micros
        print(f"  {label:<34} {micros:8.0f} µs  ({micros - base:+.0f} µs)")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--db", default="tiers_bench")
    parser.add_argument("--hook-samples", type=int, default=2000)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    create_database(args.db, drop=True)
    configure(args.db)
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    from tiers import jobs

    call_command("migrate", verbosity=0)
    with scopes_disabled():
        seed(args.members)
    results = {}
    print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(f"\n{'job':<16} {'time':>9} {'rate':>22} {'':>8}")
    for name, fn in (("streak-upkeep", jobs.streak_upkeep),
                     ("evaluate-tiers", jobs.evaluate_tiers)):
        results[name] = run_job(name, fn, args.batch_size, args.members)
        run_job(f"{name} again", fn, args.batch_size, args.members)
    hook_cost(args.hook_samples)
    if not args.skip_reference:
        tps = pgbench_tps(1, 10)
        print(f"\npgbench TPC-B, 1 client: {tps:,.0f} tps (SPEC 18 reference)")
        for name, (seconds, _changes) in results.items():
            print(f"  {name}: {args.members / seconds / tps:.1f} members per TPC-B transaction")
    return 0 if all(s < TARGET_SECONDS for s, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
