"""What the HTTP benchmarks share: the app's environment, its database, a gunicorn server."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from _reference import create_database, database_url

ROOT = Path(__file__).resolve().parent.parent


def app_env(db_name: str) -> dict[str, str]:
    """Production settings (DEBUG off, persistent connections) on database ``db_name``."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(db_name),
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "False",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "loyaltysite.settings",
    }


def recreate_app_database(db_name: str) -> None:
    create_database(db_name, drop=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=app_env(db_name), check=True,
    )


def serve(db_name: str, port: int, *gunicorn_args: str,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start gunicorn on 127.0.0.1:``port`` and wait until /healthz answers."""
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "loyaltysite.wsgi",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", *gunicorn_args],
        cwd=ROOT, env=env or app_env(db_name), start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not come up")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def healthz_rate(port: int, clients: int, seconds: float) -> float:
    """Requests per second of ``GET /healthz`` (one ``SELECT 1``) at ``clients`` concurrent
    clients: what the server and the clients cost with no work at all, the HTTP floor."""
    stop_event = threading.Event()
    counts: list[int] = []

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def loop() -> None:
        conn, done = connect(), 0
        while not stop_event.is_set():
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                conn = connect()
                continue
            done += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()  # a sync worker closes after each response: reconnect
                conn = connect()
        conn.close()
        counts.append(done)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop_event.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def server_pids(master: int, db_name: str) -> tuple[list[int], list[int]]:
    """The gunicorn master and its workers; the PostgreSQL backends serving ``db_name``."""
    import psycopg

    workers = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        backends = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [db_name])]
    return workers, backends


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk_load(script: str, port: int, clients: int, seconds: float) -> dict:
    """Run ``wrk`` (one connection per thread) with the Lua ``script`` against 127.0.0.1:
    requests per second, p50 and p99 in ms, non-2xx answers, and wrk's own output (a
    script's ``done`` may print more)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        run = subprocess.run(
            ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "30s", "--latency", "-s", handle.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(handle.name)
    out = run.stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": int(bad.group(1)) if bad else 0,
        "output": out,
    }
