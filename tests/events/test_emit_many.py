"""``emit_many``: one event for each of many members, numbered like ``emit`` numbers them."""

from __future__ import annotations

import pytest
from django.db import transaction

from events import outbox
from events.models import Delivery, OutboxEvent, WebhookEndpoint
from events.outbox import emit, emit_many
from members.models import Member

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_member_gets_its_next_number_in_one_batch(member, other_member, monkeypatch):
    with transaction.atomic():
        emit("member.test", merchant_id=member.merchant_id, member_id=member.pk, data={})
    now = member.merchant.created_at
    endpoint = WebhookEndpoint._base_manager.create(
        merchant_id=member.merchant_id, url="https://hooks.example.com/loyalty",
        event_types=["member.*"], secret="whsec_x", created_at=now, updated_at=now)
    WebhookEndpoint._base_manager.create(
        merchant_id=member.merchant_id, url="https://hooks.example.com/points",
        event_types=["points.*"], secret="whsec_y", created_at=now, updated_at=now)
    scheduled = []
    monkeypatch.setattr(outbox, "emitted", scheduled.extend)

    with transaction.atomic():
        events = emit_many("member.batch", merchant_id=member.merchant_id,
                           program_id=member.program_id,
                           members=[(member.pk, {"n": 1}), (other_member.pk, {"n": 2})])

    assert [(e.member_id, e.sequence, e.data["n"]) for e in events] == [
        (member.pk, 2, 1), (other_member.pk, 1, 2)]
    assert [e.data["member"]["id"] for e in events] == [member.pk, other_member.pk]
    deliveries = Delivery._base_manager.filter(pk__in=scheduled)
    assert sorted(deliveries.values_list("event_id", "endpoint_id")) == sorted(
        (event.pk, endpoint.pk) for event in events)
    assert Member.objects.get(pk=member.pk).event_sequence == 2


def test_emit_many_needs_the_changes_transaction_and_one_event_per_member(member):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit_many("member.batch", merchant_id=member.merchant_id, program_id=None,
                  members=[(member.pk, {})])
    with pytest.raises(ValueError, match="one event per member"), transaction.atomic():
        emit_many("member.batch", merchant_id=member.merchant_id, program_id=None,
                  members=[(member.pk, {}), (member.pk, {})])
    assert not OutboxEvent.objects.exists()
    assert Member.objects.get(pk=member.pk).event_sequence == 0
