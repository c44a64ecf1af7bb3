"""Two-phase redemption of rewards: reserve, confirm, release, stock, limits, vouchers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.models import Entry, Hold
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import (
    InsufficientPoints,
    InvalidValue,
    MemberInactive,
    RedemptionExpired,
    RewardUnavailable,
)
from members.models import Member
from members.services import member_set_status
from rewards import services
from rewards.errors import (
    RedemptionAlreadyConfirmed,
    RedemptionReleased,
    VoucherAlreadyUsed,
    VoucherExpired,
)
from rewards.models import Redemption, Reward, Voucher, normalize_voucher_code

from .factories import RewardFactory

pytestmark = pytest.mark.django_db


def _fresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)


def _reserve(member, reward, **kwargs) -> Redemption:
    return services.redemption_reserve(member=member, reward=reward, actor="test", **kwargs)


def _reason(excinfo) -> str:
    return excinfo.value.extra.get("reason")


def test_reserving_a_reward_holds_its_points_until_the_program_ttl(funded, reward, clock):
    redemption = _reserve(funded, reward)

    member = _fresh(funded)
    assert (member.balance, member.reserved_points) == (900, 100)
    assert redemption.status == Redemption.Status.RESERVED
    assert redemption.hold.status == Hold.Status.ACTIVE
    assert redemption.expires_at == clock.now() + timedelta(minutes=15)
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_confirming_spends_the_points_and_issues_a_voucher(funded, reward, clock):
    redemption = _reserve(funded, reward)

    confirmed = services.redemption_confirm(redemption=redemption, actor="pos", order_id="A1")

    member = _fresh(funded)
    assert (member.balance, member.reserved_points) == (900, 0)
    assert confirmed.status == Redemption.Status.CONFIRMED
    voucher = Voucher.objects.get(redemption=redemption)
    assert voucher.status == Voucher.Status.ISSUED
    assert voucher.expires_at == clock.now() + timedelta(days=90)
    assert len(voucher.code) == 12
    assert Entry.objects.filter(member=member, kind=Entry.Kind.REDEEM).get().points == -100
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_confirming_twice_is_idempotent_and_issues_one_voucher(funded, reward, clock):
    redemption = _reserve(funded, reward)
    services.redemption_confirm(redemption=redemption, actor="pos")

    again = services.redemption_confirm(redemption=redemption, actor="pos")

    assert again.status == Redemption.Status.CONFIRMED
    assert Voucher.objects.filter(redemption=redemption).count() == 1
    assert _fresh(funded).balance == 900


def test_releasing_gives_the_points_and_the_unit_back_and_twice_changes_nothing(
    funded, program, clock
):
    reward = RewardFactory(program=program, stock=3)
    redemption = _reserve(funded, reward)
    assert Reward.objects.get(pk=reward.pk).stock == 2

    services.redemption_release(redemption=redemption, actor="pos")
    services.redemption_release(redemption=redemption, actor="pos")

    member = _fresh(funded)
    assert (member.balance, member.reserved_points) == (1000, 0)
    assert Reward.objects.get(pk=reward.pk).stock == 3
    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.RELEASED
    assert Entry.objects.filter(member=member, kind=Entry.Kind.RELEASE).count() == 1
    assert member_ledger_discrepancies(member_id=member.pk) == []


def test_a_released_redemption_can_never_be_confirmed(funded, reward, clock):
    redemption = _reserve(funded, reward)
    services.redemption_release(redemption=redemption, actor="pos")

    with pytest.raises(RedemptionReleased):
        services.redemption_confirm(redemption=redemption, actor="pos")
    assert _fresh(funded).balance == 1000


def test_a_confirmed_redemption_cannot_be_released(funded, reward, clock):
    redemption = _reserve(funded, reward)
    services.redemption_confirm(redemption=redemption, actor="pos")

    with pytest.raises(RedemptionAlreadyConfirmed):
        services.redemption_release(redemption=redemption, actor="pos")
    assert _fresh(funded).balance == 900


def test_confirming_takes_the_unit_for_good(funded, program, clock):
    reward = RewardFactory(program=program, stock=1)
    services.redemption_confirm(redemption=_reserve(funded, reward), actor="pos")

    assert Reward.objects.get(pk=reward.pk).stock == 0
    with pytest.raises(RewardUnavailable) as excinfo:
        _reserve(funded, reward)
    assert _reason(excinfo) == "out_of_stock"


def test_the_last_unit_held_by_a_reservation_is_not_sold_twice(funded, program, clock):
    reward = RewardFactory(program=program, stock=1)
    first = _reserve(funded, reward)

    with pytest.raises(RewardUnavailable):
        _reserve(funded, reward)

    services.redemption_release(redemption=first, actor="pos")
    assert _reserve(funded, reward).status == Redemption.Status.RESERVED


def test_per_member_limit_counts_confirmed_and_open_reservations(funded, program, clock):
    reward = RewardFactory(program=program, per_member_limit=2)
    services.redemption_confirm(redemption=_reserve(funded, reward), actor="pos")
    open_one = _reserve(funded, reward)

    with pytest.raises(RewardUnavailable) as excinfo:
        _reserve(funded, reward)
    assert _reason(excinfo) == "limit_reached"

    services.redemption_release(redemption=open_one, actor="pos")
    assert _reserve(funded, reward).status == Redemption.Status.RESERVED


def test_another_members_redemptions_do_not_count_against_the_limit(funded, program, clock):
    from tests.factories import MemberFactory

    from .conftest import fund

    reward = RewardFactory(program=program, per_member_limit=1)
    _reserve(funded, reward)
    other = fund(MemberFactory(program=program), 500)

    assert _reserve(other, reward).status == Redemption.Status.RESERVED


def test_more_than_the_balance_is_insufficient_points_and_writes_nothing(member, program, clock):
    from .conftest import fund

    member = fund(member, 99)
    reward = RewardFactory(program=program, points_cost=100, stock=5)

    with pytest.raises(InsufficientPoints):
        _reserve(member, reward)

    assert Reward.objects.get(pk=reward.pk).stock == 5
    assert not Redemption.objects.exists()
    assert not Hold.objects.exists()
    assert _fresh(member).balance == 99


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"is_active": False}, "inactive"),
        ({"starts_at_days": 1}, "not_started"),
        ({"ends_at_days": 0}, "ended"),
        ({"stock": 0}, "out_of_stock"),
    ],
)
def test_an_unavailable_reward_is_refused_with_a_reason(funded, program, clock, changes, reason):
    fields = {k: v for k, v in changes.items() if not k.endswith("_days")}
    if "starts_at_days" in changes:
        fields["starts_at"] = clock.now() + timedelta(days=changes["starts_at_days"])
    if "ends_at_days" in changes:
        fields["starts_at"] = clock.now() - timedelta(days=10)
        fields["ends_at"] = clock.now() + timedelta(days=changes["ends_at_days"])
    reward = RewardFactory(program=program, **fields)

    with pytest.raises(RewardUnavailable) as excinfo:
        _reserve(funded, reward)

    assert _reason(excinfo) == reason
    assert not Redemption.objects.exists()


def test_a_deleted_reward_is_unavailable(funded, reward, clock):
    services.reward_delete(reward=reward)

    with pytest.raises(RewardUnavailable):
        _reserve(funded, reward)


def test_a_reward_inside_its_window_is_available(funded, program, clock):
    reward = RewardFactory(
        program=program, starts_at=clock.now() - timedelta(days=1),
        ends_at=clock.now() + timedelta(days=1),
    )
    assert _reserve(funded, reward).status == Redemption.Status.RESERVED


def test_a_tier_restricted_reward_needs_that_tier_or_above(funded, program, tiers, clock):
    silver, gold = tiers
    reward = RewardFactory(program=program, min_tier=silver)

    with pytest.raises(RewardUnavailable) as excinfo:
        _reserve(funded, reward)
    assert _reason(excinfo) == "tier"

    Member.objects.filter(pk=funded.pk).update(tier=gold)
    assert _reserve(_fresh(funded), reward).status == Redemption.Status.RESERVED


def test_a_suspended_member_cannot_reserve_or_confirm(funded, reward, clock):
    redemption = _reserve(funded, reward)
    member_set_status(member=funded, status=Member.Status.SUSPENDED)

    with pytest.raises(MemberInactive):
        _reserve(_fresh(funded), reward)
    with pytest.raises(MemberInactive):
        services.redemption_confirm(redemption=redemption, actor="pos")


def test_a_reward_of_another_program_is_unavailable(funded, other_reward, clock):
    with pytest.raises(RewardUnavailable):
        _reserve(funded, other_reward)


def test_confirm_after_the_ttl_is_expired_and_writes_nothing(funded, reward, clock):
    redemption = _reserve(funded, reward)
    clock.advance(minutes=15)

    with pytest.raises(RedemptionExpired):
        services.redemption_confirm(redemption=redemption, actor="pos")

    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.RESERVED
    assert not Voucher.objects.exists()


def test_releasing_after_the_ttl_settles_as_expired(funded, program, clock):
    reward = RewardFactory(program=program, stock=1)
    redemption = _reserve(funded, reward)
    clock.advance(hours=1)

    released = services.redemption_release(redemption=redemption, actor="pos")

    assert released.status == Redemption.Status.EXPIRED
    assert released.hold.status == Hold.Status.EXPIRED
    assert _fresh(funded).balance == 1000
    assert Reward.objects.get(pk=reward.pk).stock == 1


def test_portal_redeem_reserves_and_confirms_at_once(funded, reward, clock):
    redemption = services.reward_redeem_now(member=funded, reward=reward, actor="customer")

    assert redemption.status == Redemption.Status.CONFIRMED
    assert redemption.voucher.status == Voucher.Status.ISSUED


def test_portal_redeem_failure_leaves_nothing_behind(member, program, clock):
    reward = RewardFactory(program=program, stock=2)
    with pytest.raises(InsufficientPoints):
        services.reward_redeem_now(member=member, reward=reward, actor="customer")
    assert Reward.objects.get(pk=reward.pk).stock == 2
    assert not Redemption.objects.exists()


# --- vouchers --------------------------------------------------------------------------------


def _voucher(member, reward) -> Voucher:
    return services.reward_redeem_now(member=member, reward=reward, actor="t").voucher


def test_a_voucher_is_used_once(funded, reward, clock):
    voucher = _voucher(funded, reward)

    used = services.voucher_use(voucher=voucher, actor="pos", reference="till-4")

    assert (used.status, used.used_reference, used.used_at) == ("used", "till-4", clock.now())
    with pytest.raises(VoucherAlreadyUsed):
        services.voucher_use(voucher=voucher, actor="pos")


def test_an_expired_voucher_cannot_be_used(funded, program, clock):
    reward = RewardFactory(program=program, voucher_valid_days=7)
    voucher = _voucher(funded, reward)
    clock.advance(days=7)

    with pytest.raises(VoucherExpired):
        services.voucher_use(voucher=voucher, actor="pos")
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.ISSUED


def test_a_voucher_without_an_end_never_expires(funded, program, clock):
    reward = RewardFactory(program=program, voucher_valid_days=None)
    voucher = _voucher(funded, reward)
    clock.advance(days=3650)

    assert services.voucher_use(voucher=voucher, actor="pos").status == Voucher.Status.USED


def test_voucher_codes_are_human_typable():
    assert normalize_voucher_code(" abcd-efgh-jkmn ") == "ABCDEFGHJKMN"
    assert normalize_voucher_code("o0il-1111-2222") == "00111111" + "2222"


# --- catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": Reward.Kind.PERCENT_DISCOUNT, "value": "0"}, "value"),
        ({"kind": Reward.Kind.PERCENT_DISCOUNT, "value": "100.5"}, "value"),
        ({"kind": Reward.Kind.FIXED_DISCOUNT, "value": "0"}, "value"),
        ({"kind": Reward.Kind.FIXED_DISCOUNT, "value": "1.005"}, "value"),
        ({"points_cost": 0}, "points_cost"),
    ],
)
def test_reward_values_must_fit_their_kind(program, fields, field):
    with pytest.raises(InvalidValue) as excinfo:
        services.reward_create(program=program, name="x", **{"points_cost": 10, **fields})
    assert excinfo.value.field == field
    assert not Reward.objects.exists()


def test_a_reward_window_must_end_after_it_starts(program, clock):
    with pytest.raises(InvalidValue) as excinfo:
        services.reward_create(
            program=program, name="x", points_cost=10, starts_at=clock.now(),
            ends_at=clock.now(),
        )
    assert excinfo.value.field == "ends_at"


def test_a_reward_cannot_require_another_programs_tier(program, other_program):
    from tiers.models import Tier

    foreign = Tier.objects.create(
        merchant=other_program.merchant, program=other_program, name="Gold", rank=2
    )
    with pytest.raises(InvalidValue) as excinfo:
        services.reward_create(program=program, name="x", points_cost=10, min_tier=foreign)
    assert excinfo.value.field == "min_tier"
