"""What the HTTP benchmarks share: the app's environment, its database, a gunicorn server."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
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
