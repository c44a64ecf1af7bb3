"""Benchmark: the ceilings an order over HTTP cannot pass on this machine, as TPC-B ratios.

Issue 3 asks for orders over HTTP at 0.25x pgbench's TPC-B (4 clients). This measures, in one
run and at the same client count, the two costs every order pays whatever the Python does:

* the HTTP floor: ``GET /healthz`` (one ``SELECT 1``) through the same gunicorn set-up as
  ``bench/orders.py``, so what the server, Django and the clients cost with no work at all;
* the SQL floor: the exact statements one ``POST /orders/`` sends (captured from a real
  request, auth to ``COMMIT``) replayed by pgbench itself, with no application at all (each
  replay gets a fresh order id and one of the bench members).

The app, PostgreSQL and the clients share the machine's cores, so costs add up: an order can
go no faster than ``1 / (1/http + 1/sql)``, with zero Python of its own. The last line says how
much CPU the order's own Python may then take for 0.25x to be reachable at all.

    .venv/bin/python bench/floors.py [--seconds 8] [--clients 4] [--workers 3]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _http import healthz_rate, recreate_app_database, serve, stop  # noqa: E402
from _reference import pgbench_tps, sql_tps  # noqa: E402
from orders import _setup as orders_setup  # noqa: E402  (the same program, rules and members)

DB_NAME = "loyalty_bench_floors"
PORT = int(os.environ.get("BENCH_PORT", "8767"))
TARGET = 0.25

def _script(captured: dict) -> str:
    """The captured statements as a pgbench script: a fresh order id and a random bench member
    on each replay (the member's id is replaced where the statements name it)."""
    member = captured["request_member"]
    low, high = min(captured["members"]), max(captured["members"])
    lines = [f"\\set mid random({low}, {high})", "\\set r random(1, 9000000000000000)"]
    for sql in captured["request_sql"]:
        sql = " ".join(sql.split()).replace(captured["request_order_id"], "o:r")
        sql = re.sub(rf"(\bmember_id\"? = |\"members_member\"\.\"id\" = |\bmm?\.id = "
                     rf"|\breferee_id = ){member}\b", r"\1:mid", sql)
        sql = re.sub(rf"SELECT (\d+), (\d+), {member}, ",  # awards' and events' member
                     r"SELECT \1, \2, :mid, ", sql)
        sql = re.sub(rf"'\{{({member},?)+\}}'",  # the awards' member ids, as an array literal
                     lambda m: "'{" + ",".join([":mid"] * m.group(0).count(str(member))) + "}'",
                     sql)
        sql = re.sub(rf"VALUES \((\d+), (\d+), {member}, ", r"VALUES (\1, \2, :mid, ", sql)
        # the outbox's event ids are unique: a fresh one on each replay
        sql = re.sub(r"'[0-9a-f]{32}'::uuid", "gen_random_uuid()", sql)  # a fresh event id
        if sql.startswith('INSERT INTO "ledger_idempotencykey"') and "RETURNING id" in sql:
            lines.append(sql + " \\gset key_")  # the new key's id, for its outcome below
            continue
        if sql.startswith('UPDATE "ledger_idempotencykey"'):
            sql = re.sub(r'"id" IN \(\d+\)', '"id" IN (:key_id)', sql)
            sql = re.sub(r"ANY\('\{\d+\}'(::\w+\[\])+\)", "ANY(ARRAY[:key_id]::bigint[])", sql)
        lines.append(sql + ";")
    return "\n".join(lines) + "\n"


def _sql_tps(script: str, clients: int, seconds: float) -> float:
    # As text (pgbench cannot prepare a statement whose variables sit inside literals, as the
    # order id does): each statement is parsed and planned, which the app's prepared hot
    # statements are not, so this floor overstates the SQL's cost and the ceiling is low.
    return sql_tps(script, clients, seconds, DB_NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    recreate_app_database(DB_NAME)
    captured = orders_setup(25 * args.clients, DB_NAME)
    server = serve(DB_NAME, PORT, "--workers", str(args.workers), "--keep-alive", "30")
    try:
        healthz_rate(PORT, args.clients, 1)  # warm-up
        http_rps = healthz_rate(PORT, args.clients, args.seconds)
    finally:
        stop(server)
    sql_tps = _sql_tps(_script(captured), args.clients, args.seconds)
    tps = pgbench_tps(args.clients, args.seconds)

    http_ratio, sql_ratio = http_rps / tps, sql_tps / tps
    ceiling = 1 / (1 / http_ratio + 1 / sql_ratio)
    cpus = os.cpu_count() or 1
    # CPU per order the machine can spend at the target, minus what the floors already take
    budget_ms = cpus * 1000 / (TARGET * tps)
    floors_ms = cpus * 1000 / http_rps + cpus * 1000 / sql_tps
    print(f"floors at {args.clients} clients, {args.seconds:.0f}s each, {cpus} CPUs"
          f" (app, PostgreSQL and clients share them)")
    print(f"  pgbench TPC-B                               {tps:>8.1f} tps")
    print(f"  HTTP floor: GET /healthz, gunicorn {args.workers} sync    {http_rps:>8.1f} req/s"
          f"  = {http_ratio:.2f}x")
    print(f"  SQL floor: one order's {len(captured['request_sql'])} statements, by pgbench"
          f" {sql_tps:>8.1f} /s  = {sql_ratio:.2f}x")
    print(f"  ceiling for orders over HTTP (both floors, no Python of the order's own):"
          f" {ceiling:.2f}x")
    print(f"  at {TARGET}x an order may cost {budget_ms:.2f} ms of machine CPU; the floors take"
          f" {floors_ms:.2f} ms, leaving {budget_ms - floors_ms:.2f} ms for everything the"
          f" order's Python does")


if __name__ == "__main__":
    main()
