"""What the referral services share: the lock order, the events, the guards' identities."""

from __future__ import annotations

from typing import Any

from events.outbox import emit, member_figures
from ledger.locking import lock_member
from loyaltysite.clock import Clock
from members.models import Member

from ..models import Referral

ACTOR = "system:referrals"


def lock_parties(referral_id: int) -> tuple[Referral, Member, Member]:
    """Lock the referee's member row, then the referrer's, then the referral; all fresh.

    Order hooks run with the referee already locked (``rules`` locks the buyer first), so this
    is the order every referral operation on both members uses: two of them never wait on each
    other crosswise.
    """
    referee_id, referrer_id = Referral._base_manager.filter(pk=referral_id).values_list(
        "referee_id", "referrer_id"
    ).get()
    referee = lock_member(referee_id)
    referrer = lock_member(referrer_id)
    referral = (
        Referral._base_manager.select_related("program", "code", "order")
        .select_for_update(of=("self",))
        .get(pk=referral_id)
    )
    return referral, referee, referrer


def referral_data(referral: Referral) -> dict[str, Any]:
    """A referral as events carry it."""
    return {
        "id": referral.pk,
        "status": referral.status,
        "code": referral.code.code,
        "channel": referral.channel,
        "source": referral.source,
        "referrer": referral.referrer_id,
        "referee": referral.referee_id,
        "created_at": referral.created_at.isoformat(),
        "expires_at": referral.expires_at.isoformat(),
        "order_id": referral.order.order_id if referral.order_id else None,
    }


def emit_referral(
    type: str, referral: Referral, *, member_id: int, clock: Clock, **data: Any
) -> None:
    """Write ``referral.<...>`` for ``member_id`` (their figures as they are now).

    The member's event sequence is numbered under their row lock, which the caller holds.
    """
    member = Member._base_manager.get(pk=member_id)
    emit(
        type, merchant_id=referral.merchant_id, program_id=referral.program_id,
        member_id=member_id, clock=clock,
        data={"referral": referral_data(referral), "member": member_figures(member), **data},
    )
