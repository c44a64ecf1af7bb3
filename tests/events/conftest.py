"""Fixtures for the events suite: a real local webhook receiver, endpoints, a worker in-process.

``receiver`` is a threaded HTTP server on an ephemeral port of 127.0.0.1 that verifies every
request with the ``standardwebhooks`` library, as an integrator's receiver would, and answers
what the test scripts (a status, a delay, a body).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events import network, services
from events.delivery import delivery_attempt
from events.models import Delivery

PUBLIC_ADDRESS = "93.184.215.14"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict | None  # the payload, if a secret verified it


@dataclass
class Receiver:
    """What a test's receiver got, and what it answers next (``plan``: status, delay, body)."""

    host: str = "127.0.0.1"
    port: int = 0
    secrets: list[str] = field(default_factory=list)
    plan: list[tuple[int, float, bytes]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks"

    def answer(self, *steps: tuple[int, float, bytes] | int) -> None:
        """Answer the next requests with these steps (a status, or (status, delay, body));
        afterwards 200."""
        for step in steps:
            self.plan.append((step, 0.0, b'{"ok":true}') if isinstance(step, int) else step)

    def verify(self, headers: dict[str, str], body: bytes) -> dict | None:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        return None

    @property
    def event_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]

    @property
    def payloads(self) -> list[dict]:
        return [json.loads(r.body) for r in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.received.append(Received(headers, body, receiver.verify(headers, body)))
                status, delay, answer = (receiver.plan.pop(0) if receiver.plan
                                         else (200, 0.0, b'{"ok":true}'))
            if delay:
                receiver.release.wait(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the sender gave up (a timeout test)
                pass

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver():
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_private(settings):
    """The local receiver is on 127.0.0.1, which only development and tests may use."""
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def refuse_private(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    return settings


@pytest.fixture
def public_dns(monkeypatch):
    """Every host name resolves to one public address (no network needed); the test may
    change ``answers`` (a dict of host -> addresses) to script DNS."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        if host in ("127.0.0.1", "localhost"):
            return ["127.0.0.1"]
        return [PUBLIC_ADDRESS]

    monkeypatch.setattr(network, "resolve", resolve)
    return answers


@pytest.fixture
def hook(allow_private, receiver, merchant, clock):
    """An active endpoint of ``merchant`` that delivers to ``receiver`` (every event type)."""
    endpoint = services.endpoint_create(merchant=merchant, url=receiver.url,
                                        description="test receiver")
    receiver.secrets.append(endpoint.secret)
    return endpoint


def run_due(clock, **filters) -> list[str | None]:
    """What a worker does with every due delivery, in-process, at the clock's time."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING,
                                  next_attempt_at__lte=clock.now(), **filters)
    return [delivery_attempt(delivery_id=pk, clock=clock)
            for pk in due.order_by("pk").values_list("pk", flat=True)]
