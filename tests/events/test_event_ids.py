"""Event ids: ``evt_`` and 32 hex digits for receivers, a time-ordered uuid in the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from events.models import EventIdField, OutboxEvent, new_event_id, uuid7
from events.outbox import emit

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_an_event_id_is_a_version_7_uuid_of_its_time():
    made = uuid7(AT)

    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert made.int >> 80 == int(AT.timestamp() * 1000)


def test_later_ids_sort_after_earlier_ones():
    ids = [new_event_id(AT + timedelta(milliseconds=n)) for n in range(50)]

    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    assert all(len(i) == 36 and i.startswith("evt_") for i in ids)


def test_ids_made_in_the_same_millisecond_differ():
    assert len({new_event_id(AT) for _ in range(1000)}) == 1000


def test_a_stored_event_reads_back_with_its_public_id_and_is_found_by_it(member):
    with transaction.atomic():
        event = emit("member.test", merchant_id=member.merchant_id, member_id=member.pk,
                     data={}, at=AT)

    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.event_id == event.event_id
    assert stored.event_id.startswith("evt_")
    assert OutboxEvent.objects.get(event_id=event.event_id).pk == event.pk
    assert stored.envelope()["id"] == event.event_id


def test_the_database_holds_the_id_as_a_uuid(member):
    with transaction.atomic():
        event = emit("member.test", merchant_id=member.merchant_id, member_id=member.pk,
                     data={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_id FROM events_outboxevent WHERE id = %s", [event.pk])
        [raw] = cursor.fetchone()

    expected = uuid.UUID(event.event_id.removeprefix("evt_"))
    if connection.vendor == "postgresql":
        assert raw == expected
    else:
        assert raw == expected.hex


def test_a_malformed_id_is_refused_before_the_database():
    field = EventIdField()

    with pytest.raises(ValidationError):
        field.get_prep_value("evt_not-hex")
    assert field.to_python(uuid.UUID(int=5)) == "evt_" + "0" * 31 + "5"
    assert field.to_python("") is None
