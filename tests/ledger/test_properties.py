"""Random sequences of ledger operations against a small in-Python model of the ledger.

Hypothesis draws a program (expiry policy) and a list of operations: credits (some pending,
some never expiring), debits, signed adjusts, reserves with confirm or release, reversals of
earlier credits, clock moves, expiry and the pending job. After every step the member's
figures and every lot must match the model, and ``member_ledger_discrepancies`` must be empty.
The model is written from SPEC 5 (FIFO by expiry then age, pending first on a reversal, ...),
not from the services' code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import services
from ledger.models import Entry, Hold, Lot
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.clock import FrozenClock
from loyaltysite.errors import InsufficientPoints, RedemptionExpired, Unprocessable
from members.models import Member, Program
from tests.factories import FIXED_NOW, MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db


@dataclass
class LotModel:
    points: int
    remaining: int
    pending: bool
    available_at: datetime
    expires_at: datetime | None


@dataclass
class HoldModel:
    hold: Hold
    points: int
    allocations: list[tuple[int, int]]
    expires_at: datetime
    status: str = "active"


@dataclass
class LedgerModel:
    program: Program
    enrolled_at: datetime
    balance: int = 0
    pending: int = 0
    reserved: int = 0
    lifetime: int = 0
    last_activity: datetime | None = None
    lots: dict[int, LotModel] = field(default_factory=dict)
    holds: list[HoldModel] = field(default_factory=list)
    earns: list[Entry] = field(default_factory=list)

    def expiry(self, now: datetime) -> datetime | None:
        if self.program.expiry_policy == Program.ExpiryPolicy.AFTER_EARN:
            return services.add_months(now, self.program.expiry_months)
        return None

    def take_fifo(self, points: int) -> list[tuple[int, int]]:
        """Spendable lots, soonest expiry first (never-expiring last), then oldest first."""
        order = sorted(
            (lot_id for lot_id, lot in self.lots.items() if lot.remaining and not lot.pending),
            key=lambda i: (self.lots[i].expires_at is None, self.lots[i].expires_at or 0, i),
        )
        taken = []
        for lot_id in order:
            take = min(points, self.lots[lot_id].remaining)
            self.lots[lot_id].remaining -= take
            taken.append((lot_id, take))
            points -= take
            if not points:
                break
        assert points == 0, "model: lots short of the balance"
        return taken


class Step:
    """Applies one drawn operation to the database (through the services) and to the model."""

    def __init__(self, member: Member, model: LedgerModel, clock: FrozenClock) -> None:
        self.member, self.model, self.clock = member, model, clock

    def credit(self, points: int, pending_days: int, expires: bool) -> None:
        m, now = self.model, self.clock.now()
        entry = services.points_credit(
            member=self.member, points=points, actor="t", pending_days=pending_days,
            expires_at=True if expires else None, clock=self.clock,
        )
        pending = pending_days > 0
        m.lots[Lot.objects.get(entry=entry).pk] = LotModel(
            points, points, pending, now + timedelta(days=pending_days),
            m.expiry(now) if expires else None,
        )
        m.earns.append(entry)
        if pending:
            m.pending += points
        else:
            m.balance += points
            m.lifetime += points
        m.last_activity = now

    def debit(self, points: int) -> None:
        m = self.model
        if points > m.balance:
            with pytest.raises(InsufficientPoints):
                services.points_debit(member=self.member, points=points, actor="t",
                                      clock=self.clock)
            return
        services.points_debit(member=self.member, points=points, actor="t", clock=self.clock)
        m.take_fifo(points)
        m.balance -= points
        m.last_activity = self.clock.now()

    def adjust(self, points: int) -> None:
        m, now = self.model, self.clock.now()

        def call() -> Entry:
            return services.points_adjust(
                member=self.member, points=points, actor="staff:1", reason="r", clock=self.clock
            )

        if -points > m.balance:
            with pytest.raises(InsufficientPoints):
                call()
            return
        entry = call()
        if points < 0:
            m.take_fifo(-points)
        else:
            m.lots[Lot.objects.get(entry=entry).pk] = LotModel(
                points, points, False, now, m.expiry(now)
            )
            m.lifetime += points
        m.balance += points

    def reserve(self, points: int, ttl_hours: int) -> None:
        m, now = self.model, self.clock.now()

        def call() -> Hold:
            return services.points_reserve(
                member=self.member, points=points, actor="t", ttl=timedelta(hours=ttl_hours),
                clock=self.clock,
            )

        if points > m.balance:
            with pytest.raises(InsufficientPoints):
                call()
            return
        hold = call()
        expires_at = now + timedelta(hours=ttl_hours)
        m.holds.append(HoldModel(hold, points, m.take_fifo(points), expires_at))
        m.balance -= points
        m.reserved += points
        m.last_activity = now

    def confirm(self, index: int) -> None:
        m = self.model
        if not m.holds:
            return
        held = m.holds[index % len(m.holds)]

        def call() -> Hold:
            return services.hold_confirm(hold=held.hold, actor="t", clock=self.clock)

        if held.status == "released":
            with pytest.raises(Unprocessable):
                call()
        elif held.status == "active" and held.expires_at <= self.clock.now():
            with pytest.raises(RedemptionExpired):
                call()
        else:
            call()
            if held.status == "active":
                m.reserved -= held.points
                held.status = "confirmed"

    def release(self, index: int) -> None:
        m = self.model
        if not m.holds:
            return
        held = m.holds[index % len(m.holds)]
        if held.status == "confirmed":
            with pytest.raises(Unprocessable):
                services.hold_release(hold=held.hold, actor="t", clock=self.clock)
            return
        services.hold_release(hold=held.hold, actor="t", clock=self.clock)
        if held.status == "active":
            for lot_id, taken in held.allocations:
                m.lots[lot_id].remaining += taken
            m.balance += held.points
            m.reserved -= held.points
            held.status = "released"

    def reverse(self, index: int, points: int) -> None:
        m = self.model
        if not m.earns:
            return
        entry = m.earns[index % len(m.earns)]
        result = services.points_reverse(entry=entry, points=points, actor="t", clock=self.clock)
        own = m.lots[Lot.objects.get(entry=entry).pk]
        pending_take = balance_take = 0
        if own.remaining:
            take = min(own.remaining, points)
            own.remaining -= take
            if own.pending:
                pending_take = take
            else:
                balance_take = take
        more = min(points - pending_take - balance_take, m.balance - balance_take)
        if more > 0:
            m.take_fifo(more)
            balance_take += more
        assert result.reversed_points == pending_take + balance_take
        assert result.shortfall == points - result.reversed_points
        m.balance -= balance_take
        m.pending -= pending_take

    def advance(self, days: int, then_jobs: bool) -> None:
        """Move the clock; maybe run what the scheduled jobs would (pending, then expiry)."""
        self.clock.advance(days=days)
        if then_jobs:
            self.available()
            self.expire()

    def expire(self) -> None:
        m, now = self.model, self.clock.now()
        entry = services.points_expire_due(member=self.member, clock=self.clock)
        inactive = m.program.expiry_policy == Program.ExpiryPolicy.INACTIVITY and (
            services.add_months(m.last_activity or m.enrolled_at, m.program.expiry_months) <= now
        )
        due = [
            lot for lot in m.lots.values()
            if lot.remaining and (inactive or (lot.expires_at and lot.expires_at <= now))
        ]
        assert (entry is None) == (not due)
        for lot in due:
            if lot.pending:
                m.pending -= lot.remaining
            else:
                m.balance -= lot.remaining
            lot.remaining = 0

    def available(self) -> None:
        m, now = self.model, self.clock.now()
        services.points_make_available(member=self.member, clock=self.clock)
        for lot in m.lots.values():
            if lot.pending and lot.available_at <= now:
                lot.pending = False
                m.balance += lot.remaining
                m.pending -= lot.remaining
                m.lifetime += lot.remaining

    def check(self) -> None:
        m = self.model
        member = Member.objects.get(pk=self.member.pk)
        figures = (member.balance, member.pending_points, member.reserved_points,
                   member.lifetime_points)
        assert figures == (m.balance, m.pending, m.reserved, m.lifetime)
        assert member_ledger_discrepancies(member_id=member.pk) == []
        lots = {
            pk: (remaining, pending)
            for pk, remaining, pending in Lot.objects.filter(member=member).values_list(
                "pk", "remaining", "pending"
            )
        }
        assert lots == {pk: (lot.remaining, lot.pending) for pk, lot in m.lots.items()}


points = st.integers(min_value=1, max_value=120)
credit = st.tuples(st.just("credit"), points, st.sampled_from([0, 0, 3, 10]), st.booleans())
operations = st.lists(
    st.one_of(
        credit,
        credit,
        st.tuples(st.just("debit"), st.integers(min_value=1, max_value=150)),
        st.tuples(st.just("adjust"), st.integers(-120, 120).filter(bool)),
        st.tuples(st.just("reserve"), points, st.sampled_from([1, 24 * 40])),
        st.tuples(st.just("confirm"), st.integers(0, 8)),
        st.tuples(st.just("release"), st.integers(0, 8)),
        st.tuples(st.just("reverse"), st.integers(0, 8), points),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=70), st.booleans()),
        st.tuples(st.just("expire")),
        st.tuples(st.just("available")),
    ),
    min_size=3,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.parametrize("policy", Program.ExpiryPolicy.values)
@given(
    months=st.integers(min_value=1, max_value=2),
    first=st.lists(credit, min_size=1, max_size=4),
    ops=operations,
)
def test_random_operations_keep_the_ledger_consistent_with_the_model(
    merchant, policy, months, first, ops
):
    program = ProgramFactory(merchant=merchant, expiry_policy=policy, expiry_months=months)
    member = MemberFactory(program=program)
    clock = FrozenClock(FIXED_NOW)
    step = Step(member, LedgerModel(program=program, enrolled_at=member.enrolled_at), clock)
    lifetime = 0
    for name, *args in first + ops:
        getattr(step, name)(*args)
        step.check()
        assert step.model.lifetime >= lifetime  # lifetime points never decrease
        lifetime = step.model.lifetime
