"""Property: any mix of earn, reserve, confirm, release, refund, reversal and expiry keeps the
ledger consistent and agrees, step by step, with a small model of what each should do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import services as ledger
from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import LoyaltyError
from members.models import Member
from rewards import jobs, services
from rewards.models import Redemption, Reward
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory

from .factories import RewardFactory

pytestmark = pytest.mark.django_db

TTL_MINUTES = 15
STOCK = 3
COST = 40

operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 120)),
        st.tuples(st.just("reserve_reward"), st.just(0)),
        st.tuples(st.just("reserve_discount"), st.integers(1, 150)),
        st.tuples(st.just("confirm"), st.integers(0, 9)),
        st.tuples(st.just("release"), st.integers(0, 9)),
        st.tuples(st.just("pay"), st.integers(1, 150)),
        st.tuples(st.just("refund"), st.integers(1, 100)),
        st.tuples(st.just("refund"), st.integers(1, 100)),
        st.tuples(st.just("reverse"), st.integers(1, 80)),
        st.tuples(st.just("wait"), st.integers(1, 20)),
    ),
    min_size=1,
    max_size=20,
)


@dataclass
class Held:
    pk: int
    points: int
    is_reward: bool
    expires_at: datetime
    order_id: str = ""
    status: str = "reserved"
    refunded: Decimal = Decimal(0)
    returned: int = 0


@dataclass
class Model:
    balance: int = 0
    stock: int = STOCK
    held: list[Held] = field(default_factory=list)
    earns: list[Entry] = field(default_factory=list)

    @property
    def reserved(self) -> int:
        return sum(h.points for h in self.held if h.status == "reserved")


ORDER = Decimal("10.00")  # each discount is on an order of 10.00 at 0.01 a point


def _step(op: str, arg: int, member: Member, reward: Reward, model: Model, clock) -> None:
    now = clock.now()
    if op == "earn":
        model.earns.append(ledger.points_credit(member=member, points=arg, actor="p"))
        model.balance += arg
    elif op == "reserve_reward":
        ok = model.balance >= COST and model.stock > 0
        try:
            r = services.redemption_reserve(member=member, reward=reward, actor="p")
        except LoyaltyError:
            assert not ok
            return
        assert ok
        model.balance -= COST
        model.stock -= 1
        model.held.append(Held(r.pk, COST, True, r.expires_at))
    elif op == "pay":  # points as a discount, reserved and confirmed at the till
        _step("reserve_discount", arg, member, reward, model, clock)
        if model.held and model.held[-1].status == "reserved" and not model.held[-1].is_reward:
            _step("confirm", len(model.held) - 1, member, reward, model, clock)
    elif op == "reserve_discount":
        ok = model.balance >= arg and arg <= 1000
        order_id = f"o-{len(model.held)}"
        try:
            r = services.redemption_reserve(
                member=member, points=arg, order_amount=ORDER, order_id=order_id, actor="p"
            )
        except LoyaltyError:
            assert not ok
            return
        assert ok
        model.balance -= arg
        model.held.append(Held(r.pk, arg, False, r.expires_at, order_id))
    elif op in ("confirm", "release") and model.held:
        held = model.held[arg % len(model.held)]
        redemption = Redemption.objects.get(pk=held.pk)
        try:
            if op == "confirm":
                services.redemption_confirm(redemption=redemption, actor="p")
            else:
                services.redemption_release(redemption=redemption, actor="p")
        except LoyaltyError:
            assert (op, held.status) in {
                ("confirm", "released"), ("confirm", "expired"), ("release", "confirmed"),
            } or (op == "confirm" and held.status == "reserved" and now >= held.expires_at)
            return
        if op == "confirm":
            # confirming again answers the confirmed redemption, whatever the time
            assert held.status == "confirmed" or (
                held.status == "reserved" and now < held.expires_at
            )
            held.status = "confirmed"
        elif held.status == "reserved":
            held.status = "expired" if now >= held.expires_at else "released"
            model.balance += held.points
            model.stock += held.is_reward
    elif op == "refund":
        discounts = [h for h in model.held if not h.is_reward]
        order_id = discounts[arg % len(discounts)].order_id if discounts else "none"
        share = ORDER * arg / 100
        returned = services.redemption_refund_for_order(
            program=member.program, order_id=order_id, refund_amount=share, order_amount=ORDER,
            actor="p",
        )
        expected = 0
        for held in discounts:
            if held.order_id == order_id and held.status == "confirmed":
                held.refunded = min(held.refunded + share, ORDER)
                target = int(
                    (held.points * held.refunded / ORDER).to_integral_value(ROUND_FLOOR)
                )
                expected += target - held.returned
                held.returned = target
        assert returned == expected
        model.balance += returned
    elif op == "reverse" and model.earns:
        entry = model.earns[arg % len(model.earns)]
        result = ledger.points_reverse(entry=entry, points=arg, actor="p")
        assert result.reversed_points == min(arg, model.balance)
        model.balance -= result.reversed_points
    elif op == "wait":
        clock.advance(minutes=arg)
        jobs.release_expired_reservations(clock=clock, batch_size=4)
        for held in model.held:
            if held.status == "reserved" and clock.now() >= held.expires_at:
                held.status = "expired"
                model.balance += held.points
                model.stock += held.is_reward


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_ledger_invariants_hold_after_any_mix_of_operations(clock, ops):
    program = ProgramFactory(
        merchant=MerchantFactory(), point_value=Decimal("0.01"), max_redeem_percent=100,
        reservation_ttl_minutes=TTL_MINUTES,
    )
    member = MemberFactory(program=program)
    reward = RewardFactory(program=program, points_cost=COST, stock=STOCK)
    model = Model()

    for op, arg in ops:
        _step(op, arg, member, reward, model, clock)

        fresh = Member.objects.get(pk=member.pk)
        assert member_ledger_discrepancies(member_id=member.pk) == []
        assert (fresh.balance, fresh.reserved_points) == (model.balance, model.reserved)
        assert Reward.objects.get(pk=reward.pk).stock == model.stock
        statuses = dict(Redemption.objects.filter(member=member).values_list("pk", "status"))
        assert statuses == {h.pk: h.status for h in model.held}
