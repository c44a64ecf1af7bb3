"""At least once, with real ``db_worker`` processes: a worker killed in the middle of a delivery
leaves its claim behind; once the claim runs out the sweeper has the delivery sent again, and
the receiver gets the same event id a second time.

Needs PostgreSQL: the workers are other processes, and they share the test database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from events import services
from events.jobs import deliver_webhooks
from events.models import Delivery, DeliveryAttempt
from ledger import services as ledger
from loyaltysite.clock import FrozenClock

pytestmark = [
    pytest.mark.slow,
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def _worker(*args: str, timeout: float) -> subprocess.Popen:
    env = {
        **os.environ, "DATABASE_URL": _database_url(), "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "True",
        "WEBHOOKS_TIMEOUT": str(timeout), "DEBUG": "False", "SECRET_KEY": "test-" * 10,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "webhooks", "--no-reload",
         "--no-startup-delay", "--interval", "0.1", *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_delivery_cut_short_by_a_killed_worker_arrives_again_with_the_same_id(
        member, allow_private, receiver):
    endpoint = services.endpoint_create(merchant=member.merchant, url=receiver.url)
    receiver.secrets.append(endpoint.secret)
    receiver.answer((200, 60.0, b"never sent"))  # the first request hangs
    ledger.points_credit(member=member, points=42, actor="t")  # commits: its task is queued

    # given: a worker in the middle of the delivery
    first = _worker(timeout=60)
    try:
        _wait(lambda: len(receiver.received) == 1, 60)
    finally:
        # when: it is killed there, before it could write anything
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.locked_until > timezone.now()
    assert not DeliveryAttempt.objects.exists()

    # then: once its claim has run out, the sweeper has it sent again, by another worker
    later = FrozenClock(delivery.locked_until + timedelta(minutes=3))
    assert deliver_webhooks(clock=later, batch_size=10) == 1
    second = _worker("--batch", timeout=10)
    assert second.wait(60) == 0

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    first_id, second_id = receiver.event_ids
    assert first_id == second_id == delivery.event.event_id
    assert [r.verified["data"]["entry"]["points"] for r in receiver.received] == [42, 42]
    assert list(DeliveryAttempt.objects.values_list("number", "status_code")) == [(2, 200)]
