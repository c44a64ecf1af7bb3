"""Write paths for the rewards catalog, redemptions and vouchers.

A redemption runs in two phases on top of the ledger's holds: ``redemption_reserve`` checks
every rule and holds the points (and, for a reward with stock, one unit), then
``redemption_confirm`` turns the hold into a spend and issues a voucher, or
``redemption_release`` (or the expiry job) gives points and unit back. ``redemption_check``
is the same checks without a write: the API's dry run.

Locks are always taken in one order: the member row (``ledger.locking``), then the redemption,
then the reward row. Rules that concern the member (per-member limit, balance) are decided
under the member lock, so two concurrent reservations cannot both pass them; the stock is a
guarded ``UPDATE ... WHERE stock > 0``, so the last unit goes to exactly one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F

from events.outbox import emit_with
from ledger import _pg as ledger_pg
from ledger import services as ledger
from ledger.locking import lock_member, lock_members
from ledger.models import Hold, Lot
from loyaltysite.clock import Clock, system_clock
from loyaltysite.currencies import MINOR_UNITS, quantize_money
from loyaltysite.db import RowReader, insert_cte, inserted, prepared_cursor
from loyaltysite.errors import (
    CurrencyMismatch,
    InsufficientPoints,
    InvalidValue,
    MemberInactive,
    RedemptionExpired,
    RewardUnavailable,
    ValidationFailed,
)
from members.models import Member, Program

from .errors import (
    RedeemAboveMaximum,
    RedeemBelowMinimum,
    RedemptionAlreadyConfirmed,
    RedemptionReleased,
    VoucherAlreadyUsed,
    VoucherExpired,
)
from .models import Redemption, Reward, Voucher
from .outbox import emit_redemption, emit_voucher_used, redemption_payload, voucher_payload

# ---------------------------------------------------------------------------------------------
# Catalog

REWARD_FIELDS = {
    "name", "description", "image_url", "image", "points_cost", "kind", "value", "stock",
    "per_member_limit", "min_tier", "starts_at", "ends_at", "is_active", "voucher_valid_days",
}


def _reward_save(reward: Reward) -> Reward:
    try:
        reward.full_clean(exclude=["merchant", "program"])
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidValue(messages[0], field=field if field != "__all__" else None) from None
    reward.save()
    return reward


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - REWARD_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field {unknown[0]}.", field=unknown[0])


def reward_create(*, program: Program, **fields: Any) -> Reward:
    """Add a reward to ``program``'s catalog."""
    _check_fields(fields)
    return _reward_save(Reward(merchant_id=program.merchant_id, program=program, **fields))


def reward_update(*, reward: Reward, **fields: Any) -> Reward:
    _check_fields(fields)
    for name, value in fields.items():
        setattr(reward, name, value)
    return _reward_save(reward)


def reward_delete(*, reward: Reward, clock: Clock = system_clock) -> Reward:
    """Soft delete: the reward leaves the catalog and answers 404; its redemptions stay."""
    reward.deleted_at = clock.now()
    reward.is_active = False
    reward.save(update_fields=["deleted_at", "is_active", "updated_at"])
    return reward


# ---------------------------------------------------------------------------------------------
# Checks (the dry run)


@dataclass(frozen=True)
class RedemptionPlan:
    """What a reservation would hold, and for a discount what it takes off the order."""

    member: Member
    points: int
    reward: Reward | None = None
    order_amount: Decimal | None = None
    discount_amount: Decimal | None = None
    currency: str = ""
    min_points: int | None = None
    max_points: int | None = None  # a discount: the most points usable on this order now

    @property
    def kind(self) -> str:
        return Redemption.Kind.REWARD if self.reward else Redemption.Kind.DISCOUNT


def reward_unavailable_reason(
    *, reward: Reward, member: Member | None = None, now: Any
) -> str | None:
    """Why ``reward`` cannot be reserved now (by ``member``), or ``None`` if it can.

    Stock and the per-member limit are read here without locks: the reservation decides them
    again under its locks.
    """
    if not reward.is_active or reward.is_deleted:
        return "inactive"
    if reward.starts_at and now < reward.starts_at:
        return "not_started"
    if reward.ends_at and now >= reward.ends_at:
        return "ended"
    if reward.stock is not None and reward.stock <= 0:
        return "out_of_stock"
    if member is None:
        return None
    if reward.min_tier_id is not None:
        tier = member.tier
        if tier is None or tier.rank < reward.min_tier.rank:
            return "tier"
    if reward.per_member_limit is not None:
        taken = member_reward_count(member_id=member.pk, reward_id=reward.pk, now=now)
        if taken >= reward.per_member_limit:
            return "limit_reached"
    return None


UNAVAILABLE_DETAIL = {
    "inactive": "The reward is not active.",
    "not_started": "The reward is not available yet.",
    "ended": "The reward is no longer available.",
    "out_of_stock": "The reward is out of stock.",
    "tier": "The reward needs a higher tier.",
    "limit_reached": "The member has redeemed this reward as often as allowed.",
}


def member_reward_count(*, member_id: int, reward_id: int, now: Any) -> int:
    """Confirmed redemptions plus live reservations: what counts against a per-member limit."""
    held = Redemption._base_manager.filter(
        member_id=member_id, reward_id=reward_id, status=Redemption.Status.RESERVED,
        expires_at__gt=now,
    ).count()
    return held + Redemption._base_manager.filter(
        member_id=member_id, reward_id=reward_id, status=Redemption.Status.CONFIRMED
    ).count()


def max_points_for_order(*, program: Program, order_amount: Decimal) -> int:
    """The most points that may pay for an order: ``max_redeem_percent`` of its amount, at
    ``point_value`` each, never more than that amount of money."""
    if program.point_value <= 0:
        return 0
    cap = order_amount * program.max_redeem_percent / 100
    points = int((cap / program.point_value).to_integral_value(rounding=ROUND_FLOOR))
    # Decimal division rounds at 28 digits: settle the last point exactly.
    while points > 0 and points * program.point_value > cap:
        points -= 1
    while (points + 1) * program.point_value <= cap:
        points += 1
    return points


def discount_for_points(*, program: Program, points: int) -> Decimal:
    """What ``points`` take off an order, rounded DOWN to the currency's minor unit, so the
    merchant never gives more than the points are worth."""
    return quantize_money(points * program.point_value, program.currency, rounding=ROUND_DOWN)


def _check_member(member: Member) -> None:
    if member.status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {member.card_id_display} is {member.status}.", field="member")


def _check_balance(member: Member, points: int) -> None:
    if points > member.balance:
        raise InsufficientPoints(
            f"Balance is {member.balance}, {points} needed.", field="points",
            balance=member.balance, points=points,
        )


def _check_reward(member: Member, reward: Reward, now: Any) -> RedemptionPlan:
    if reward.program_id != member.program_id:
        raise RewardUnavailable("The reward belongs to another program.", field="reward")
    reason = reward_unavailable_reason(reward=reward, member=member, now=now)
    if reason:
        raise RewardUnavailable(UNAVAILABLE_DETAIL[reason], field="reward", reason=reason)
    _check_balance(member, reward.points_cost)
    return RedemptionPlan(
        member=member, points=reward.points_cost, reward=reward,
        currency=member.program.currency,
    )


def _check_discount(
    member: Member, points: int, order_amount: Decimal | None, currency: str | None
) -> RedemptionPlan:
    program = member.program
    if order_amount is None:
        raise ValidationFailed("order_amount is required with points.", field="order_amount")
    if currency and currency.upper() != program.currency:
        raise CurrencyMismatch(
            f"The program's currency is {program.currency}.", field="currency",
            currency=program.currency,
        )
    digits = MINOR_UNITS.get(program.currency, 2)
    if order_amount <= 0 or order_amount != round(order_amount, digits):
        raise InvalidValue(
            f"order_amount must be positive, with at most {digits} decimal places "
            f"in {program.currency}.",
            field="order_amount",
        )
    if program.point_value <= 0:
        raise RewardUnavailable("This program's points have no money value.", field="points")
    by_order = max_points_for_order(program=program, order_amount=order_amount)
    limits = {
        "min_points": program.min_redeem_points,
        "max_points": min(by_order, member.balance),
    }
    if points < program.min_redeem_points:
        raise RedeemBelowMinimum(
            f"At least {program.min_redeem_points} points per redemption.", field="points",
            **limits,
        )
    if points > by_order:
        raise RedeemAboveMaximum(
            f"At most {by_order} points ({program.max_redeem_percent}% of the order).",
            field="points", **limits,
        )
    discount = discount_for_points(program=program, points=points)
    if discount <= 0:
        raise RedeemBelowMinimum(
            f"{points} points are worth less than the smallest unit of {program.currency}.",
            field="points", **limits,
        )
    _check_balance(member, points)
    return RedemptionPlan(
        member=member, points=points, order_amount=order_amount, discount_amount=discount,
        currency=program.currency, **limits,
    )


def redemption_check(
    *,
    member: Member,
    reward: Reward | None = None,
    points: int | None = None,
    order_amount: Decimal | None = None,
    currency: str | None = None,
    clock: Clock = system_clock,
) -> RedemptionPlan:
    """Every rule a reservation must pass, raising what the reservation would. Writes nothing.

    For a reward: member active, reward active and in its window, stock, tier, per-member
    limit, balance. For points as a discount: member active, currency, the program's minimum
    points and maximum percent of ``order_amount``, balance.
    """
    if (reward is None) == (points is None):
        raise ValidationFailed("Send either reward or points.", field="reward")
    _check_member(member)
    now = clock.now()
    if reward is not None:
        return _check_reward(member, reward, now)
    return _check_discount(member, points, order_amount, currency)


# ---------------------------------------------------------------------------------------------
# Reserve, confirm, release


def _lock_redemption(redemption: Redemption) -> tuple[Member, Redemption]:
    """Lock the member (first, as every writer does), then the redemption and its hold, read
    afresh in one prepared statement (the ledger's ``hold_confirm`` takes both as they are).

    Every writer of a redemption holds its member's lock, so the row lock on the redemption
    itself only guards against code that forgets to.
    """
    member = lock_member(redemption.member_id)
    with prepared_cursor() as cursor:
        cursor.execute(_lock_redemption_sql(connection.vendor), [redemption.pk])
        row = cursor.fetchone()
    if row is None:
        raise Redemption.DoesNotExist(f"Redemption {redemption.pk} does not exist.")
    fresh = _REDEMPTION.build(row[:_REDEMPTION.width])
    hold_at = _REDEMPTION.width
    reward_at = hold_at + _HOLD.width
    fresh._state.fields_cache.update(hold=_HOLD.build(row[hold_at:reward_at]),
                                     reward=_REWARD.build(row[reward_at:]))
    return member, fresh


_REDEMPTION = RowReader(Redemption)
_HOLD = RowReader(Hold)
_REWARD = RowReader(Reward)


@cache
def _lock_redemption_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    sql = (f"SELECT {_REDEMPTION.columns('r')}, {_HOLD.columns('h')}, {_REWARD.columns('rw')}"
           f" FROM {quote(Redemption._meta.db_table)} r"
           f" JOIN {quote(Hold._meta.db_table)} h ON h.id = r.hold_id"
           f" LEFT JOIN {quote(Reward._meta.db_table)} rw ON rw.id = r.reward_id"
           " WHERE r.id = %s")
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF r, h"
    return sql  # names only: the id is a parameter


@transaction.atomic
def redemption_reserve(
    *,
    member: Member,
    actor: str,
    reward: Reward | None = None,
    points: int | None = None,
    order_amount: Decimal | None = None,
    currency: str | None = None,
    order_id: str = "",
    clock: Clock = system_clock,
) -> Redemption:
    """Hold the points for a reward or an order discount, until the program's TTL passes.

    The member is read afresh under its lock; ``reward`` is taken as the caller read it (its
    stock is decided by the guarded update, not by that copy).
    """
    now = clock.now()
    member = lock_member(member.pk)
    plan = redemption_check(
        member=member, reward=reward, points=points, order_amount=order_amount,
        currency=currency, clock=clock,
    )
    stock_taken = False
    if reward is not None and reward.stock is not None:
        taken = Reward._base_manager.filter(pk=reward.pk, stock__gt=0).update(
            stock=F("stock") - 1
        )
        if not taken:
            raise RewardUnavailable(
                UNAVAILABLE_DETAIL["out_of_stock"], field="reward", reason="out_of_stock"
            )
        stock_taken = True
    label = f"Reward: {reward.name}" if reward else "Points as a discount"
    hold = ledger.points_reserve(
        member=member, points=plan.points, actor=actor, reference=order_id, reason=label,
        clock=clock, locked=True,
    )
    redemption = Redemption(
        merchant_id=member.merchant_id,
        program_id=member.program_id,
        member=member,
        kind=plan.kind,
        reward=reward,
        hold=hold,
        points=plan.points,
        order_amount=plan.order_amount,
        discount_amount=plan.discount_amount,
        currency=plan.currency,
        order_id=order_id,
        stock_taken=stock_taken,
        actor=actor[:128],
        expires_at=hold.expires_at,
        created_at=now,
    )
    if not ledger_pg.available():
        redemption.save(force_insert=True)
        emit_redemption("reward.reserved", redemption)
        return redemption
    # The redemption and its event in one statement; the payload's id is the row's.
    ctes, params = insert_cte(redemption, "rd")
    _, (pk,) = emit_with(
        "reward.reserved", merchant_id=redemption.merchant_id,
        program_id=redemption.program_id, member_id=redemption.member_id, at=now,
        data={"redemption": redemption_payload(redemption)}, ctes=ctes, params=params,
        select=", (SELECT id FROM rd)",
        data_sql="jsonb_set(%(data)s::jsonb, '{redemption,id}', to_jsonb((SELECT id FROM rd)))",
    )
    inserted(redemption, pk)
    return redemption


def _settle_order_id(redemption: Redemption, order_id: str) -> None:
    if order_id and redemption.order_id and order_id != redemption.order_id:
        raise InvalidValue(
            f"The redemption is for order {redemption.order_id}.", field="order_id"
        )


@transaction.atomic
def redemption_confirm(
    *, redemption: Redemption, actor: str, order_id: str = "", clock: Clock = system_clock
) -> Redemption:
    """Turn the reservation into a spend; for a reward, issue its voucher.

    Confirming a confirmed redemption answers it again (idempotent). A released one is
    ``REDEMPTION_RELEASED``; one past its TTL is ``REDEMPTION_EXPIRED`` and stays for the job
    (or a release) to give the points back.
    """
    now = clock.now()
    member, redemption = _lock_redemption(redemption)
    _settle_order_id(redemption, order_id)
    if redemption.status == Redemption.Status.CONFIRMED:
        return redemption
    if redemption.status == Redemption.Status.RELEASED:
        raise RedemptionReleased()
    if redemption.status == Redemption.Status.EXPIRED or redemption.expires_at <= now:
        raise RedemptionExpired(expired_at=redemption.expires_at.isoformat())
    _check_member(member)
    order_id = order_id or redemption.order_id
    if redemption.kind == Redemption.Kind.DISCOUNT and not order_id:
        raise InvalidValue(
            "order_id is required to confirm points paid on an order.", field="order_id"
        )
    redemption.hold = ledger.hold_confirm(
        hold=redemption.hold, actor=actor, reference=order_id,
        reason=f"Reward: {redemption.reward.name}" if redemption.reward else "Points discount",
        clock=clock, member=member,
    )
    redemption.status = Redemption.Status.CONFIRMED
    redemption.order_id = order_id
    redemption.confirmed_at = now
    if ledger_pg.available():  # the ledger's switch: tests compare both paths
        _confirmed_postgresql(redemption, now)
        return redemption
    redemption.save(update_fields=["status", "order_id", "confirmed_at"])
    voucher = _voucher_issue(redemption, now) if redemption.reward is not None else None
    emit_redemption("reward.redeemed", redemption,
                    voucher=voucher_payload(voucher) if voucher else None)
    return redemption


_CONFIRMED_SQL = (
    "ru AS (UPDATE {table} SET status = %(ru_status)s, order_id = %(ru_order)s,"
    " confirmed_at = %(ru_at)s WHERE id = %(ru_id)s RETURNING id)"
)


def _confirmed_postgresql(redemption: Redemption, now: Any) -> None:
    """The confirmed redemption's row, its voucher and its ``reward.redeemed`` event in one
    statement (``events.outbox.emit_with``): what the three writes elsewhere write. The
    payloads name the redemption (known) and the voucher's code (made here), no new key."""
    ctes = _CONFIRMED_SQL.format(table=connection.ops.quote_name(Redemption._meta.db_table))
    params: dict[str, Any] = {"ru_status": redemption.status, "ru_order": redemption.order_id,
                              "ru_at": now, "ru_id": redemption.pk}
    voucher = None
    if redemption.reward is not None:
        voucher = _voucher(redemption, now)
        sql, values = insert_cte(voucher, "vo")
        ctes += ", " + sql
        params.update(values)
    _, selected = emit_with(
        "reward.redeemed", merchant_id=redemption.merchant_id,
        program_id=redemption.program_id, member_id=redemption.member_id, at=now,
        data={"redemption": redemption_payload(redemption),
              "voucher": voucher_payload(voucher) if voucher else None},
        ctes=ctes, params=params,
        select=", (SELECT count(*) FROM ru)" + (", (SELECT id FROM vo)" if voucher else ""),
    )
    if selected[0] != 1:
        raise Redemption.DoesNotExist(f"Redemption {redemption.pk} was not updated.")
    if voucher is not None:
        inserted(voucher, selected[1])
        redemption._state.fields_cache["voucher"] = voucher


def _voucher(redemption: Redemption, now: Any) -> Voucher:
    days = redemption.reward.voucher_valid_days
    return Voucher(
        merchant_id=redemption.merchant_id,
        program_id=redemption.program_id,
        member_id=redemption.member_id,
        redemption=redemption,
        reward_id=redemption.reward_id,
        issued_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )


def _voucher_issue(redemption: Redemption, now: Any) -> Voucher:
    voucher = _voucher(redemption, now)
    voucher.save(force_insert=True)
    return voucher


def _settle_released(redemption: Redemption, *, actor: str, expired: bool, now: Any,
                     clock: Clock) -> Redemption:
    """Give the points and the unit of stock back. The caller holds the locks."""
    redemption.hold = ledger.hold_release(
        hold=redemption.hold, actor=actor, expired=expired, clock=clock
    )
    if redemption.stock_taken:
        Reward._base_manager.filter(pk=redemption.reward_id, stock__isnull=False).update(
            stock=F("stock") + 1
        )
    redemption.status = Redemption.Status.EXPIRED if expired else Redemption.Status.RELEASED
    redemption.released_at = now
    redemption.save(update_fields=["status", "released_at"])
    emit_redemption("reward.released", redemption)
    return redemption


@transaction.atomic
def redemption_release(
    *, redemption: Redemption, actor: str, clock: Clock = system_clock
) -> Redemption:
    """Cancel a reservation: points and unit go back. Idempotent; a confirmed one raises.

    A reservation already past its TTL is settled as ``expired``, as the job would.
    """
    now = clock.now()
    _, redemption = _lock_redemption(redemption)
    if redemption.status in (Redemption.Status.RELEASED, Redemption.Status.EXPIRED):
        return redemption
    if redemption.status == Redemption.Status.CONFIRMED:
        raise RedemptionAlreadyConfirmed()
    return _settle_released(
        redemption, actor=actor, expired=redemption.expires_at <= now, now=now, clock=clock
    )


@transaction.atomic
def redemption_expire(
    *, redemption: Redemption, actor: str = "system:rewards-expire", clock: Clock = system_clock
) -> bool:
    """Expire one reservation past its TTL. ``False`` when there was nothing to do."""
    now = clock.now()
    _, redemption = _lock_redemption(redemption)
    if redemption.status != Redemption.Status.RESERVED or redemption.expires_at > now:
        return False
    _settle_released(redemption, actor=actor, expired=True, now=now, clock=clock)
    return True


@transaction.atomic
def reward_redeem_now(
    *, member: Member, reward: Reward, actor: str, clock: Clock = system_clock
) -> Redemption:
    """Reserve and confirm at once (the portal's redeem button): a voucher, or nothing."""
    redemption = redemption_reserve(member=member, reward=reward, actor=actor, clock=clock)
    return redemption_confirm(redemption=redemption, actor=actor, clock=clock)


# ---------------------------------------------------------------------------------------------
# Refunds


def _returned_points_expiry(hold: Hold) -> Any:
    """When points given back should expire: as late as the lots they were spent from, so a
    refund never makes points live longer than they would have (``None``: never)."""
    lot_ids = [lot_id for lot_id, _ in hold.allocations]
    expiries = list(Lot._base_manager.filter(pk__in=lot_ids).values_list("expires_at", flat=True))
    if not expiries or any(e is None for e in expiries):
        return None
    return max(expiries)


def redemption_refund_for_order(
    *,
    program: Program,
    order_id: str,
    refund_amount: Decimal,
    order_amount: Decimal,
    actor: str,
    clock: Clock = system_clock,
) -> int:
    """Give back the points that paid part of a refunded order, in proportion.

    For every confirmed points-as-discount redemption of ``order_id``: the refunded share of
    the order adds up over partial refunds (never past the whole order); the points given back
    are ``floor(points * refunded / order_amount)`` minus what earlier refunds gave, so they
    never exceed what was spent, and a full refund gives back exactly all of it. The points
    come back spendable at once, through ``points_credit`` without adding to lifetime points.
    Not idempotent by itself: the caller (the order refund) is. Returns the points given back.
    """
    if refund_amount <= 0 or order_amount <= 0:
        raise ValidationFailed("Refund and order amounts must be positive.", field="amount")
    candidates = Redemption._base_manager.filter(
        program_id=program.pk, order_id=order_id, kind=Redemption.Kind.DISCOUNT,
        status=Redemption.Status.CONFIRMED,
    )
    if not candidates.exists():
        return 0
    returned = 0
    with transaction.atomic():
        lock_members(candidates.values_list("member_id", flat=True))
        for redemption in candidates.select_related("hold").select_for_update(of=("self",)):
            refunded = min(redemption.refunded_amount + refund_amount, order_amount)
            target = int(
                (redemption.points * refunded / order_amount).to_integral_value(
                    rounding=ROUND_FLOOR
                )
            )
            target = min(target, redemption.points)
            give = target - redemption.refunded_points
            if give > 0:
                ledger.points_credit(
                    member=Member(pk=redemption.member_id), points=give, actor=actor,
                    reason=f"Points paid on refunded order {order_id}", reference=order_id,
                    expires_at=_returned_points_expiry(redemption.hold),
                    metadata={"redemption": redemption.pk}, require_active=False,
                    lifetime=False, clock=clock,
                )
                returned += give
            redemption.refunded_amount = refunded
            redemption.refunded_points = max(target, redemption.refunded_points)
            redemption.save(update_fields=["refunded_amount", "refunded_points"])
    return returned


# ---------------------------------------------------------------------------------------------
# Vouchers


@transaction.atomic
def voucher_use(
    *, voucher: Voucher, actor: str, reference: str = "", clock: Clock = system_clock
) -> Voucher:
    """Mark a voucher used (at the till). A used one is ``VOUCHER_ALREADY_USED``; an expired
    one ``VOUCHER_EXPIRED`` (410, like an expired reservation)."""
    now = clock.now()
    lock_member(voucher.member_id)  # member first, as every writer: its event numbers it
    voucher = Voucher._base_manager.select_for_update().get(pk=voucher.pk)
    if voucher.status == Voucher.Status.USED:
        raise VoucherAlreadyUsed(
            f"The voucher was already used at {voucher.used_at.isoformat()}.", field="code",
            used_at=voucher.used_at.isoformat(),
        )
    if voucher.status == Voucher.Status.EXPIRED or (
        voucher.expires_at is not None and voucher.expires_at <= now
    ):
        raise VoucherExpired(field="code")
    voucher.status = Voucher.Status.USED
    voucher.used_at = now
    voucher.used_reference = reference[:128]
    voucher.used_by = actor[:128]
    voucher.save(update_fields=["status", "used_at", "used_reference", "used_by"])
    emit_voucher_used(voucher)
    return voucher


@transaction.atomic
def voucher_gift(
    *, member: Member, reward: Reward, actor: str, clock: Clock = system_clock
) -> Voucher:
    """Give ``member`` a voucher for ``reward`` without spending points (a referral reward).

    The reward must be live and in stock (a unit is taken, as a reservation takes one); the
    points cost, tier and per-member limit do not apply to a gift. ``REWARD_UNAVAILABLE``
    otherwise, before anything is written. ``actor`` is for the caller's own records.
    """
    now = clock.now()
    if reward.program_id != member.program_id:
        raise RewardUnavailable("The reward belongs to another program.", field="reward")
    reason = reward_unavailable_reason(reward=reward, now=now)
    if reason:
        raise RewardUnavailable(UNAVAILABLE_DETAIL[reason], field="reward", reason=reason)
    if reward.stock is not None and not Reward._base_manager.filter(
        pk=reward.pk, stock__gt=0
    ).update(stock=F("stock") - 1):
        raise RewardUnavailable(
            UNAVAILABLE_DETAIL["out_of_stock"], field="reward", reason="out_of_stock"
        )
    days = reward.voucher_valid_days
    return Voucher._base_manager.create(
        merchant_id=member.merchant_id, program_id=member.program_id, member_id=member.pk,
        redemption=None, reward_id=reward.pk, issued_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )


@transaction.atomic
def voucher_revoke(*, voucher: Voucher, clock: Clock = system_clock) -> bool:
    """Withdraw an unused voucher (it expires now). ``False`` when it was used or had expired
    already: a used voucher cannot be taken back."""
    now = clock.now()
    voucher = Voucher._base_manager.select_for_update().get(pk=voucher.pk)
    if voucher.status != Voucher.Status.ISSUED:
        return False
    voucher.status = Voucher.Status.EXPIRED
    voucher.expires_at = now
    voucher.save(update_fields=["status", "expires_at"])
    return True


def vouchers_expire_due(*, clock: Clock = system_clock, batch_size: int = 500) -> int:
    """Mark issued vouchers past ``expires_at`` expired, ``batch_size`` rows per statement."""
    now = clock.now()
    done = 0
    while True:
        ids = list(
            Voucher._base_manager.filter(status=Voucher.Status.ISSUED, expires_at__lte=now)
            .order_by("expires_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return done
        # The status guard keeps a voucher used in the meantime used.
        done += Voucher._base_manager.filter(pk__in=ids, status=Voucher.Status.ISSUED).update(
            status=Voucher.Status.EXPIRED
        )
