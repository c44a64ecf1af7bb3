"""Conversion on the referee's first qualifying order, rewards for both sides (points pending
for the order's return window, or a voucher), the approval gate's paths, and clawback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from events.models import OutboxEvent
from ledger import services as ledger
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.clock import FrozenClock
from loyaltysite.errors import InvalidTransition, ValidationFailed
from members.services import member_set_status
from referrals import services
from referrals.models import Referral, ReferralReward
from rewards.models import Voucher
from rewards.services import voucher_use
from tests.rewards.factories import RewardFactory

from ..factories import MemberFactory
from .conftest import fresh, referral_of, rewards_of, terms

pytestmark = pytest.mark.django_db


def test_the_first_qualifying_order_converts_and_rewards_both_sides(
    program, referrer, friend, buy, clock
):
    result = buy(friend, "25.00", order_id="A-1")

    referral = referral_of(friend)
    assert referral.status == "rewarded"
    assert (referral.order.order_id, referral.converted_at, referral.rewarded_at) == (
        "A-1", clock.now(), clock.now()
    )
    rewards = rewards_of(referral)
    assert {(side, r.kind, r.points, r.status) for side, r in rewards.items()} == {
        ("referrer", "points", 200, "granted"), ("referee", "points", 100, "granted"),
    }
    # points pend for the order's return window, like the order's own points
    for member, points in ((referrer, 200), (friend, 125)):
        member = fresh(member)
        assert (member.balance, member.pending_points) == (0, points)
        assert member_ledger_discrepancies(member_id=member.pk) == []
    lot = rewards["referrer"].entry.lot
    assert lot.available_at == clock.now() + timedelta(days=14)
    # the order's answer already shows the welcome reward
    assert result.member.pending_points == 125


def test_the_order_write_itself_answers_whether_the_buyer_has_an_open_referral(
    program, referrer, friend, buy
):
    """On PostgreSQL the order's one write statement asks (``rules.hooks`` probes): the hook
    gets the referral's id without a query of its own; on SQLite the hook asks itself. The
    conversion is the same either way."""
    stranger = MemberFactory(program=program)

    with CaptureQueriesContext(connection) as queries:
        result = buy(friend, "25.00")
    with CaptureQueriesContext(connection) as stranger_queries:
        plain = buy(stranger, "25.00")

    standalone = [q["sql"] for q in [*queries, *stranger_queries]
                  if q["sql"].lstrip().startswith('SELECT (SELECT id FROM "referrals_referral"')]
    if connection.vendor == "postgresql":
        assert result.probed == {services.OPEN_REFERRAL_PROBE: referral_of(friend).pk}
        assert plain.probed == {services.OPEN_REFERRAL_PROBE: None}
        assert standalone == []
    else:
        assert result.probed == plain.probed == {}
        assert len(standalone) == 2
    assert referral_of(friend).status == "rewarded"
    assert not Referral.objects.filter(referee=stranger).exists()


def test_conversion_emits_converted_and_one_rewarded_per_side(referrer, friend, buy):
    buy(friend, "25.00")

    events = list(OutboxEvent.objects.filter(type__startswith="referral.").order_by("id"))
    assert [(e.type, e.member_id) for e in events] == [
        ("referral.attributed", referrer.pk),
        ("referral.converted", referrer.pk),
        ("referral.rewarded", friend.pk),
        ("referral.rewarded", referrer.pk),
    ]
    assert (events[1].data["amount"], events[1].data["currency"]) == ("25.00", "EUR")
    rewarded = events[-1].data
    assert (rewarded["side"], rewarded["points"], rewarded["pending"]) == ("referrer", 200, True)
    assert rewarded["member"]["pending_points"] == 200
    assert rewarded["referral"]["order_id"]


def test_an_order_below_the_minimum_does_not_convert_and_a_later_one_does(program, friend,
                                                                          buy):
    terms(program, min_order_amount="20.00")

    buy(friend, "19.99")
    assert referral_of(friend).status == "pending"

    buy(friend, "20.00", order_id="big")
    assert referral_of(friend).status == "rewarded"
    assert referral_of(friend).order.order_id == "big"


def test_a_second_order_rewards_nobody_again(friend, buy):
    buy(friend, "25.00")
    buy(friend, "25.00")

    assert ReferralReward.objects.count() == 2
    assert fresh(friend).pending_points == 100 + 25 + 25


def test_an_order_after_the_conversion_window_converts_nothing(program, join, buy, clock):
    terms(program, conversion_window_days=10)
    friend, _ = join()
    clock.advance(days=10, seconds=1)

    buy(friend, "50.00")

    assert referral_of(friend).status == "pending"
    assert services.referrals_expire_due(clock=clock) == 1
    assert referral_of(friend).status == "expired"
    assert services.referrals_expire_due(clock=clock) == 0


def test_the_window_is_fixed_at_attribution(program, friend, buy, clock):
    terms(program, conversion_window_days=5)  # after the friend was attributed with 30 days
    clock.advance(days=20)

    buy(friend, "50.00")

    assert referral_of(friend).status == "rewarded"


def test_checkout_attribution_of_a_recorded_order_converts_with_that_order(program, code,
                                                                           buy, clock):
    newcomer = MemberFactory(program=program)
    buy(newcomer, "40.00", order_id="till-7")

    outcome = services.referral_attribute_checkout(
        program=program, code=code.code, member=str(newcomer.pk), source="till-7", actor="t",
        clock=clock,
    )

    assert outcome.referral.status == "rewarded"
    assert outcome.referral.order.order_id == "till-7"


def test_voucher_rewards_are_issued_from_the_catalog(program, referrer, friend, buy):
    mug = RewardFactory(program=program, name="Mug", points_cost=900, stock=3)
    terms(program, referrer_reward_kind="reward", referrer_reward=mug, referee_reward_kind="none")

    buy(friend, "25.00")

    [reward] = ReferralReward.objects.all()
    assert (reward.side, reward.kind, reward.status) == ("referrer", "voucher", "granted")
    voucher = reward.voucher
    assert (voucher.member_id, voucher.reward_id, voucher.redemption_id) == (
        referrer.pk, mug.pk, None
    )
    mug.refresh_from_db()
    assert mug.stock == 2
    assert fresh(referrer).balance == 0  # a gift: no points spent


def test_a_reward_out_of_stock_is_skipped_and_never_fails_the_order(program, friend, buy):
    gone = RewardFactory(program=program, name="Mug", stock=0)
    terms(program, referrer_reward_kind="reward", referrer_reward=gone)

    buy(friend, "25.00")

    rewards = rewards_of(referral_of(friend))
    assert rewards["referrer"].status == "skipped"
    assert "out of stock" in rewards["referrer"].note
    assert rewards["referee"].status == "granted"


def test_an_inactive_referrer_gets_nothing_but_the_friend_does(referrer, friend, buy, clock):
    member_set_status(member=referrer, status="suspended", clock=clock)

    buy(friend, "25.00")

    rewards = rewards_of(referral_of(friend))
    assert (rewards["referrer"].status, rewards["referrer"].note) == (
        "skipped", "The member is suspended."
    )
    assert rewards["referee"].status == "granted"
    assert fresh(referrer).pending_points == 0


# -- the approval gate -------------------------------------------------------------------------


@pytest.fixture
def gated(program):
    return terms(program, requires_approval=True)


def test_with_the_gate_a_conversion_waits_for_approval_then_rewards(gated, friend, buy,
                                                                   clock):
    buy(friend, "25.00")
    referral = referral_of(friend)
    assert referral.status == "converted"
    assert not ReferralReward.objects.exists()

    clock.advance(days=3)
    approved = services.referral_approve(referral=referral, actor="staff:7",
                                         reason="Checked", clock=clock)

    assert approved.status == "rewarded"
    assert (approved.decision, approved.decided_by, approved.decision_reason) == (
        "approved", "staff:7", "Checked"
    )
    # the reward pends for what is left of the order's window: 11 of 14 days
    entry = rewards_of(approved)["referee"].entry
    assert entry.lot.available_at == clock.now() + timedelta(days=11)


def test_approved_before_the_order_rewards_at_conversion(gated, friend, buy, clock):
    referral = services.referral_approve(referral=referral_of(friend), actor="staff:7",
                                         clock=clock)
    assert referral.status == "approved"

    buy(friend, "25.00")

    assert referral_of(friend).status == "rewarded"


def test_a_rejected_referral_rewards_nobody(gated, referrer, friend, buy, clock):
    rejected = services.referral_reject(referral=referral_of(friend), actor="staff:7",
                                        reason="Same household", clock=clock)
    buy(friend, "25.00")

    referral = referral_of(friend)
    assert (referral.status, referral.decision_reason, rejected.decided_by) == (
        "rejected", "Same household", "staff:7"
    )
    assert not ReferralReward.objects.exists()
    assert fresh(referrer).pending_points == 0
    event = OutboxEvent.objects.get(type="referral.rejected")
    assert (event.member_id, event.data["reason"]) == (referrer.pk, "Same household")


def test_rejecting_a_converted_referral_rewards_nobody(gated, friend, buy, clock):
    buy(friend, "25.00")
    services.referral_reject(referral=referral_of(friend), actor="s", reason="Fraud",
                             clock=clock)

    assert referral_of(friend).status == "rejected"
    assert not ReferralReward.objects.exists()


def test_a_rejection_needs_a_reason(friend, clock):
    with pytest.raises(ValidationFailed) as caught:
        services.referral_reject(referral=referral_of(friend), actor="s", reason="  ",
                                 clock=clock)
    assert caught.value.field == "reason"
    assert referral_of(friend).status == "pending"


def test_approving_twice_answers_the_first_approval(gated, friend, clock):
    referral = referral_of(friend)
    services.referral_approve(referral=referral, actor="a", clock=clock)
    again = services.referral_approve(referral=referral, actor="b", clock=clock)
    assert (again.status, again.decided_by) == ("approved", "a")


def test_an_approval_can_be_reversed_until_someone_is_rewarded(gated, friend, buy, clock):
    referral = services.referral_approve(referral=referral_of(friend), actor="a", clock=clock)
    rejected = services.referral_reject(referral=referral, actor="b", reason="New evidence",
                                        clock=clock)
    buy(friend, "25.00")

    assert (rejected.status, rejected.decided_by) == ("rejected", "b")
    assert referral_of(friend).status == "rejected"
    assert not ReferralReward.objects.exists()


def test_a_rewarded_referral_can_be_neither_rejected_nor_approved(friend, buy, clock):
    buy(friend, "25.00")  # no gate: rewarded at once
    referral = referral_of(friend)
    with pytest.raises(InvalidTransition):
        services.referral_reject(referral=referral, actor="s", reason="x", clock=clock)
    with pytest.raises(InvalidTransition):
        services.referral_approve(referral=referral, actor="s", clock=clock)


def test_a_rejected_referral_cannot_be_approved(friend, clock):
    referral = services.referral_reject(referral=referral_of(friend), actor="s", reason="x",
                                        clock=clock)
    with pytest.raises(InvalidTransition):
        services.referral_approve(referral=referral, actor="s", clock=clock)
    assert services.referral_reject(referral=referral, actor="t", reason="y",
                                    clock=clock).decided_by == "s"


# -- clawback --------------------------------------------------------------------------------


def test_a_full_refund_inside_the_window_claws_both_rewards_back(referrer, friend, buy,
                                                                 refund, clock):
    buy(friend, "25.00", order_id="A-1")
    clock.advance(days=2)

    refund("A-1")

    referral = referral_of(friend)
    assert (referral.status, referral.clawed_back_at) == ("clawed_back", clock.now())
    for side, member in (("referrer", referrer), ("referee", friend)):
        reward = rewards_of(referral)[side]
        assert (reward.status, reward.points_reversed, reward.points_shortfall) == (
            "clawed_back", reward.points, 0
        )
        member = fresh(member)
        assert (member.balance, member.pending_points) == (0, 0)
        assert member_ledger_discrepancies(member_id=member.pk) == []
    types = list(OutboxEvent.objects.filter(type="referral.clawed_back")
                 .values_list("member_id", flat=True))
    assert sorted(types) == sorted([referrer.pk, friend.pk])


def test_points_the_referrer_already_spent_are_recorded_as_a_shortfall(
    program, referrer, friend, buy, refund, clock
):
    # given: the referrer's reward spendable at once (no return window for it) and spent
    buy(friend, "25.00", order_id="A-1")
    referral = referral_of(friend)
    ledger.points_make_available(member=referrer,
                                 clock=FrozenClock(clock.now() + timedelta(days=14)))
    referrer_now = fresh(referrer)
    assert referrer_now.balance == 200
    ledger.points_debit(member=referrer_now, points=150, actor="t", clock=clock)

    refund("A-1")  # day 0 still: inside the window

    reward = rewards_of(referral)["referrer"]
    assert (reward.points_reversed, reward.points_shortfall) == (50, 150)
    referrer_now = fresh(referrer)
    assert referrer_now.balance == 0  # never below zero
    assert member_ledger_discrepancies(member_id=referrer.pk) == []


def test_a_refund_after_the_return_window_keeps_the_rewards(friend, buy, refund, clock):
    buy(friend, "25.00", order_id="A-1")
    clock.advance(days=14, seconds=1)

    refund("A-1")

    assert referral_of(friend).status == "rewarded"
    assert {r.status for r in rewards_of(referral_of(friend)).values()} == {"granted"}


def test_a_partial_refund_keeps_the_rewards_until_the_order_is_refunded_in_full(
    friend, buy, refund
):
    buy(friend, "25.00", order_id="A-1")

    refund("A-1", "10.00")
    assert referral_of(friend).status == "rewarded"

    refund("A-1")  # the rest
    assert referral_of(friend).status == "clawed_back"


def test_refunding_another_order_claws_nothing_back(friend, buy, refund):
    buy(friend, "25.00", order_id="A-1")
    buy(friend, "30.00", order_id="A-2")

    refund("A-2")

    assert referral_of(friend).status == "rewarded"


def test_a_refunded_conversion_waiting_for_review_is_closed(gated, friend, buy, refund,
                                                            clock):
    buy(friend, "25.00", order_id="A-1")
    clock.advance(days=30)  # long after the window: nothing was given, nothing to keep

    refund("A-1")

    assert referral_of(friend).status == "clawed_back"
    with pytest.raises(InvalidTransition):
        services.referral_approve(referral=referral_of(friend), actor="s", clock=clock)


def test_an_unused_voucher_is_withdrawn_and_a_used_one_is_noted(program, referrer, friend,
                                                                buy, refund, clock):
    mug = RewardFactory(program=program, name="Mug")
    terms(program, referrer_reward_kind="reward", referrer_reward=mug,
          referee_reward_kind="reward", referee_reward=mug)
    buy(friend, "25.00", order_id="A-1")
    rewards = rewards_of(referral_of(friend))
    voucher_use(voucher=rewards["referee"].voucher, actor="till", clock=clock)

    refund("A-1")

    rewards = rewards_of(referral_of(friend))
    assert Voucher.objects.get(pk=rewards["referrer"].voucher_id).status == "expired"
    assert Voucher.objects.get(pk=rewards["referee"].voucher_id).status == "used"
    assert rewards["referee"].note == "The voucher had been used already."
    assert {r.status for r in rewards.values()} == {"clawed_back"}


def test_the_database_holds_one_reward_per_side(friend, buy):
    buy(friend, "25.00")
    reward = ReferralReward.objects.get(side="referee")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralReward.objects.create(
            merchant_id=reward.merchant_id, program_id=reward.program_id,
            referral_id=reward.referral_id, member_id=reward.member_id, side="referee",
            kind="points", points=1, entry_id=reward.entry_id, created_at=reward.created_at,
        )


def test_the_database_refuses_a_self_referral_row(referrer, code, clock):
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            merchant_id=referrer.merchant_id, program_id=referrer.program_id, code=code,
            referrer=referrer, referee=referrer, channel="checkout", created_at=clock.now(),
            expires_at=clock.now() + timedelta(days=1),
        )
