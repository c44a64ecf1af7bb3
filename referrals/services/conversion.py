"""Conversion, rewards and clawback: what the referee's orders and refunds set off.

* The referee's first qualifying order converts the referral: recorded while the referral is
  open (or the very order the referral was attributed with), within the conversion window,
  for at least the program's minimum amount (money paid, less what was refunded already).
* Converting rewards both sides as the program says, unless the approval gate holds the
  referral for a reviewer (it is then ``converted`` until approved or rejected). Points go
  through ``ledger.services.points_credit``, pending for what is left of the order's return
  window; a catalog reward is issued as a voucher. One ``ReferralReward`` row per side, unique:
  once per referral, however many orders race (they queue on the referee's row lock, and the
  second finds the referral converted already).
* A refund of the converting order in full, inside its return window, takes the rewards back
  through ``ledger.services.points_reverse`` (pending points first, then spendable ones, never
  below zero: what the referrer already spent is recorded as the shortfall) and withdraws
  unused vouchers. A converted referral not rewarded yet is simply closed.

Nothing here fails an order or a refund for a referral reason: a reward that cannot be given
(an inactive member, a reward out of stock) is recorded as skipped, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.utils.translation import gettext_lazy

from ledger.services import points_credit, points_reverse
from loyaltysite.clock import Clock, system_clock
from loyaltysite.db import prepared_cursor
from loyaltysite.errors import RewardUnavailable
from loyaltysite.formatting import money_str
from members.models import Member, Program
from rewards.services import voucher_gift, voucher_revoke
from rules.models import Order

from ..models import Referral, ReferralReward, ReferralSettings, RewardKind
from ..selectors import OPEN, settings_for
from .common import ACTOR, emit_referral, lock_parties

if TYPE_CHECKING:
    from rules.services import OrderResult, RefundResult

REWARD_REASON = {
    ReferralReward.Side.REFERRER: gettext_lazy("Referral reward: a friend you referred"),
    ReferralReward.Side.REFEREE: gettext_lazy("Welcome reward: referred by a friend"),
}


def qualifies(*, referral: Referral, order: Order, settings: ReferralSettings,
              now: datetime) -> bool:
    """Whether ``order`` converts ``referral`` now."""
    if order.member_id != referral.referee_id or order.program_id != referral.program_id:
        return False
    if now > referral.expires_at:
        return False
    if order.created_at < referral.created_at and order.order_id != referral.source:
        return False  # an order from before the referral, other than the one attributed
    if order.status == Order.Status.REFUNDED:
        return False
    return order.amount - order.amount_refunded >= settings.min_order_amount


def _pending_days(program: Program, order: Order, now: datetime) -> int:
    """Whole days left of the order's return window (rounded up), so the reward's points
    become spendable no earlier than the order's own."""
    end = order.created_at + timedelta(days=program.pending_days)
    return max(0, math.ceil((end - now) / timedelta(days=1)))


def _grant(
    *, referral: Referral, side: str, member: Member, settings: ReferralSettings,
    order: Order, clock: Clock,
) -> ReferralReward:
    now = clock.now()
    kind = getattr(settings, f"{side}_reward_kind")
    row = ReferralReward(
        merchant_id=referral.merchant_id, program_id=referral.program_id, referral=referral,
        member_id=member.pk, side=side, created_at=now,
        kind=ReferralReward.Kind.POINTS if kind == RewardKind.POINTS
        else ReferralReward.Kind.VOUCHER,
    )
    reason = f"{REWARD_REASON[side]} (#{referral.pk})"
    if member.status != Member.Status.ACTIVE:
        row.status, row.note = ReferralReward.Status.SKIPPED, f"The member is {member.status}."
    elif kind == RewardKind.POINTS:
        row.points = getattr(settings, f"{side}_points")
        row.entry = points_credit(
            member=member, points=row.points, actor=ACTOR, reason=reason,
            reference=f"referral:{referral.pk}", clock=clock,
            pending_days=_pending_days(referral.program, order, now),
            metadata={"referral": referral.pk, "side": side, "order_id": order.order_id},
        )
    else:
        row.reward = getattr(settings, f"{side}_reward")
        try:
            row.voucher = voucher_gift(member=member, reward=row.reward, actor=ACTOR,
                                       clock=clock)
        except RewardUnavailable as error:
            row.status, row.note = ReferralReward.Status.SKIPPED, error.detail[:255]
    row.save(force_insert=True)
    return row


def _reward(*, referral: Referral, referee: Member, referrer: Member,
            settings: ReferralSettings, clock: Clock) -> list[ReferralReward]:
    """Give both sides what the program says; the referral becomes ``rewarded``."""
    rows = [
        _grant(referral=referral, side=side, member=member, settings=settings,
               order=referral.order, clock=clock)
        for side, member in (
            (ReferralReward.Side.REFEREE, referee), (ReferralReward.Side.REFERRER, referrer),
        )
        if getattr(settings, f"{side}_reward_kind") != RewardKind.NONE
    ]
    referral.status = Referral.Status.REWARDED
    referral.rewarded_at = clock.now()
    referral.save(update_fields=["status", "rewarded_at"])
    for row in rows:
        if row.status == ReferralReward.Status.GRANTED:
            emit_referral(
                "referral.rewarded", referral, member_id=row.member_id, clock=clock,
                side=row.side, kind=row.kind, points=row.points,
                voucher_code=row.voucher.code_display if row.voucher_id else None,
                pending=bool(row.entry_id and row.entry.pending_delta),
            )
    return rows


def reward_locked(*, referral: Referral, referee: Member, referrer: Member,
                  clock: Clock) -> list[ReferralReward]:
    """Reward a converted referral now (its approval). The caller holds the locks."""
    settings = settings_for(program=referral.program)
    return _reward(referral=referral, referee=referee, referrer=referrer, settings=settings,
                   clock=clock)


def convert_locked(
    *, referral: Referral, order: Order, referee: Member, referrer: Member, clock: Clock,
) -> list[ReferralReward]:
    """Convert ``referral`` with ``order`` if it qualifies; reward unless the gate holds it.

    The caller holds both members' locks and the referral's (or created the referral in this
    transaction). Returns the rewards given (none when held, or when it did not convert).
    """
    if referral.status not in OPEN:
        return []
    settings = settings_for(program=referral.program)
    now = clock.now()
    if not qualifies(referral=referral, order=order, settings=settings, now=now):
        return []
    referral.status = Referral.Status.CONVERTED
    referral.order = order
    referral.converted_at = now
    referral.save(update_fields=["status", "order", "converted_at"])
    emit_referral("referral.converted", referral, member_id=referral.referrer_id, clock=clock,
                  amount=money_str(order.amount, order.currency), currency=order.currency)
    if settings.requires_approval and referral.decision != Referral.Decision.APPROVED:
        return []
    return _reward(referral=referral, referee=referee, referrer=referrer, settings=settings,
                   clock=clock)


def referral_convert(
    *, referral_id: int, order: Order, clock: Clock = system_clock
) -> list[ReferralReward]:
    """Convert the referral with the referee's new ``order`` (the order hook's work)."""
    referral, referee, referrer = lock_parties(referral_id)
    return convert_locked(referral=referral, order=order, referee=referee, referrer=referrer,
                          clock=clock)


def referral_claw_back(
    *, referral_id: int, order: Order, clock: Clock = system_clock
) -> Referral:
    """Take back what a referral gave, its converting ``order`` being refunded in full.

    Inside the order's return window only; a converted referral not rewarded yet is closed
    at any time (it will reward nobody). Idempotent: a clawed-back referral stays as it is.
    """
    referral, referee, referrer = lock_parties(referral_id)
    now = clock.now()
    if referral.order_id != order.pk or referral.status not in (
        Referral.Status.CONVERTED, Referral.Status.REWARDED
    ):
        return referral
    if referral.status == Referral.Status.REWARDED and now > order.created_at + timedelta(
        days=referral.program.pending_days
    ):
        return referral  # the return window is closed: rewards are kept
    rows = list(
        ReferralReward._base_manager.select_related("entry", "voucher")
        .filter(referral=referral, status=ReferralReward.Status.GRANTED)
        .order_by("id")
    )
    for row in rows:
        if row.kind == ReferralReward.Kind.POINTS:
            reversal = points_reverse(
                entry=row.entry, points=row.points, actor=ACTOR,
                reason=f"Referral reward taken back: order {order.order_id} refunded",
                reference=f"referral:{referral.pk}", clock=clock,
                metadata={"referral": referral.pk, "side": row.side},
            )
            row.points_reversed, row.points_shortfall = (
                reversal.reversed_points, reversal.shortfall
            )
        elif not voucher_revoke(voucher=row.voucher, clock=clock):
            row.note = "The voucher had been used already."
        row.status = ReferralReward.Status.CLAWED_BACK
        row.clawed_back_at = now
        row.save(update_fields=[
            "status", "clawed_back_at", "points_reversed", "points_shortfall", "note",
        ])
    referral.status = Referral.Status.CLAWED_BACK
    referral.clawed_back_at = now
    referral.save(update_fields=["status", "clawed_back_at"])
    for row in rows:
        emit_referral(
            "referral.clawed_back", referral, member_id=row.member_id, clock=clock,
            side=row.side, points_reversed=row.points_reversed,
            points_shortfall=row.points_shortfall,
            voucher_code=row.voucher.code_display if row.voucher_id else None,
        )
    if not rows:
        emit_referral("referral.clawed_back", referral, member_id=referral.referrer_id,
                      clock=clock, side=None, points_reversed=0, points_shortfall=0,
                      voucher_code=None)
    return referral


# ---------------------------------------------------------------------------------------------
# Order hooks (registered in ``ReferralsConfig.ready``)


OPEN_REFERRAL_PROBE = "referrals.open_referral"


def on_order_recorded(result: OrderResult) -> None:
    """The referee's order may convert their open referral. The order's own write asked
    whether there is one (``open_referral_probe``); where it did not, one indexed query."""
    order, member = result.order, result.member
    if OPEN_REFERRAL_PROBE in result.probed:
        referral_id = result.probed[OPEN_REFERRAL_PROBE]
    else:
        referral_id = _open_referral_of(order.merchant_id, order.program_id, member.pk)
    if referral_id is None:
        return
    rows = referral_convert(referral_id=referral_id, order=order)
    if any(r.side == ReferralReward.Side.REFEREE and r.entry_id for r in rows):
        # The order's answer shows the member's figures: include the welcome reward.
        fresh = Member._base_manager.filter(pk=member.pk).values(
            "balance", "pending_points", "lifetime_points", "last_activity_at"
        ).get()
        for field, value in fresh.items():
            setattr(member, field, value)


def _open_referral_of(merchant_id: int, program_id: int, referee_id: int) -> int | None:
    """The referee's open referral, if any: every order asks, and nearly always hears no, so
    one prepared statement rather than an ORM query compiled per order."""
    sql, params = _open_referral_query(merchant_id, program_id, referee_id, prefix="")
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return cursor.fetchone()[0]


def open_referral_probe(order: Order, prefix: str) -> tuple[str, dict[str, object]]:
    """``_open_referral_of`` as a subquery of the order's write (``rules.hooks``' probes):
    every order asks, and one round trip fewer answers."""
    return _open_referral_query(order.merchant_id, order.program_id, order.member_id, prefix)


def _open_referral_query(merchant_id: int, program_id: int, referee_id: int,
                         prefix: str) -> tuple[str, dict[str, object]]:
    """The referee's open referral as a scalar subquery, its parameters named ``prefix...``."""
    table = connection.ops.quote_name(Referral._meta.db_table)
    params: dict[str, object] = {f"{prefix}merchant": merchant_id,
                                 f"{prefix}program": program_id,
                                 f"{prefix}member": referee_id}
    for index, status in enumerate(OPEN):
        params[f"{prefix}open_{index}"] = str(status)
    statuses = ", ".join(f"%({prefix}open_{index})s" for index in range(len(OPEN)))
    return (
        f"(SELECT id FROM {table} WHERE merchant_id = %({prefix}merchant)s"
        f" AND program_id = %({prefix}program)s AND referee_id = %({prefix}member)s"
        f" AND status IN ({statuses}) ORDER BY id LIMIT 1)",  # names only: values are params
        params,
    )


def members_with_open_referrals(program_id: int, member_ids: Collection[int]) -> set[int]:
    """Of ``member_ids``, the referees with an open referral: the members whose orders
    ``on_order_recorded`` may convert (a batch records them one by one), in one query."""
    return set(Referral._base_manager.filter(
        program_id=program_id, referee_id__in=list(member_ids), status__in=list(OPEN),
    ).values_list("referee_id", flat=True))


def on_order_refunded(result: RefundResult) -> None:
    """A refund in full of a converting order claws the referral's rewards back."""
    order = result.order
    if order.status != Order.Status.REFUNDED:
        return
    referral_id = (
        Referral._base_manager.filter(
            merchant_id=order.merchant_id, order_id=order.pk,
            status__in=[Referral.Status.CONVERTED, Referral.Status.REWARDED],
        )
        .values_list("pk", flat=True)
        .first()
    )
    if referral_id is not None:
        referral_claw_back(referral_id=referral_id, order=order)
