"""The reference every benchmark compares with: pgbench's TPC-B transaction (SPEC 18).

TPC-B is one balance update (three, on account, teller and branch) plus a history insert: the
physical floor of what a ledger write costs on this machine. Benchmarks measure their own
figure and ``pgbench_tps`` at the same client count in the same run, and print the ratio.

    from _reference import pgbench_tps, print_table      # with bench/ on sys.path
    from bench._reference import pgbench_tps, print_table  # with the project root on it

``pgbench_tps(clients, seconds)`` initialises (when missing or too small, in a dedicated
database ``pgbench_ref`` on the same server, scale ``max(SCALE, clients)`` so clients never queue
on one branch row) and runs the built-in TPC-B script ``pgbench -c N -j N -T S`` (simple protocol,
as the application's own client sends its queries). The server is ``BENCH_PG`` if set, else
the server part of ``DATABASE_URL``, else ``postgres://postgres@127.0.0.1:5432``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from urllib.parse import urlsplit

DB_NAME = "pgbench_ref"
SCALE = 10
_initialised_scale = 0


def server_url() -> str:
    """``postgres://user[:password]@host:port`` of the server benchmarks run on (no db name)."""
    if os.environ.get("BENCH_PG"):
        return os.environ["BENCH_PG"].rstrip("/")
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    if url.scheme not in ("postgres", "postgresql", "pgsql"):
        return "postgres://postgres@127.0.0.1:5432"
    return f"postgres://{url.netloc}"


def database_url(name: str) -> str:
    return f"{server_url()}/{name}"


def create_database(name: str, *, drop: bool = False) -> None:
    """Create the database ``name`` on the benchmark server (dropping it first if asked)."""
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            # another benchmark may create it meanwhile
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(f'CREATE DATABASE "{name}"')


def _pg_args() -> tuple[list[str], dict[str, str]]:
    url = urlsplit(server_url())
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres"]
    return args, env


def _initialise(scale: int) -> None:
    """Make sure ``pgbench_ref`` holds TPC-B tables of at least ``scale``.

    Several benchmarks may share the database (even at once): it is initialised only when
    missing or too small, under an advisory lock, and never dropped.
    """
    global _initialised_scale
    if _initialised_scale >= scale:
        return
    import psycopg

    create_database(DB_NAME)
    with psycopg.connect(database_url(DB_NAME), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('bench._reference'))")
        try:
            has_tables = conn.execute("SELECT to_regclass('pgbench_branches')").fetchone()[0]
            have = 0
            if has_tables:
                have = conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()[0]
            if have < scale:
                args, env = _pg_args()
                subprocess.run(["pgbench", *args, "-i", "-q", "-s", str(scale), DB_NAME],
                               check=True, capture_output=True, env=env)
                have = scale
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('bench._reference'))")
    _initialised_scale = have


def pgbench_tps(clients: int, seconds: float) -> float:
    """TPC-B transactions per second at ``clients`` concurrent clients, over ``seconds``."""
    _initialise(max(SCALE, clients))
    args, env = _pg_args()
    run = subprocess.run(
        ["pgbench", *args, "-c", str(clients), "-j", str(clients),
         "-T", str(max(1, round(seconds))), DB_NAME],
        capture_output=True, text=True, env=env,
    )
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed ({run.returncode}):\n{run.stderr}{run.stdout}")
    out = run.stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    match = match or re.search(r"tps = ([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected pgbench output:\n{out}")
    return float(match.group(1))


def sql_tps(script: str, clients: int, seconds: float, database: str, *,
            protocol: str = "simple") -> float:
    """Transactions per second of a pgbench ``script`` (SQL replayed with no application) at
    ``clients`` clients in ``database``; ``protocol="prepared"`` replays it as a prepared
    statement (what ``loyaltysite.db.prepared_cursor`` does in the app)."""
    args, env = _pg_args()
    with tempfile.NamedTemporaryFile("w", suffix=".pgb", delete=False) as handle:
        handle.write(script)
    try:
        run = subprocess.run(
            ["pgbench", *args, "-n", "-M", protocol, "-c", str(clients), "-j", str(clients),
             "-T", str(max(1, round(seconds))), "-f", handle.name, database],
            capture_output=True, text=True, env=env,
        )
    finally:
        os.unlink(handle.name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", run.stdout)
    if run.returncode != 0 or match is None or "aborted" in run.stderr:
        raise RuntimeError(f"pgbench replay failed:\n{run.stderr}{run.stdout}")
    return float(match.group(1))


def print_table(title: str, rows: Iterable[tuple[object, float, float]],
                *, unit: str = "ours/s") -> None:
    """Print ``workers | ours/s | pgbench tps | ratio`` for ``(workers, ours, tps)`` rows."""
    print(f"\n{title}")
    print(f"{'workers':>8} | {unit:>10} | {'pgbench tps':>11} | {'ratio':>6}")
    print(f"{'-' * 8}-+-{'-' * 10}-+-{'-' * 11}-+-{'-' * 6}")
    for workers, ours, tps in rows:
        ratio = ours / tps if tps else float("nan")
        print(f"{workers!s:>8} | {ours:>10.1f} | {tps:>11.1f} | {ratio:>5.2f}x")
