"""What the tiers app does when others act: registered from ``TiersConfig.ready()``.

* ``after_post`` (the ledger, every posting, under the member lock): lift a member whose
  qualifying figure crossed a threshold; count streak activity. It must stay cheap: for a
  program without tiers or streaks it is one dictionary look-up; on a lifetime basis an earn
  that crosses no threshold costs no query; streak activity costs a read and a write the first
  time a member is active in a cycle, nothing after that in the same process.
* ``order_recorded`` / ``order_refunded`` (rules): money spent for a spend basis; orders as
  streak activity (zero-point orders included).
* ``member_enrolled`` (members): a new member starts on a zero-threshold tier.
* ``standing`` (the member representation): tier progress and the streak's cycle, from the
  cached ladder, without a query.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from ledger.hooks import Posted
from loyaltysite.clock import FrozenClock
from loyaltysite.formatting import money_str
from members.models import Member

from . import ladder as cache
from .models import TierSettings
from .services import standing, streaks

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from rules.services.orders import OrderResult, RefundResult

# Credits that are not the member's own doing never count as streak activity.
AUTOMATIC = ("kind", "redemption", "streak_milestone", "referral")


def _is_activity(entry_metadata: Mapping[str, Any], settings: TierSettings) -> bool:
    """Whether a non-order earn counts for the streak (orders count through their own hook)."""
    if "order_id" in entry_metadata or any(key in entry_metadata for key in AUTOMATIC):
        return False
    if settings.streak_activity == TierSettings.Activity.ANY:
        return True
    if settings.streak_activity == TierSettings.Activity.EVENT_TYPES:
        return entry_metadata.get("event_type") in (settings.streak_event_types or [])
    return False


def _orders_count(settings: TierSettings) -> bool:
    if settings.streak_activity in (TierSettings.Activity.ANY, TierSettings.Activity.ORDERS):
        return True
    return "order" in (settings.streak_event_types or [])


def after_post(posted: Posted) -> None:
    ladder = cache.ladder_for(posted.program_id)
    if ladder.idle:
        return
    entry = posted.entry
    if ladder.tiers and posted.lifetime_delta > 0 and not ladder.spend:
        if ladder.windowed:
            value, offset, tier_id = standing.qualifying_add(
                ladder=ladder, member_id=posted.member_id, day=ladder.today(entry.created_at),
                points=posted.lifetime_delta,
            )
            posted.member_updates["tier_value"] = value
            qualified = ladder.qualified(value - offset)
            if qualified is not None and qualified.rank > ladder.rank(tier_id):
                _lift(posted, ladder)
        elif ladder.crosses(posted.lifetime_points - posted.lifetime_delta,
                            posted.lifetime_points):
            _lift(posted, ladder)
    if (
        ladder.settings.streaks_on and entry.kind == "earn"
        and _is_activity(entry.metadata or {}, ladder.settings)
    ):
        changed = streaks.streak_record_activity(
            member_id=posted.member_id, ladder=ladder, at=entry.created_at, actor=entry.actor,
            clock=FrozenClock(entry.created_at),  # it happens at the posting's moment
        )
        if changed:
            posted.member_updates.update(changed)


def _lift(posted: Posted, ladder: cache.Ladder) -> None:
    entry = posted.entry
    lifted = standing.tier_lift(
        member_id=posted.member_id, ladder=ladder, actor=f"system:tiers ({entry.actor})"[:128],
        clock=FrozenClock(entry.created_at),
    )
    if lifted is not None:
        posted.member_updates["tier"] = lifted


def _apply(member: Member, changed: Mapping[str, Any]) -> None:
    for name, value in changed.items():
        setattr(member, name, value)


def order_recorded(result: OrderResult) -> None:
    member = result.member
    ladder = cache.ladder_for(member.program_id)
    if ladder.idle:
        return
    order = result.order
    clock = FrozenClock(order.created_at)
    day = ladder.today(order.occurred_at)
    if ladder.tiers and ladder.spend and day > standing.window_cutoff(ladder, order.created_at):
        value, offset, tier_id = standing.qualifying_add(
            ladder=ladder, member_id=member.pk, day=day, spend=order.amount,
        )
        member.tier_value = value
        qualified = ladder.qualified(value - offset)
        if qualified is not None and qualified.rank > ladder.rank(tier_id):
            lifted = standing.tier_lift(
                member_id=member.pk, ladder=ladder, actor=f"system:tiers ({order.actor})"[:128],
                clock=clock,
            )
            if lifted is not None:
                member.tier = lifted
    if ladder.settings.streaks_on and _orders_count(ladder.settings):
        changed = streaks.streak_record_activity(
            member_id=member.pk, ladder=ladder, at=order.created_at, actor=order.actor,
            clock=clock,
        )
        if changed:
            _apply(member, changed)


def batch_check(program_id: int, member_ids: Collection[int]) -> set[int] | None:
    """For a batch of orders (``rules.hooks.register_batch_check``): without tiers or streaks
    these hooks do nothing; on a lifetime-points ladder without streaks they act only on a
    posting that crosses a threshold (``batch_posting_acts`` says which); any other ladder
    (a window, spend, streaks) counts every order, so its orders go one by one."""
    ladder = cache.ladder_for(program_id)
    if ladder.idle or (not ladder.windowed and not ladder.settings.streaks_on):
        return set()
    return None


def batch_posting_acts(program_id: int, lifetime_before: int, lifetime_after: int) -> bool:
    """Whether an earn taking a member's lifetime points from ``lifetime_before`` to
    ``lifetime_after`` makes ``after_post`` lift them (what it checks, without a query)."""
    ladder = cache.ladder_for(program_id)
    return bool(ladder.tiers) and ladder.crosses(lifetime_before, lifetime_after)


def order_refunded(result: RefundResult) -> None:
    ladder = cache.ladder_for(result.order.program_id)
    if not (ladder.tiers and ladder.spend):
        return
    standing.qualifying_remove_spend(
        ladder=ladder, member_id=result.order.member_id,
        day=ladder.today(result.order.occurred_at), amount=result.refund.amount,
    )


def member_enrolled(member: Member, context: Mapping[str, Any]) -> None:
    if cache.ladder_for(member.program_id).tiers:
        standing.tier_place_new_member(member=member)


def member_standing(member: Member) -> dict[str, Any]:
    """``tier_progress`` and the streak's cycle for the member representation (no query)."""
    ladder = cache.ladder_for(member.program_id)
    settings = ladder.settings
    progress = None
    if ladder.tiers:
        nxt = ladder.above(member.tier_id)
        needed = None
        if nxt is not None:
            needed = max(Decimal(0), ladder.threshold(nxt) - ladder.value_of(member))
        progress = {
            "next_tier": {"id": nxt.pk, "name": nxt.name} if nxt is not None else None,
            "points_needed": int(needed.to_integral_value(rounding=ROUND_CEILING))
            if needed is not None and not ladder.spend else None,
            "amount_needed": money_str(needed, ladder.currency)
            if needed is not None and ladder.spend else None,
        }
    return {
        "tier_progress": progress,
        "streak_cycle": settings.streak_cycle if settings.streaks_on else None,
    }
