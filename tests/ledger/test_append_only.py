"""Append-only history, held by the database itself: raw SQL cannot rewrite or erase it
(PostgreSQL triggers; issue #8, item 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from events.models import OutboxEvent
from ledger import services
from ledger.idempotency import purge_expired_keys, run_idempotent
from ledger.models import Entry, IdempotencyKey
from loyaltysite.clock import FrozenClock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="triggers are PostgreSQL's"),
]


def _refused(sql: str, *params: object) -> None:
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_ledger_entry_cannot_be_updated_or_deleted_even_by_raw_sql(member, clock):
    entry = services.points_credit(member=member, points=50, actor="t")

    _refused("UPDATE ledger_entry SET points = 5000 WHERE id = %s", entry.pk)
    _refused("DELETE FROM ledger_entry WHERE id = %s", entry.pk)
    assert Entry.objects.get(pk=entry.pk).points == 50


def test_an_idempotency_outcome_is_written_once_and_a_key_is_kept_a_day(member):
    # given: a key recorded now (the real clock: the trigger reads the database's)
    run_idempotent(merchant_id=member.merchant_id, program_id=member.program_id, key="k",
                   request_fingerprint="f", run=lambda: (201, {"ok": True}))
    key = IdempotencyKey.objects.get()

    # then: its outcome and identity cannot change, and it cannot be deleted yet
    _refused("UPDATE ledger_idempotencykey SET status_code = 200 WHERE id = %s", key.pk)
    _refused("UPDATE ledger_idempotencykey SET fingerprint = 'other' WHERE id = %s", key.pk)
    _refused("DELETE FROM ledger_idempotencykey WHERE id = %s", key.pk)
    assert IdempotencyKey.objects.get(pk=key.pk).status_code == 201


def test_the_purge_may_delete_keys_older_than_a_day(member):
    old = FrozenClock(timezone.now() - timedelta(days=3))
    run_idempotent(merchant_id=member.merchant_id, program_id=member.program_id, key="old",
                   request_fingerprint="f", run=lambda: (201, {}), clock=old)

    assert purge_expired_keys() == 1


def test_an_outbox_event_cannot_be_rewritten(member, clock):
    services.points_credit(member=member, points=50, actor="t")
    event = OutboxEvent.objects.filter(member=member).first()

    _refused("UPDATE events_outboxevent SET type = 'points.forged' WHERE id = %s", event.pk)
    assert OutboxEvent.objects.get(pk=event.pk).type == event.type
