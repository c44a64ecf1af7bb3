"""The outbox: an event exists if and only if the change it reports committed."""

from __future__ import annotations

import pytest
from django.db import transaction

from events.models import OutboxEvent
from events.outbox import emit
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # no transaction around the test itself
def test_emit_outside_a_transaction_is_refused(member):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit("member.test", merchant_id=member.merchant_id, data={})
    assert not OutboxEvent.objects.exists()


def test_events_of_a_rolled_back_change_are_not_written(member):
    def change_that_fails() -> None:
        with transaction.atomic():
            emit("member.test", merchant_id=member.merchant_id, member_id=member.pk, data={})
            raise ZeroDivisionError  # the change fails after the event was written

    with pytest.raises(ZeroDivisionError):
        change_that_fails()
    assert not OutboxEvent.objects.exists()
    assert Member.objects.get(pk=member.pk).event_sequence == 0


def test_each_members_events_are_numbered_in_commit_order(member, other_member):
    for _ in range(3):
        with transaction.atomic():
            emit("member.test", merchant_id=member.merchant_id, program_id=member.program_id,
                 member_id=member.pk, data={"n": 1})
    with transaction.atomic():
        emit("member.test", merchant_id=other_member.merchant_id, member_id=other_member.pk,
             data={})
        unnumbered = emit("program.test", merchant_id=member.merchant_id, data={})

    assert list(OutboxEvent.objects.filter(member=member).values_list("sequence", flat=True)) == [
        1, 2, 3]
    assert OutboxEvent.objects.get(member=other_member).sequence == 1
    assert unnumbered.sequence is None
    envelope = OutboxEvent.objects.filter(member=member).last().envelope()
    assert envelope["id"].startswith("evt_")
    assert envelope["sequence"] == 3
    assert envelope["program"] == member.program_id
    assert envelope["data"]["n"] == 1
    assert envelope["data"]["member"]["id"] == member.pk  # the figures are always added
