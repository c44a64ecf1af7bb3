"""A program's ladder and streak rules, cached per process: what the hot paths read.

The after-post hook runs on every ledger posting and the member representation on every earn
response, so neither may query the tier tables each time. ``ladder_for(program_id)`` answers
from a per-process cache: loaded on first use (two queries), dropped when this process changes a
tier or the settings (``invalidate``, also on commit), and reloaded at most ``TTL_SECONDS``
after a change made by another process. The cached ``Tier`` rows are shared read-only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from django.db import connection, transaction

from members.models import Member, Program

from .models import Tier, TierSettings

TTL_SECONDS = 60.0


def cycle_start(day: date, cycle: str) -> date:
    """The first day of the cycle ``day`` falls in (weeks start on Monday, ISO 8601)."""
    if cycle == TierSettings.Cycle.WEEK:
        return day - timedelta(days=day.weekday())
    if cycle == TierSettings.Cycle.MONTH:
        return day.replace(day=1)
    return day


def next_cycle(start: date, cycle: str) -> date:
    """The first day of the cycle after the one starting on ``start``."""
    if cycle == TierSettings.Cycle.WEEK:
        return start + timedelta(days=7)
    if cycle == TierSettings.Cycle.MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def cycle_end(start: date, cycle: str) -> date:
    """The last day of the cycle starting on ``start``."""
    return next_cycle(start, cycle) - timedelta(days=1)


@dataclass(frozen=True)
class Ladder:
    """One program's tiers (lowest rank first) and settings, as the hot paths need them."""

    program_id: int
    merchant_id: int
    currency: str
    tz: tzinfo
    settings: TierSettings
    tiers: tuple[Tier, ...] = ()
    by_id: dict[int, Tier] = field(default_factory=dict)
    # Each tier's threshold in the basis' unit, lowest first (what the hot path compares).
    thresholds: tuple[Decimal, ...] = ()

    @property
    def spend(self) -> bool:
        return self.settings.basis == TierSettings.Basis.WINDOW_SPEND

    @property
    def windowed(self) -> bool:
        return self.settings.basis != TierSettings.Basis.LIFETIME_POINTS

    @property
    def idle(self) -> bool:
        """Nothing to do for this program on a posting (no tiers, no streaks)."""
        return not self.tiers and not self.settings.streaks_on

    def threshold(self, tier: Tier) -> Decimal:
        return tier.threshold_amount if self.spend else Decimal(tier.threshold_points)

    def raw_value(self, *, lifetime_points: int, tier_value: Decimal) -> Decimal:
        """The basis figure before any pause offset: lifetime points or the window's figure."""
        return Decimal(tier_value) if self.windowed else Decimal(lifetime_points)

    def value_of(self, member: Member) -> Decimal:
        """What the member's standing is measured by: the basis figure less the offset."""
        raw = self.raw_value(lifetime_points=member.lifetime_points, tier_value=member.tier_value)
        return raw - Decimal(member.tier_offset)

    def qualified(self, value: Decimal) -> Tier | None:
        """The highest tier whose threshold ``value`` reaches (``None`` below the lowest)."""
        found = None
        for tier in self.tiers:
            if self.threshold(tier) <= value:
                found = tier
            else:
                break
        return found

    def crosses(self, before: Decimal | int, after: Decimal | int) -> bool:
        """Whether a threshold lies in ``(before, after]``: the only way a rise changes a tier."""
        return any(before < threshold <= after for threshold in self.thresholds)

    def rank(self, tier_id: int | None) -> int:
        tier = self.by_id.get(tier_id) if tier_id is not None else None
        return tier.rank if tier is not None else -1

    def above(self, tier_id: int | None) -> Tier | None:
        """The next tier up from ``tier_id`` (the lowest when the member has none)."""
        rank = self.rank(tier_id)
        return next((t for t in self.tiers if t.rank > rank), None)

    def below(self, tier_id: int | None) -> Tier | None:
        """The next tier down from ``tier_id`` (``None`` at the bottom)."""
        rank = self.rank(tier_id)
        lower = [t for t in self.tiers if t.rank < rank]
        return lower[-1] if lower else None

    def today(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


_cache: dict[int, tuple[float, Ladder]] = {}
_lock = threading.Lock()


def _load(program_id: int) -> Ladder:
    program = Program._base_manager.only("merchant_id", "currency", "time_zone").get(
        pk=program_id
    )
    settings = TierSettings._base_manager.filter(program_id=program_id).first()
    if settings is None:
        settings = TierSettings(merchant_id=program.merchant_id, program_id=program_id)
    tiers = tuple(Tier._base_manager.filter(program_id=program_id).order_by("rank", "id"))
    spend = settings.basis == TierSettings.Basis.WINDOW_SPEND
    return Ladder(
        program_id=program_id, merchant_id=program.merchant_id, currency=program.currency,
        tz=program.tz, settings=settings, tiers=tiers, by_id={t.pk: t for t in tiers},
        thresholds=tuple(
            t.threshold_amount if spend else Decimal(t.threshold_points) for t in tiers
        ),
    )


# Programs whose ladder this thread changed in its open transaction: read afresh and never
# cached until it ends (a rollback must not leave its rows in the cache).
_writing = threading.local()


def _transaction_mark() -> object | None:
    """A token of the open transaction (its outermost ``atomic``; a test case's own wrapping
    transaction does not count: what a test wrote is as good as committed for it)."""
    blocks = [b for b in connection.atomic_blocks if not getattr(b, "_from_testcase", False)]
    if not blocks:
        return None
    token = getattr(blocks[0], "_tiers_mark", None)
    if token is None:
        token = blocks[0]._tiers_mark = object()
    return token


def _written_here(program_id: int) -> bool:
    programs = getattr(_writing, "programs", None)
    if not programs or program_id not in programs:
        return False  # the usual case, without asking the connection anything
    if programs[program_id] is _transaction_mark():
        return True
    del programs[program_id]  # that transaction is over
    return False


def ladder_for(program_id: int) -> Ladder:
    """The program's ladder, from this process's cache when it is fresh."""
    if _written_here(program_id):
        return _load(program_id)
    now = time.monotonic()
    hit = _cache.get(program_id)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    ladder = _load(program_id)
    with _lock:
        _cache[program_id] = (now, ladder)
    return ladder


def invalidate(program_id: int) -> None:
    """Forget a program's ladder now and again when the transaction commits (a reader in
    between could have cached the rows as they were before the change)."""
    _cache.pop(program_id, None)
    mark = _transaction_mark()
    if mark is not None:
        if not hasattr(_writing, "programs"):
            _writing.programs = {}
        _writing.programs[program_id] = mark

    def committed() -> None:
        _cache.pop(program_id, None)
        getattr(_writing, "programs", {}).pop(program_id, None)

    transaction.on_commit(committed)


def forget_ladder(sender, instance, **kwargs) -> None:
    """``post_save``/``post_delete`` receiver for ``Tier`` and ``TierSettings`` rows."""
    invalidate(instance.program_id)


# The cycle in which this process last counted each member's activity, so a second earn in
# the same cycle skips the streak's row read. Filled on commit only; bounded (oldest out).
_COUNTED_MAX = 100_000
_counted: OrderedDict[int, date] = OrderedDict()


def counted(member_id: int, cycle: date) -> bool:
    return _counted.get(member_id) == cycle


def remember_counted(member_id: int, cycle: date) -> None:
    def remember() -> None:
        with _lock:
            _counted[member_id] = cycle
            _counted.move_to_end(member_id)
            while len(_counted) > _COUNTED_MAX:
                _counted.popitem(last=False)

    transaction.on_commit(remember)


def forget_counted(member_id: int) -> None:
    """A pause or a reset changed the member's streak: count their next activity afresh."""
    with _lock:
        _counted.pop(member_id, None)


def clear() -> None:
    """Drop every cached ladder and count (tests; a deploy)."""
    with _lock:
        _cache.clear()
        _counted.clear()
    _writing.__dict__.clear()
