"""Benchmark: ledger credits and debits per second through the transaction manager.

On PostgreSQL, in a dedicated database ``loyalty_bench`` (created and migrated here), worker
processes (one connection each, ``django.setup()`` in each: threads would share one GIL on
this machine's cores) alternate ``points_credit(10)`` and ``points_debit(7)``, each its own
transaction as in production, for ``--seconds``, at 1, 4 and 8 workers:

* on distinct members (one fresh member per worker): the target is at least 0.5x pgbench;
* on one hot member (every worker on the same row lock), after which the member's balance
  must equal exactly what the workers credited minus what they debited, and
  ``member_ledger_discrepancies`` must be empty (no lost update).

Each figure is compared with pgbench's TPC-B transaction at the same client count, measured in
the same run just before and just after the distinct-member run (their mean is the reference;
``bench/_reference.py``). Then it seeds 1,000,000 entries (one SQL
``INSERT ... SELECT generate_series``: 50,000 for a busy member interleaved with everyone
else's, 50,000 for a dormant member that are all the oldest, about 950 for each of 998
typical members) and times ``entry_list_for_member(member)[:50]`` for each kind of member,
with its EXPLAIN ANALYZE: the target is a median under 5 ms. The seeded members are read-only
fixtures: their cached figures are not kept in step with those entries.

    .venv/bin/python bench/ledger.py [--seconds 10] [--workers 1,4,8] [--entries 1000000]
                                     [--skip-writes] [--skip-read] [--keep-db]

Environment: ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``) or
``BENCH_PG`` names the server; only the databases ``loyalty_bench`` and ``pgbench_ref`` on it
are written.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, sys.path[0] is bench/, where this very file would shadow the ``ledger`` app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench._reference import (  # noqa: E402
    create_database,
    database_url,
    pgbench_tps,
    print_table,
)

DB_NAME = "loyalty_bench"
CREDIT, DEBIT = 10, 7
READ_TARGET_MS = 5.0
SHARE = 20  # the busy and the dormant member each hold one entry in 20 (50,000 of 1,000,000)
WRITE_TARGET = 0.5


def configure() -> None:
    """Point Django at the benchmark database, in production mode, and set it up."""
    os.environ.update(
        DATABASE_URL=database_url(DB_NAME),
        DEBUG="False",  # no query log kept in memory, as in production
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        LOG_LEVEL="WARNING",
        CONN_MAX_AGE="600",
        DJANGO_SETTINGS_MODULE="loyaltysite.settings",
    )
    import django

    django.setup()


# --- the write benchmark -------------------------------------------------------------------


def _writer(
    index: int, member_id: int, seconds: float, barrier: Any, results: Any
) -> None:
    """One worker process: credit, debit, credit, debit... on one member until time is up."""
    configure()
    from django.db import connection

    from ledger import services
    from loyaltysite.errors import InsufficientPoints
    from members.models import Member

    member = Member._base_manager.get(pk=member_id)
    connection.ensure_connection()
    credits = debits = rejected = 0
    barrier.wait()
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        services.points_credit(member=member, points=CREDIT, actor="bench")
        credits += 1
        try:
            services.points_debit(member=member, points=DEBIT, actor="bench")
            debits += 1
        except InsufficientPoints:
            rejected += 1
    elapsed = time.perf_counter() - started
    connection.close()
    results.put({"credits": credits, "debits": debits, "rejected": rejected, "elapsed": elapsed})


def run_writers(member_ids: list[int], seconds: float) -> dict[str, Any]:
    """Start one process per member id (repeat an id for a hot member); operations/second."""
    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(member_ids) + 1)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_writer, args=(i, member_id, seconds, barrier, results))
        for i, member_id in enumerate(member_ids)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    outcomes = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    total = {key: sum(o[key] for o in outcomes) for key in ("credits", "debits", "rejected")}
    elapsed = max(o["elapsed"] for o in outcomes)
    return {**total, "ops_per_second": (total["credits"] + total["debits"]) / elapsed}


def _program(name: str):
    from members.models import Program
    from members.services import merchant_create, program_create

    merchant, _ = merchant_create(slug="bench", name="Bench")
    program = Program._base_manager.filter(merchant=merchant, name=name).first()
    return program or program_create(
        merchant=merchant, name=name, currency="EUR",
        expiry_policy=Program.ExpiryPolicy.AFTER_EARN, expiry_months=12,
    )


def _new_members(program, count: int) -> list[int]:
    from members.models import Customer
    from members.services import member_enrol

    ids = []
    for _ in range(count):
        customer = Customer._base_manager.create(merchant_id=program.merchant_id)
        ids.append(member_enrol(program=program, customer=customer).pk)
    return ids


def profile_queries(program) -> None:
    """Print the SQL statements one credit and one debit cost (a fresh member)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger import services
    from members.models import Member

    member = Member._base_manager.get(pk=_new_members(program, 1)[0])
    services.points_credit(member=member, points=CREDIT, actor="bench")  # warm up
    for label, call in (
        ("credit", lambda: services.points_credit(member=member, points=CREDIT, actor="bench")),
        ("debit", lambda: services.points_debit(member=member, points=DEBIT, actor="bench")),
    ):
        with CaptureQueriesContext(connection) as captured:
            call()
        print(f"\n{label}: {len(captured)} statements")
        for query in captured:
            print(f"    {' '.join(query['sql'].split())[:110]}")


def write_benchmark(workers: list[int], seconds: float) -> bool:
    from ledger.selectors import member_ledger_discrepancies
    from members.models import Member

    program = _program("Bench writes")
    profile_queries(program)
    distinct_rows, hot_rows, no_lost_update = [], [], True
    for count in workers:
        # pgbench before and after the distinct-member run: on a shared machine the reference
        # drifts, and the mean of the two brackets what the distinct run saw
        before = pgbench_tps(count, seconds)
        distinct = run_writers(_new_members(program, count), seconds)
        after = pgbench_tps(count, seconds)
        tps = (before + after) / 2
        hot_id = _new_members(program, 1)[0]
        hot = run_writers([hot_id] * count, seconds)
        balance = Member._base_manager.get(pk=hot_id).balance
        expected = CREDIT * hot["credits"] - DEBIT * hot["debits"]
        problems = member_ledger_discrepancies(member_id=hot_id)
        consistent = balance == expected and not problems
        no_lost_update &= consistent
        print(
            f"\n{count} worker(s): pgbench {before:.1f} and {after:.1f} tps"
            f" | distinct {distinct['ops_per_second']:.1f} ops/s"
            f" | hot {hot['ops_per_second']:.1f} ops/s ({hot['credits']} credits,"
            f" {hot['debits']} debits, {hot['rejected']} rejected);"
            f" hot balance {balance} == {CREDIT}x{hot['credits']} - {DEBIT}x{hot['debits']}"
            f" = {expected}: {'yes' if consistent else 'NO'}; discrepancies: {problems or 'none'}"
        )
        distinct_rows.append((count, distinct["ops_per_second"], tps))
        hot_rows.append((count, hot["ops_per_second"], tps))
    print_table("Credits + debits per second, distinct members (target >= 0.5x at 1 and 4)",
                distinct_rows, unit="ops/s")
    print_table("Credits + debits per second, one hot member", hot_rows, unit="ops/s")
    on_target = True
    for count, ours, tps in distinct_rows:
        if count in (1, 4):
            met = ours / tps >= WRITE_TARGET
            on_target &= met
            print(f"distinct members at {count} worker(s): {ours / tps:.2f}x "
                  f"(target {WRITE_TARGET}x) {'OK' if met else 'BELOW TARGET'}")
    print(f"hot member, no lost update: {'OK' if no_lost_update else 'FAILED'}")
    return on_target and no_lost_update


# --- the read benchmark --------------------------------------------------------------------


def seed_entries(total: int) -> dict[str, int]:
    """Make ``total`` entries exist in the read program; return the members to read, by role.

    The first twentieth of the rows belong to a *dormant* member (all of its entries are the
    oldest in the table); after that one row in 20 is the *busy* member's, interleaved with
    the rest spread over 998 *typical* members (about 950 entries each).
    """
    from django.db import connection

    from ledger.models import Entry
    from members.models import Customer, Member

    program = _program("Bench reads")
    ids = list(
        Member._base_manager.filter(program=program).order_by("id").values_list("id", flat=True)
    )
    if len(ids) < 1000:
        customers = Customer._base_manager.bulk_create(
            Customer(merchant_id=program.merchant_id) for _ in range(1000 - len(ids))
        )
        Member._base_manager.bulk_create(
            Member(merchant_id=program.merchant_id, program=program, customer=c,
                   enrolled_at=program.created_at)
            for c in customers
        )
        ids = list(
            Member._base_manager.filter(program=program).order_by("id")
            .values_list("id", flat=True)
        )
    busy, dormant, others = ids[0], ids[1], ids[2:]
    have = Entry._base_manager.filter(program=program).count()
    if have < total:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO ledger_entry (merchant_id, program_id, member_id, kind, points,
                    balance_delta, pending_delta, reserved_delta, balance_after, reference,
                    actor, reason, metadata, created_at)
                SELECT %(merchant)s, %(program)s,
                       CASE WHEN g <= %(total)s / %(share)s THEN %(dormant)s
                            WHEN g %% %(share)s = 0 THEN %(busy)s
                            ELSE (%(others)s::bigint[])[1 + g %% %(count)s] END,
                       'adjust', 1, 1, 0, 0, g, '', 'bench', 'seeded', '{}'::jsonb,
                       now() - make_interval(secs => %(total)s - g)
                FROM generate_series(%(first)s, %(total)s) AS g
                """,
                {"merchant": program.merchant_id, "program": program.pk, "total": total,
                 "share": SHARE, "dormant": dormant, "busy": busy, "others": others,
                 "count": len(others), "first": have + 1},
            )
            cursor.execute("ANALYZE ledger_entry")
        print(f"\nseeded {total - have} entries in {time.perf_counter() - started:.1f}s")
    return {"busy": busy, "dormant": dormant, "typical": others[len(others) // 2]}


def time_newest_entries(member_id: int, repetitions: int) -> tuple[list[float], str]:
    """Milliseconds per ``entry_list_for_member(member)[:50]``, and its EXPLAIN ANALYZE."""
    from django_scopes import scope

    from ledger.selectors import entry_list_for_member
    from members.models import Member

    member = Member._base_manager.get(pk=member_id)
    with scope(merchant=member.merchant_id):  # as in the API: a scoped query
        for _ in range(50):  # warm the cache and the connection
            list(entry_list_for_member(member=member)[:50])
        samples: list[float] = []
        budget = time.perf_counter() + 15  # a slow plan gets fewer repetitions, not minutes
        while len(samples) < repetitions and (len(samples) < 20 or time.perf_counter() < budget):
            started = time.perf_counter()
            rows = list(entry_list_for_member(member=member)[:50])
            samples.append((time.perf_counter() - started) * 1000)
            assert len(rows) == 50
        plan = entry_list_for_member(member=member)[:50].explain(analyze=True, buffers=True)
    return samples, plan


def read_benchmark(total: int, repetitions: int = 2000) -> bool:
    from ledger.models import Entry

    members = seed_entries(total)
    in_table = Entry._base_manager.count()
    ok = True
    print(f"\nNewest 50 entries of a member, {in_table:,} entries in the table, "
          f"up to {repetitions} times each, through entry_list_for_member():")
    for role, member_id in members.items():
        samples, plan = time_newest_entries(member_id, repetitions)
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        ok &= median < READ_TARGET_MS
        mine = Entry._base_manager.filter(member_id=member_id).count()
        index = next((name for name in ("ledger_entry_member_newest", "ledger_entry_pkey")
                      if name in plan), "?")
        print(f"\n{role} member ({mine:,} entries), {len(samples)} reads: median {median:.3f} ms"
              f" | p95 {p95:.3f} ms"
              f" | min {min(samples):.3f} ms (target: median < {READ_TARGET_MS} ms)"
              f" {'OK' if median < READ_TARGET_MS else 'SLOW'}; index: {index}")
        for line in plan.splitlines():
            print(f"    {line}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-read", action="store_true")
    parser.add_argument("--keep-db", action="store_true",
                        help="Reuse loyalty_bench (and its seeded entries) instead of a fresh one.")
    args = parser.parse_args()

    create_database(DB_NAME, drop=not args.keep_db)
    configure()
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    call_command("migrate", verbosity=0)
    ok = True
    with scopes_disabled():
        if not args.skip_writes:
            workers = [int(w) for w in args.workers.split(",")]
            ok &= write_benchmark(workers, args.seconds)
        if not args.skip_read:
            ok &= read_benchmark(args.entries)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
