"""Every listed event type is written in the transaction of its change, with the member's
figures after it; nothing is written for a change that rolls back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from events.models import Delivery, OutboxEvent
from ledger import _pg
from ledger import services as ledger
from loyaltysite.errors import InsufficientPoints
from members import services as members
from members.models import Member
from rewards import services as rewards
from rules import services as rules
from rules.services import Customer as Who
from tests.factories import CustomerFactory
from tests.rewards.factories import RewardFactory

pytestmark = pytest.mark.django_db


def events_of(member: Member) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(member=member).order_by("sequence"))


def last(member: Member, event_type: str) -> OutboxEvent:
    return OutboxEvent.objects.filter(member=member, type=event_type).latest("sequence")


def figures(member: Member) -> dict:
    member = Member.objects.select_related("customer").get(pk=member.pk)
    return {
        "id": member.pk, "card_id": member.card_id_display,
        "external_id": member.customer.external_id,
        "status": member.status, "balance": member.balance,
        "pending_points": member.pending_points, "reserved_points": member.reserved_points,
        "lifetime_points": member.lifetime_points, "tier_id": member.tier_id,
    }


def test_enrolment_emits_member_enrolled_first_with_the_customer(program, clock):
    customer = CustomerFactory(merchant=program.merchant, email="ana@example.com", name="Ana")

    member = members.member_enrol(program=program, customer=customer)

    [event] = events_of(member)
    assert (event.type, event.sequence, event.program_id) == ("member.enrolled", 1, program.pk)
    assert event.data["customer"] == {"external_id": customer.external_id,
                                      "email": "ana@example.com", "name": "Ana"}
    assert event.data["member"] == figures(member)
    assert event.created_at == clock.now()


def test_a_status_change_emits_member_status_changed_with_the_previous_status(member, clock):
    members.member_set_status(member=member, status=Member.Status.SUSPENDED)

    event = last(member, "member.status_changed")
    assert event.data["previous_status"] == "active"
    assert event.data["member"]["status"] == "suspended"


@pytest.mark.parametrize("fast_path", [True, False])
def test_earn_and_spend_emit_points_events_with_the_figures_after(member, clock, fast_path,
                                                                  monkeypatch):
    monkeypatch.setattr(_pg, "ENABLED", fast_path)

    earned = ledger.points_credit(member=member, points=120, actor="t", reason="Survey",
                                  reference="s-1")
    spent = ledger.points_debit(member=member, points=20, actor="t", reason="Coffee")

    credit, debit = events_of(member)
    assert credit.type == "points.earned"
    assert credit.data["entry"] == {"id": earned.pk, "kind": "earn", "points": 120,
                                    "balance_after": 120, "reason": "Survey",
                                    "reference": "s-1"}
    assert credit.data["member"]["balance"] == 120
    assert debit.type == "points.redeemed"
    assert debit.data["entry"]["id"] == spent.pk
    assert debit.data["entry"]["points"] == -20
    assert debit.data["member"] == figures(member)
    assert (credit.sequence, debit.sequence) == (1, 2)


def test_the_fast_paths_write_the_same_event_as_the_orm_path(program, clock, monkeypatch):
    """Both paths on the database in use (on SQLite the fast paths step aside)."""
    datas = []
    for fast in (True, False):
        monkeypatch.setattr(_pg, "ENABLED", fast)
        member = members.member_enrol(program=program, customer=CustomerFactory(
            merchant=program.merchant, external_id="same"[: 4] + str(fast)))
        ledger.points_credit(member=member, points=50, actor="t", reason="r", reference="x")
        ledger.points_debit(member=member, points=5, actor="t", reason="d")
        datas.append([
            (e.type, e.sequence, {**e.data, "member": {**e.data["member"], "id": 0,
                                                       "card_id": "", "external_id": ""},
                                  "entry": {**e.data["entry"], "id": 0}})
            for e in events_of(member)[1:]
        ])
    assert datas[0] == datas[1]


def test_adjust_reverse_expire_and_available_emit_their_points_events(program, member, clock):
    program.pending_days = 14
    program.expiry_policy = program.ExpiryPolicy.AFTER_EARN
    program.expiry_months = 1
    program.save()
    ledger.points_adjust(member=member, points=30, actor="staff:1", reason="Goodwill")
    order = rules.order_record(program=program, order_id="o-1", amount=Decimal("40.00"),
                               currency="EUR", customer=Who(member=str(member.pk)), actor="t")
    rules.order_refund(program=program, order_id="o-1", amount=Decimal("10.00"), actor="t")
    clock.advance(days=15)
    ledger.points_make_available(member=member)
    clock.advance(days=40)
    ledger.points_expire_due(member=member)

    types = [e.type for e in events_of(member)]
    assert types == [
        "points.adjusted", "points.earned", "order.recorded", "points.reversed",
        "order.refunded", "points.available", "points.expired",
    ]
    recorded = last(member, "order.recorded")
    assert recorded.data["order"]["order_id"] == "o-1"
    assert recorded.data["order"]["amount"] == "40.00"
    assert recorded.data["order"]["points_earned"] == order.order.points_earned
    refunded = last(member, "order.refunded")
    assert refunded.data["refund"]["amount"] == "10.00"
    after_refund = {"balance": 30, "pending_points": 30, "lifetime_points": 30}
    assert refunded.data["member"] == {**figures(member), **after_refund}
    assert last(member, "points.expired").data["member"] == figures(member)


def test_redemptions_and_vouchers_emit_reward_events(program, member, clock):
    reward = RewardFactory(program=program, name="Mug", points_cost=100)
    ledger.points_credit(member=member, points=500, actor="t")

    released = rewards.redemption_reserve(member=member, reward=reward, actor="t")
    rewards.redemption_release(redemption=released, actor="t")
    redeemed = rewards.reward_redeem_now(member=member, reward=reward, actor="t")
    rewards.voucher_use(voucher=redeemed.voucher, actor="t", reference="till-1")

    types = [e.type for e in events_of(member)]
    assert types == [
        "points.earned", "reward.reserved", "reward.released", "reward.reserved",
        "points.redeemed", "reward.redeemed", "voucher.used",
    ]
    reserved = OutboxEvent.objects.filter(type="reward.reserved").first()
    assert reserved.data["redemption"]["reward"] == {"id": reward.pk, "name": "Mug"}
    assert reserved.data["member"]["reserved_points"] == 100
    assert reserved.data["member"]["balance"] == 400
    confirmed = last(member, "reward.redeemed")
    assert confirmed.data["voucher"]["code"] == redeemed.voucher.code
    assert confirmed.data["member"]["reserved_points"] == 0
    assert last(member, "voucher.used").data["voucher"]["used_reference"] == "till-1"


def test_a_rolled_back_change_writes_no_event_and_no_delivery(member, clock, public_dns):
    from events.services import endpoint_create

    endpoint_create(merchant=member.merchant, url="https://crm.example.com/hooks")

    def change_that_fails() -> None:
        with transaction.atomic():
            ledger.points_credit(member=member, points=10, actor="t")
            raise ZeroDivisionError  # the change fails after its event was written

    with pytest.raises(ZeroDivisionError):
        change_that_fails()
    with pytest.raises(InsufficientPoints):
        ledger.points_debit(member=member, points=10, actor="t")

    assert not OutboxEvent.objects.filter(member=member).exists()
    assert not Delivery.objects.exists()
    assert Member.objects.get(pk=member.pk).event_sequence == 0


def test_an_event_fans_out_to_each_active_endpoint_that_wants_it(member, clock, public_dns):
    from events.services import endpoint_create, endpoint_update

    everything = endpoint_create(merchant=member.merchant, url="https://a.example.com/")
    earned_only = endpoint_create(merchant=member.merchant, url="https://b.example.com/",
                                  event_types=["points.earned"])
    members_only = endpoint_create(merchant=member.merchant, url="https://c.example.com/",
                                   event_types=["member.*"])
    paused = endpoint_create(merchant=member.merchant, url="https://d.example.com/")
    endpoint_update(endpoint=paused, is_active=False)

    ledger.points_credit(member=member, points=10, actor="t")
    members.member_set_status(member=member, status=Member.Status.SUSPENDED)

    def types_for(endpoint) -> set[str]:
        return set(Delivery.objects.filter(endpoint=endpoint).values_list("event__type",
                                                                          flat=True))

    assert types_for(everything) == {"points.earned", "member.status_changed"}
    assert types_for(earned_only) == {"points.earned"}
    assert types_for(members_only) == {"member.status_changed"}
    assert types_for(paused) == set()


def test_another_merchants_endpoints_get_nothing(member, other_member, clock, public_dns):
    from events.services import endpoint_create

    mine = endpoint_create(merchant=member.merchant, url="https://a.example.com/")
    theirs = endpoint_create(merchant=other_member.merchant, url="https://b.example.com/")

    ledger.points_credit(member=member, points=10, actor="t")

    assert Delivery.objects.filter(endpoint=mine).count() == 1
    assert not Delivery.objects.filter(endpoint=theirs).exists()


def test_emit_keeps_the_callers_data_and_refreshes_the_member_figures(member):
    from events.outbox import emit

    with transaction.atomic():
        event = emit("tier.changed", merchant_id=member.merchant_id, member_id=member.pk,
                     program_id=member.program_id,
                     data={"tier": {"from": None, "to": 3}, "member": {"stale": True},
                           "when": member.enrolled_at + timedelta(days=1)})

    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.data == event.data
    assert stored.data["tier"] == {"from": None, "to": 3}
    assert stored.data["member"] == figures(member)
    assert stored.data["when"].startswith("2026-01-16T12:00:00")
