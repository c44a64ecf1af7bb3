"""Benchmark: reserve + confirm pairs per second over HTTP, as a ratio to pgbench TPC-B.

Serves the project with gunicorn (``DEBUG=False``) on a dedicated PostgreSQL database
(created afresh and migrated by this script), then runs 4 concurrent clients, each on its own
member, each looping ``POST .../redemptions/`` (reserve a reward) then
``POST .../redemptions/{id}/confirm/`` (spend, issue a voucher). The same run measures pgbench's
TPC-B transaction at the same number of clients (``bench/_reference.py``) and prints the ratio.

The load comes from ``wrk`` where it is installed (a Lua script per connection: reserve, read
the redemption's id from the answer, confirm it), so the clients' own CPU stays small and out
of the way, as in ``bench/hot.py``; ``--python`` (or no wrk) uses Python threads, which share
the machine's two cores with the server. It prints the app's and PostgreSQL's CPU per pair
from ``/proc`` and, in the same run and with the same load generator, the HTTP floor.
Target: at least 0.08x (issue 13, which replaced issue 4's 0.2x: a pair is two write
requests, and the floors of ``bench/floors.py`` leave one order at most about 0.14x-0.20x).

    .venv/bin/python bench/redemptions.py [--seconds 20] [--clients 4] [--workers 4] [--python]

Environment: ``BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``) names the server,
``BENCH_PORT`` (default 8765) the port gunicorn listens on.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
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
    healthz_rate,
    recreate_app_database,
    serve,
    server_pids,
    stop,
    wrk_load,
)
from _reference import pgbench_tps  # noqa: E402

DB_NAME = "loyalty_bench_redemptions"
PORT = int(os.environ.get("BENCH_PORT", "8765"))
TARGET = 0.08


SETUP = """
from django_scopes import scopes_disabled
from ledger.services import points_credit
from members.services import api_key_create, member_enrol_customer, merchant_create
from members.models import Program
from rewards.services import reward_create

with scopes_disabled():
    merchant, _ = merchant_create(slug="bench", name="Bench")
    program = Program.objects.create(merchant=merchant, name="Bench", currency="EUR",
                                     reservation_ttl_minutes=60)
    reward = reward_create(program=program, name="Coffee", points_cost=10)
    ids = []
    for i in range({clients}):
        member = member_enrol_customer(program=program, external_id=f"bench-{{i}}")
        points_credit(member=member, points=2_000_000_000, actor="bench")
        ids.append(member.pk)
    # The bench measures throughput, not the per-key rate limit (1200 a minute by default).
    _, key = api_key_create(merchant=merchant, name="bench", rate_limit_per_minute=1_000_000)
    print(program.pk, reward.pk, key, ",".join(map(str, ids)))
"""


def _setup(clients: int) -> tuple[int, int, str, list[int]]:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP.format(clients=clients)],
        cwd=ROOT, env=app_env(DB_NAME), check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    program, reward, key, ids = out.split()
    return int(program), int(reward), key, [int(i) for i in ids.split(",")]


WRK_SCRIPT = """
local members = {%(members)s}
local base = "%(base)s"
local reward = %(reward)d
local threads = {}
wrk.headers["Authorization"] = "Api-Key %(key)s"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  member = members[number %% #members + 1]
  pending = nil
  pairs_done = 0
  refused = 0
end

function request()
  if pending then
    return wrk.format("POST", base .. "/redemptions/" .. pending .. "/confirm/", nil, "{}")
  end
  return wrk.format("POST", base .. "/redemptions/", nil,
                    string.format('{"member":"%%d","reward":%%d}', member, reward))
end

function response(status, headers, body)
  if pending then
    pending = nil
    if status == 200 then pairs_done = pairs_done + 1 else refused = refused + 1 end
  elseif status == 201 then
    pending = string.match(body, '"id":%%s*(%%d+)')
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("pairs_done")
    bad = bad + thread:get("refused")
  end
  io.write(string.format("pairs %%d refused %%d seconds %%f\\n", total, bad,
                         summary.duration / 1e6))
end
"""

HEALTHZ_SCRIPT = 'function request() return wrk.format("GET", "/healthz") end\n'


def _wrk_pairs(base: str, key: str, members: list[int], reward: int, seconds: float
               ) -> tuple[float, float, float, int]:
    """Pairs per second, per-request p50 and p99 (ms), refusals, with wrk's clients."""
    script = WRK_SCRIPT % {"members": ",".join(map(str, members)), "base": base,
                           "reward": reward, "key": key}
    got = wrk_load(script, PORT, len(members), seconds)
    pairs, refused, elapsed = re.search(
        r"pairs (\d+) refused (\d+) seconds ([\d.]+)", got["output"]).groups()
    return int(pairs) / float(elapsed), got["p50"], got["p99"], int(refused)


def _client(base: str, key: str, member: int, reward: int, stop: threading.Event,
            results: list, errors: list) -> None:
    """One client: a kept-alive HTTP connection (``http.client``, lighter than ``requests``,
    as the clients share the machine's cores with the server)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    reserve_body = json.dumps({"member": str(member), "reward": reward})
    latencies = []

    def post(path: str, body: str, expected: int) -> dict:
        conn.request("POST", f"{base}{path}", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != expected:
            raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    try:
        while not stop.is_set():
            started = time.perf_counter()
            rid = post("/redemptions/", reserve_body, 201)["id"]
            post(f"/redemptions/{rid}/confirm/", "{}", 200)
            latencies.append(time.perf_counter() - started)
    except Exception as error:  # reported by the main thread
        errors.append(error)
    finally:
        conn.close()
    results.append(latencies)


def _pairs(base: str, key: str, members: list[int], reward: int, seconds: float
           ) -> tuple[float, list[float]]:
    stop = threading.Event()
    results: list[list[float]] = []
    errors: list[Exception] = []
    threads = [
        threading.Thread(target=_client, args=(base, key, m, reward, stop, results, errors))
        for m in members
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    latencies = [lat for per_client in results for lat in per_client]
    return len(latencies) / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn worker.")
    parser.add_argument("--python", action="store_true", help="load from Python, not wrk")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python

    recreate_app_database(DB_NAME)
    program, reward, key, members = _setup(args.clients)
    # Sync workers (threads == 1) close the connection after each answer; gthread workers
    # keep it alive between a client's requests.
    gthread = ["--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30"]
    server = serve(DB_NAME, PORT, "--workers", str(args.workers),
                   *(gthread if args.threads > 1 else []), "--graceful-timeout", "5")
    try:
        base = f"/api/v1/programs/{program}"
        _pairs(base, key, members, reward, 2)  # warm-up: connections, caches
        app_pids, pg_pids = server_pids(server.pid, DB_NAME)
        cpu_before = cpu_seconds(app_pids), cpu_seconds(pg_pids)
        started = time.perf_counter()
        if use_wrk:
            pairs_per_second, p50, p99, refused = _wrk_pairs(base, key, members, reward,
                                                             args.seconds)
        else:
            pairs_per_second, latencies = _pairs(base, key, members, reward, args.seconds)
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            refused = 0
        count = max(1.0, pairs_per_second * (time.perf_counter() - started))
        app_cpu, pg_cpu = ((after - before) * 1000 / count for before, after in zip(
            cpu_before, (cpu_seconds(app_pids), cpu_seconds(pg_pids)), strict=True))
        if use_wrk:
            floor = wrk_load(HEALTHZ_SCRIPT, PORT, args.clients, min(args.seconds, 5))["rate"]
        else:
            floor = healthz_rate(PORT, args.clients, min(args.seconds, 5))
    finally:
        stop(server)
    tps = pgbench_tps(args.clients, args.seconds)

    ratio = pairs_per_second / tps
    what = "pair" if not use_wrk else "request (wrk times each request)"
    print(f"reserve+confirm over HTTP, {args.clients} clients "
          f"({'wrk' if use_wrk else 'Python threads'}) on distinct members, "
          f"gunicorn {args.workers} workers x {args.threads} threads, {args.seconds:.0f}s")
    print(f"  pairs/s            {pairs_per_second:10.1f}  ({refused} refused)")
    print(f"  latency p50        {p50:10.1f} ms per {what}")
    print(f"  latency p99        {p99:10.1f} ms per {what}")
    print(f"  app CPU per pair   {app_cpu:10.2f} ms   PostgreSQL CPU per pair {pg_cpu:.2f} ms")
    print(f"  HTTP floor: GET /healthz {floor:.0f} req/s, so at most {floor / 2:.0f} pairs/s "
          f"({floor / 2 / tps:.3f}x) with no work at all")
    print(f"pgbench TPC-B, {args.clients} clients: {tps:10.1f} tps")
    print(f"ratio: {ratio:.3f}x (target >= {TARGET}x) "
          f"{'OK' if ratio >= TARGET else 'BELOW TARGET'}")
    if refused:
        raise SystemExit(f"{refused} reservations or confirmations were refused")


if __name__ == "__main__":
    main()
