"""Benchmark: webhook deliveries per second, and what the outbox adds to an earn.

On PostgreSQL, in a dedicated database ``loyalty_bench_webhooks`` (created and migrated here):

1. **Deliveries per second.** A merchant with one endpoint pointing at a local receiver (a
   threaded HTTP server on an ephemeral port of 127.0.0.1, in this process, answering 204),
   ``--events`` earns (one event and one delivery each). Their tasks are enqueued to run a few
   seconds later, ``manage.py db_worker`` processes are started meanwhile (1, then 4: workers
   are processes, as in production), and the figure is the events delivered per second from
   the moment the tasks become due until the last delivery is written ``delivered``. Each is
   compared with pgbench's TPC-B transaction at as many clients, in the same run
   (``bench/_reference.py``); a delivery is two transactions (claim, outcome) and one HTTP
   request, so the ratio reads as "deliveries per TPC-B transaction".
2. **What the outbox adds to an earn.** ``points_credit`` on one member, in rounds that
   alternate three set-ups: the outbox off (``ledger.events.EMIT = False``, the ledger as it
   was), the outbox on for a merchant with no endpoint (the event row only), and the outbox on
   with one subscribed endpoint (the event, its delivery row, and the delivery's task enqueued
   when the earn commits). SQL time is the time spent in the database driver: every statement
   and every commit, measured around the calls. The median per set-up over the rounds is
   compared with the outbox off; the target is under 15% more SQL time for the outbox. The
   rounds run again with ``synchronous_commit`` off, which shows the statements' own cost
   without the commit's WAL flush (what a loaded disk makes noisy); and the earn's statement,
   captured with and without the outbox, is replayed by pgbench alone (no Python, no driver).

    .venv/bin/python bench/webhooks.py [--events 1000] [--workers 1,4] [--earns 400]
                                       [--rounds 9] [--skip-delivery] [--skip-earn]

Environment: ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``) or
``BENCH_PG`` names the server; only ``loyalty_bench_webhooks`` and ``pgbench_ref`` on it are
written. Nothing leaves this machine: the receiver is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, sys.path[0] is bench/: keep the apps importable and unshadowed.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench._reference import (  # noqa: E402
    create_database,
    database_url,
    pgbench_tps,
    print_table,
    sql_tps,
)

DB_NAME = "loyalty_bench_webhooks"
EARN_TARGET = 1.15
START_DELAY = timedelta(seconds=6)  # time for the workers to start before the tasks are due

ENV = {
    "DATABASE_URL": database_url(DB_NAME),
    "DEBUG": "False",  # no query log kept in memory, as in production
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "LOG_LEVEL": "WARNING",
    "CONN_MAX_AGE": "600",
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "True",  # the receiver is on 127.0.0.1
    "DJANGO_SETTINGS_MODULE": "loyaltysite.settings",
}


def configure() -> None:
    os.environ.update(ENV)
    import django

    django.setup()


# -- the receiver ------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Receiver.lock:
            _Receiver.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def start_receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


# -- set-up ------------------------------------------------------------------------------------


def _merchant(slug: str, receiver_url: str | None):
    from events.models import WebhookEndpoint
    from events.services import endpoint_create
    from members.models import Customer, Member, Program
    from members.services import member_enrol, merchant_create, program_create

    merchant, _ = merchant_create(slug=slug, name=slug)
    program = Program._base_manager.filter(merchant=merchant).first() or program_create(
        merchant=merchant, name=slug, currency="EUR")
    member = Member._base_manager.filter(program=program).first() or member_enrol(
        program=program, customer=Customer._base_manager.create(merchant=merchant))
    endpoint = None
    if receiver_url:
        endpoint = WebhookEndpoint._base_manager.filter(merchant=merchant).first() or (
            endpoint_create(merchant=merchant, url=receiver_url, description="bench receiver"))
    return member, endpoint


def _reset_queue() -> None:
    import pgtrigger
    from django_tasks_db.models import DBTaskResult

    from events.models import Delivery, OutboxEvent

    DBTaskResult.objects.all().delete()
    # The bench's own database: what it wrote a moment ago goes (the triggers keep a day).
    with pgtrigger.ignore("events.OutboxEvent:events_outbox_kept_a_day",
                          "events.DeliveryAttempt:events_attempt_append_only"):
        Delivery._base_manager.all().delete()
        OutboxEvent._base_manager.all().delete()


# -- 1. deliveries per second -------------------------------------------------------------------


def _workers(count: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--queue-name", "webhooks",
             "--no-reload", "--no-startup-delay", "--interval", "0.05", "--verbosity", "0"],
            cwd=ROOT, env={**os.environ, **ENV},
        )
        for _ in range(count)
    ]


def delivery_run(member, events: int, workers: int) -> float:
    """Events delivered per second by ``workers`` processes (tasks due at one moment)."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from events.delivery import enqueue
    from events.models import Delivery
    from ledger import services

    _reset_queue()
    for _ in range(events):
        services.points_credit(member=member, points=1, actor="bench")
    ids = list(Delivery._base_manager.values_list("pk", flat=True))
    assert len(ids) == events, f"{len(ids)} deliveries for {events} events"
    DBTaskResult.objects.all().delete()  # the tasks enqueued on commit: due at once
    due = timezone.now() + START_DELAY
    enqueue(ids, run_after=due)
    processes = _workers(workers)
    try:
        pending = Delivery._base_manager.exclude(status=Delivery.Status.DELIVERED)
        deadline = time.monotonic() + START_DELAY.total_seconds() + 600
        while pending.exists():
            assert time.monotonic() < deadline, "deliveries did not finish"
            assert all(p.poll() is None for p in processes), "a worker died"
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    last = max(Delivery._base_manager.values_list("delivered_at", flat=True))
    failed = Delivery._base_manager.exclude(status=Delivery.Status.DELIVERED).count()
    assert failed == 0
    return events / (last - due).total_seconds()


def delivery_benchmark(member, events: int, workers: list[int], seconds: float) -> None:
    rows = []
    for count in workers:
        rate = delivery_run(member, events, count)
        tps = pgbench_tps(count, seconds)
        print(f"{count} worker(s): {events} events delivered, {rate:.1f} events/s; "
              f"pgbench {tps:.1f} tps")
        rows.append((count, rate, tps))
    print_table("Webhook deliveries per second to a local receiver (db_worker processes)",
                rows, unit="events/s")


# -- 2. what the outbox adds to an earn ---------------------------------------------------------


class SqlTimer:
    """Seconds spent in the driver: statements (an execute wrapper) and commits."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.seconds = 0.0
        self._commit = connection._commit

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started

    def __enter__(self) -> SqlTimer:
        def timed_commit():
            started = time.perf_counter()
            try:
                return self._commit()
            finally:
                self.seconds += time.perf_counter() - started

        self.connection._commit = timed_commit
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._wrapper.__exit__(*exc)
        self.connection._commit = self._commit


def earn_benchmark(earns: int, rounds: int, receiver_url: str) -> bool:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.models import WebhookEndpoint
    from ledger import events, services

    quiet, _ = _merchant("bench-earn-quiet", None)
    subscribed, endpoint = _merchant("bench-earn-hooked", receiver_url)
    setups = {
        "outbox off": (quiet, False),
        "outbox on, no endpoint": (quiet, True),
        "outbox on, 1 endpoint": (subscribed, True),
    }

    def earn(member) -> None:
        services.points_credit(member=member, points=1, actor="bench")

    print("\nStatements per earn:")
    for name, (member, emit) in setups.items():
        events.EMIT = emit
        earn(member)
        with CaptureQueriesContext(connection) as captured:
            earn(member)
        print(f"  {name}: {len(captured)}")
        for query in captured:
            print(f"      {' '.join(query['sql'].split())[:100]}")
    def measure() -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(rounds):
            for name, (member, emit) in setups.items():
                events.EMIT = emit
                for _ in range(20):
                    earn(member)
                with SqlTimer(connection) as timer:
                    for _ in range(earns):
                        earn(member)
                samples[name].append(timer.seconds / earns * 1e6)
            _reset_queue()
        events.EMIT = True
        return samples

    flushed = measure()
    with connection.cursor() as cursor:  # the statements' own cost, without the WAL flush
        cursor.execute("SET synchronous_commit TO off")
    unflushed = measure()
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    WebhookEndpoint._base_manager.filter(pk=endpoint.pk).update(is_active=False)
    one = pgbench_tps(1, 5)
    print(f"\nSQL time per earn, median of {rounds} interleaved rounds of {earns} "
          f"(pgbench TPC-B at one client: {1e6 / one:.0f} us per transaction)")
    print(f"{'set-up':<24} | {'us/earn':>8} | {'vs off':>7} | {'x TPC-B':>7} |"
          f" {'no flush':>8} | {'vs off':>7}")
    base, base_unflushed = (statistics.median(x["outbox off"]) for x in (flushed, unflushed))
    for name in setups:
        median = statistics.median(flushed[name])
        quick = statistics.median(unflushed[name])
        print(f"{name:<24} | {median:>8.0f} | {median / base:>6.2f}x | "
              f"{median * one / 1e6:>6.2f}x | {quick:>8.0f} | {quick / base_unflushed:>6.2f}x")
    ratio = statistics.median(flushed["outbox on, no endpoint"]) / base
    met = ratio < EARN_TARGET
    print(f"the outbox adds {100 * (ratio - 1):+.1f}% SQL time to an earn (commits flushed, as "
          f"in production; target: under {100 * (EARN_TARGET - 1):.0f}%) "
          f"{'OK' if met else 'ABOVE TARGET'}")
    quick_ratio = statistics.median(unflushed["outbox on, no endpoint"]) / base_unflushed
    print(f"without the commit's flush (synchronous_commit off): {100 * (quick_ratio - 1):+.1f}%")
    return met


def earn_replay(rounds: int, seconds: float) -> None:
    """The earn's own statement with and without the outbox, replayed by pgbench (no Python,
    no driver): the database's cost alone, alternating, median of ``rounds``."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger import events, services

    member, _ = _merchant("bench-earn-quiet", None)
    scripts = {}
    for name, emit in (("outbox off", False), ("outbox on, no endpoint", True)):
        events.EMIT = emit
        services.points_credit(member=member, points=1, actor="bench")  # caches warm
        with CaptureQueriesContext(connection) as captured:
            services.points_credit(member=member, points=1, actor="bench")
        # The earn's one statement (not the transaction's BEGIN, COMMIT or savepoints).
        [statement] = [q["sql"] for q in captured if not re.match(
            r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", q["sql"])]
        # A fresh event id each time (the app's are version 7; the replay's random ones cost
        # the index a little more, so the figure errs against the outbox).
        scripts[name] = re.sub(r"'[0-9a-f]{32}'::uuid",
                               "gen_random_uuid()", " ".join(statement.split()))
    events.EMIT = True
    for protocol in ("prepared", "simple"):
        tps: dict[str, list[float]] = {name: [] for name in scripts}
        for _ in range(rounds):
            for name, script in scripts.items():
                tps[name].append(sql_tps(script + ";\n", 1, seconds, DB_NAME,
                                         protocol=protocol))
        off, on = (statistics.median(tps[name]) for name in scripts)
        how = ("prepared, as the app sends it" if protocol == "prepared"
               else "sent as text, parsed and planned each time")
        print(f"\nThe earn's statement replayed by pgbench ({how}), one client, median of "
              f"{rounds} x {seconds:g} s: outbox off {1e6 / off:.0f} us, outbox on "
              f"{1e6 / on:.0f} us per earn ({100 * (off / on - 1):+.1f}%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--seconds", type=float, default=10.0, help="Each pgbench run.")
    parser.add_argument("--earns", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--skip-delivery", action="store_true")
    parser.add_argument("--skip-earn", action="store_true")
    args = parser.parse_args()

    create_database(DB_NAME, drop=True)
    configure()
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    call_command("migrate", verbosity=0)
    server, receiver_url = start_receiver()
    ok = True
    try:
        with scopes_disabled():
            if not args.skip_delivery:
                member, _ = _merchant("bench-delivery", receiver_url)
                delivery_benchmark(member, args.events,
                                   [int(w) for w in args.workers.split(",")], args.seconds)
            if not args.skip_earn:
                ok &= earn_benchmark(args.earns, args.rounds, receiver_url)
                earn_replay(args.rounds, 3)
    finally:
        server.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
