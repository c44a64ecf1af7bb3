"""Read paths for rewards, redemptions and vouchers.

The API's and the console's run inside a merchant scope. The portal's take the signed-in user
and reach only that user's own members (``Customer.user``), across merchants, so they read
through ``_base_manager`` with that filter instead of a scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import Count, Q, QuerySet

from loyaltysite.clock import Clock, system_clock
from loyaltysite.db import RowReader, prepared_cursor
from loyaltysite.ids import parse_id
from members.models import Customer, Member, Program

from .errors import RedemptionNotFound, VoucherNotFound
from .models import VOUCHER_CODE_LENGTH, Redemption, Reward, Voucher, normalize_voucher_code
from .services import reward_unavailable_reason


def _as_id(value: int | str) -> int | None:
    return parse_id(value if isinstance(value, int) else str(value))


def reward_list(*, program: Program) -> QuerySet[Reward]:
    """The program's catalog (deleted rewards left out), cheapest first."""
    return (
        Reward.objects.filter(program=program, deleted_at__isnull=True)
        .select_related("min_tier", "program")
        .order_by("points_cost", "id")
    )


def reward_list_with_holds(*, program: Program | None = None) -> QuerySet[Reward]:
    """Rewards with ``reserved_count``: units held by open reservations (the console's list)."""
    qs = Reward.objects.filter(deleted_at__isnull=True)
    if program is not None:
        qs = qs.filter(program=program)
    return qs.annotate(
        reserved_count=Count(
            "redemptions", filter=Q(redemptions__status=Redemption.Status.RESERVED)
        )
    )


def reward_get(*, program: Program, reward_id: int | str) -> Reward:
    """A reward of ``program`` (not deleted), with its minimum tier: what a reservation reads.
    One prepared statement (``reward_list`` as it would run it, without compiling an ORM
    query per request); scoped by the program and its merchant like every tenant read."""
    from loyaltysite.errors import RewardNotFound

    pk = _as_id(reward_id)
    row = None
    if pk is not None:
        with prepared_cursor() as cursor:
            cursor.execute(_reward_sql(), [pk, program.pk, program.merchant_id])
            row = cursor.fetchone()
    if row is None:
        raise RewardNotFound(field="reward")
    reward = _REWARD.build(row[:_REWARD.width])
    reward._state.fields_cache.update(min_tier=_TIER.build(row[_REWARD.width:]),
                                      program=program)
    return reward


_REWARD = RowReader(Reward)
_TIER = RowReader(Reward._meta.get_field("min_tier").related_model)
_REDEMPTION = RowReader(Redemption)
_MEMBER = RowReader(Member)
_CUSTOMER = RowReader(Customer)
_VOUCHER = RowReader(Voucher)


@cache
def _reward_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {_REWARD.columns('rw')}, {_TIER.columns('t')}"
        f" FROM {quote(Reward._meta.db_table)} rw"
        f" LEFT JOIN {quote(_TIER.model._meta.db_table)} t ON t.id = rw.min_tier_id"
        " WHERE rw.id = %s AND rw.program_id = %s AND rw.merchant_id = %s"
        " AND rw.deleted_at IS NULL"
    )  # names only: the values are parameters


@cache
def _redemption_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {_REDEMPTION.columns('r')}, {_MEMBER.columns('m')}, {_CUSTOMER.columns('c')},"
        f" {_REWARD.columns('rw')}, {_VOUCHER.columns('v')}"
        f" FROM {quote(Redemption._meta.db_table)} r"
        f" JOIN {quote(Member._meta.db_table)} m ON m.id = r.member_id"
        f" JOIN {quote(Customer._meta.db_table)} c ON c.id = m.customer_id"
        f" LEFT JOIN {quote(Reward._meta.db_table)} rw ON rw.id = r.reward_id"
        f" LEFT JOIN {quote(Voucher._meta.db_table)} v ON v.redemption_id = r.id"
        " WHERE r.id = %s AND r.program_id = %s AND r.merchant_id = %s"
    )  # names only: the values are parameters


def redemption_list(*, program: Program) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(program=program)
        .select_related("member__customer", "program", "reward", "voucher")
        .order_by("-id")
    )


def redemption_get(*, program: Program, redemption_id: int | str) -> Redemption:
    """A redemption of ``program`` with its member (and customer), reward and voucher, as
    ``redemption_list`` would read it, in one prepared statement."""
    pk = _as_id(redemption_id)
    row = None
    if pk is not None:
        with prepared_cursor() as cursor:
            cursor.execute(_redemption_sql(), [pk, program.pk, program.merchant_id])
            row = cursor.fetchone()
    if row is None:
        raise RedemptionNotFound(field="redemption")
    at = 0
    built = []
    for reader in (_REDEMPTION, _MEMBER, _CUSTOMER, _REWARD, _VOUCHER):
        built.append(reader.build(row[at:at + reader.width]))
        at += reader.width
    redemption, member, customer, reward, voucher = built
    member._state.fields_cache["customer"] = customer
    redemption._state.fields_cache.update(member=member, reward=reward, voucher=voucher,
                                          program=program)  # the one in hand: no join for it
    return redemption


def voucher_list(*, program: Program) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(program=program)
        .select_related("member__customer", "reward", "redemption")
        .order_by("-id")
    )


def voucher_get(*, program: Program, code: str) -> Voucher:
    """A voucher of ``program`` by its code, typed in any case, with or without dashes."""
    normalized = normalize_voucher_code(code)
    try:
        if len(normalized) != VOUCHER_CODE_LENGTH:
            raise Voucher.DoesNotExist
        return voucher_list(program=program).get(code=normalized)
    except Voucher.DoesNotExist:
        raise VoucherNotFound(field="code") from None


# ---------------------------------------------------------------------------------------------
# Portal: the signed-in customer's own rows only


@dataclass(frozen=True)
class RewardOption:
    reward: Reward
    points_needed: int  # 0 when the member can afford it

    @property
    def progress_percent(self) -> int:
        cost = self.reward.points_cost
        return max(0, min(100, int(100 * (cost - self.points_needed) / cost)))


def portal_reward_options(
    *, member: Member, clock: Clock = system_clock, close_limit: int = 6
) -> tuple[list[RewardOption], list[RewardOption]]:
    """What ``member`` can redeem now, and the rewards they are closest to (points still
    needed, fewest first). Rewards a member can never get now (tier, limit, stock, window)
    are left out of both."""
    now: datetime = clock.now()
    rewards = (
        Reward._base_manager.filter(
            program_id=member.program_id, is_active=True, deleted_at__isnull=True
        )
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("min_tier", "program")
        .order_by("points_cost", "id")
    )
    affordable: list[RewardOption] = []
    close: list[RewardOption] = []
    for reward in rewards:
        reason = reward_unavailable_reason(reward=reward, member=member, now=now)
        if reason is not None:
            continue
        needed = max(0, reward.points_cost - member.balance)
        option = RewardOption(reward=reward, points_needed=needed)
        (affordable if needed == 0 else close).append(option)
    close.sort(key=lambda o: (o.points_needed, o.reward.pk))
    return affordable, close[:close_limit]


def portal_vouchers(*, user) -> QuerySet[Voucher]:
    return (
        Voucher._base_manager.filter(member__customer__user=user)
        .select_related("reward", "program", "merchant")
        .order_by("-id")
    )


def portal_voucher(*, user, code: str) -> Voucher | None:
    normalized = normalize_voucher_code(code)
    return portal_vouchers(user=user).filter(code=normalized).first()
