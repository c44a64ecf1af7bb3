"""Benchmark: completed orders per second over HTTP, as a ratio to pgbench TPC-B.

Serves the project with gunicorn (``DEBUG=False``, persistent database connections) on a
dedicated PostgreSQL database (dropped, created and migrated by this script), with a program
that has 3 active earning rules (an order multiplier with a minimum amount, a category
multiplier, a per-item SKU bonus with a per-member cap). Then, at 1, 4 and 8 concurrent
clients (threads, each with its own keep-alive connection and its own members, so clients do
not queue on one member's row lock), every client loops ``POST /orders/`` with a new order id
and two line items. Each figure is compared with pgbench's TPC-B transaction at the same client
count, measured in the same run (``bench/_reference.py``). Target (issue 3): at least 0.25x at
4 clients. It also prints the SQL statements one order costs (service and whole request).

    .venv/bin/python bench/orders.py [--seconds 5] [--clients 1,4,8] [--workers 3]
                                     [--worker-class sync] [--threads 1]

Tuning: the work is CPU-bound (about 15 ms of Python per order, mostly the ORM compiling and
DRF), and PostgreSQL shares the same cores, so one sync worker per core plus one did best on
the 2-core machine it was written on (gthread with 2 or 4 workers was no better); sync workers
close the connection after each response and the clients reconnect. The "app cpu" and "pg cpu"
columns are the CPU time the gunicorn processes and the PostgreSQL backends spent per order,
read from /proc, which stay meaningful when other work shares the machine.

Environment: ``BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``) names the server,
``BENCH_PORT`` (default 8766) the port gunicorn listens on.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _http import (  # noqa: E402
    app_env,
    cpu_seconds,
    recreate_app_database,
    serve,
    server_pids,
    stop,
)
from _reference import pgbench_tps  # noqa: E402

DB_NAME = "loyalty_bench_orders"

PORT = int(os.environ.get("BENCH_PORT", "8766"))
MEMBERS_PER_CLIENT = 25
TARGET = 0.25


# Creates the program, its 3 rules and the members, then measures one order's SQL statements
# (through the service, and through the whole HTTP request with the test client).
SETUP = """
import json
from decimal import Decimal
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from rest_framework.test import APIClient
from members.models import Program
from members.services import api_key_create, member_enrol_customer, merchant_create
from rules.services import Customer, order_record, rule_create

ITEMS = {items}
with scopes_disabled():
    merchant, _ = merchant_create(slug="bench", name="Bench")
    program = Program.objects.create(merchant=merchant, name="Bench", currency="EUR",
                                     pending_days=14)
    rule_create(program=program, name="Double over 20", kind="order",
                config={{"multiplier": "2", "min_amount": "20"}})
    rule_create(program=program, name="Coffee x3", kind="category",
                config={{"categories": ["coffee"], "multiplier": "3"}})
    rule_create(program=program, name="Beans bonus", kind="sku",
                config={{"skus": ["BEANS"], "points_per_item": 10}}, max_per_member=10**9)
    ids = [member_enrol_customer(program=program, external_id=f"bench-{{i}}").pk
           for i in range({members})]
    # The bench measures throughput, not the per-key rate limit (1200 a minute by default).
    _, key = api_key_create(merchant=merchant, name="bench", rate_limit_per_minute=1_000_000)
    order_record(program=program, order_id="warm-up", amount=Decimal("{amount}"),
                 currency="EUR", items=ITEMS, customer=Customer(member=str(ids[0])), actor="b")
    with CaptureQueriesContext(connection) as service:
        result = order_record(program=program, order_id="count-1", amount=Decimal("{amount}"),
                              currency="EUR", items=ITEMS, customer=Customer(member=str(ids[0])),
                              actor="b")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {{key}}")
    body = {{"order_id": "count-2", "member": str(ids[-1]), "amount": "{amount}",
            "currency": "EUR", "items": ITEMS}}
    # a warm process: the API key and the program come from its cache, as in production
    client.post(f"/api/v1/programs/{{program.pk}}/orders/", content_type="application/json",
                data=json.dumps({{**body, "order_id": "count-0", "member": str(ids[-2])}}))
    with CaptureQueriesContext(connection) as whole:
        response = client.post(f"/api/v1/programs/{{program.pk}}/orders/", data=json.dumps(body),
                               content_type="application/json")
    assert response.status_code == 201, response.content
    def round_trips(queries):
        control = sum(q["sql"].split()[0] in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
                      for q in queries.captured_queries)
        return [len(queries), len(queries) - control]

    print(json.dumps({{"program": program.pk, "key": key, "members": ids,
                      "points": result.order.points_earned, "service": round_trips(service),
                      "request": round_trips(whole), "request_member": ids[-1],
                      "request_order_id": "count-2",
                      "request_sql": [q["sql"] for q in whole.captured_queries]}}))
"""
ITEMS = [
    {"sku": "LATTE", "category": "coffee", "quantity": 2, "price": "4.25"},
    {"sku": "BEANS", "category": "beans", "quantity": 1, "price": "22.00"},
]
AMOUNT = "30.50"


def _setup(members: int, db_name: str = DB_NAME) -> dict:
    """Program, rules, members and key in ``db_name``; the SQL one order costs, captured."""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         SETUP.format(items=repr(ITEMS), members=members, amount=AMOUNT)],
        cwd=ROOT, env=app_env(db_name), check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    return json.loads(out)


class Client(threading.Thread):
    """Posts orders in a loop on one keep-alive connection (reconnecting if the server closes
    it) for its own members, until told to stop."""

    def __init__(self, number: int, path: str, key: str, members: list[int],
                 start: threading.Barrier, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.number, self.path, self.members = number, path, members
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        self.start_barrier, self.stop = start, stop
        self.latencies: list[float] = []
        self.error: Exception | None = None
        self.sequence = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        try:
            self.start_barrier.wait()
            while not self.stop.is_set():
                self.sequence += 1
                member = self.members[self.sequence % len(self.members)]
                body = json.dumps({
                    "order_id": f"c{self.number}-{time.monotonic_ns()}-{self.sequence}",
                    "member": str(member), "amount": AMOUNT, "currency": "EUR", "items": ITEMS,
                })
                started = time.perf_counter()
                try:
                    conn.request("POST", self.path, body=body, headers=self.headers)
                    response = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()  # a sync worker closes after each response: reconnect
                    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                    conn.request("POST", self.path, body=body, headers=self.headers)
                    response = conn.getresponse()
                payload = response.read()
                if response.status != 201:
                    raise RuntimeError(f"order: {response.status} {payload[:300]!r}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                self.latencies.append(time.perf_counter() - started)
        except Exception as error:  # reported by the main thread
            self.error = error
        finally:
            conn.close()


def _orders_per_second(path: str, key: str, members: list[int], clients: int,
                       seconds: float) -> tuple[float, list[float]]:
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)
    share = len(members) // clients
    workers = [
        Client(i, path, key, members[i * share:(i + 1) * share], barrier, stop)
        for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
    elapsed = time.perf_counter() - started
    for worker in workers:
        if worker.error is not None:
            raise worker.error
    latencies = sorted(lat for worker in workers for lat in worker.latencies)
    return len(latencies) / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="per measurement")
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]

    recreate_app_database(DB_NAME)
    setup = _setup(max(counts) * MEMBERS_PER_CLIENT)
    server = serve(DB_NAME, PORT, "--workers", str(args.workers), "--worker-class",
                   args.worker_class, "--threads", str(args.threads), "--keep-alive", "30",
                   "--backlog", "256")
    path = f"/api/v1/programs/{setup['program']}/orders/"
    rows = []
    try:
        _orders_per_second(path, setup["key"], setup["members"], max(counts), 2)  # warm-up
        app_pids, pg_pids = server_pids(server.pid, DB_NAME)
        for clients in counts:
            cpu_before = cpu_seconds(app_pids), cpu_seconds(pg_pids)
            rate, latencies = _orders_per_second(path, setup["key"], setup["members"], clients,
                                                 args.seconds)
            orders = len(latencies)
            cpu = [(after - before) * 1000 / orders for before, after in
                   zip(cpu_before, (cpu_seconds(app_pids), cpu_seconds(pg_pids)), strict=True)]
            rows.append((clients, rate, latencies, cpu))
    finally:
        stop(server)

    print(f"orders over HTTP: gunicorn {args.workers} x {args.worker_class}"
          f" ({args.threads} threads), 3 active rules, {args.seconds:.0f}s per measurement,"
          f" {setup['points']} points per order")
    (service, service_sql), (request, request_sql) = setup["service"], setup["request"]
    print(f"SQL round trips per order: {service} in the order service ({service_sql} "
          f"statements, the rest transaction control); {request} for the whole request "
          f"({request_sql} statements; auth, program and idempotency key included)")
    print(f"{'clients':>7} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'app cpu':>8} "
          f"{'pg cpu':>7} {'pgbench tps':>11} {'ratio':>6}   (cpu: ms per order)")
    for clients, rate, latencies, (app_cpu, pg_cpu) in rows:
        tps = pgbench_tps(clients, args.seconds)
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
        mark = ""
        if clients == 4:
            mark = "  OK" if rate / tps >= TARGET else f"  BELOW TARGET ({TARGET}x)"
        print(f"{clients:>7} {rate:>9.1f} {p50:>7.1f} {p99:>7.1f} {app_cpu:>8.1f} "
              f"{pg_cpu:>7.1f} {tps:>11.1f} {rate / tps:>5.2f}x{mark}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
