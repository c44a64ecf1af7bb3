"""Referral codes: one per member, the same on every request; deactivate and regenerate."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ledger.locking import lock_member
from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import MemberInactive
from members.models import Member

from ..models import ReferralCode, new_referral_code
from ..selectors import code_for_member

# A fresh code collides with an existing one about once in 10**5 draws at 10**7 codes; a few
# draws are always enough.
DRAWS = 8


def _require_active(member: Member) -> None:
    """The member's status as it is now (not as the caller's copy says)."""
    status = Member._base_manager.filter(pk=member.pk).values_list("status", flat=True).get()
    if status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {member.card_id} is {status}.", field="member")


def _insert(member: Member, clock: Clock) -> ReferralCode | None:
    """A new active code for ``member``, or ``None`` when the member got one meanwhile.

    Each attempt is its own savepoint: an insert that loses to a concurrent request (the
    one-active-code index) or draws a code already in use rolls back alone. On PostgreSQL the
    loser waits on the unique index for the winner to commit, then reads the winner's row.
    """
    for _draw in range(DRAWS):
        try:
            with transaction.atomic():
                return ReferralCode._base_manager.create(
                    merchant_id=member.merchant_id, program_id=member.program_id,
                    member_id=member.pk, code=new_referral_code(), created_at=clock.now(),
                )
        except IntegrityError:
            if ReferralCode._base_manager.filter(
                merchant_id=member.merchant_id, member_id=member.pk, is_active=True
            ).exists():
                return None
            # The drawn code is another member's: draw again.
    raise RuntimeError(f"no free referral code after {DRAWS} draws")


def referral_code_get_or_create(
    *, member: Member, clock: Clock = system_clock
) -> tuple[ReferralCode, bool]:
    """The member's code and whether it was created now.

    Asking again returns the same code, however many requests race (the losers of the insert
    return the winner's code). A deactivated code is returned as it is: only a regeneration
    issues a new one, so a code a merchant switched off stays off. Only an active member gets
    a first code.
    """
    existing = code_for_member(member=member)
    if existing is not None:
        return existing, False
    _require_active(member)
    created = _insert(member, clock)
    if created is not None:
        return created, True
    return code_for_member(member=member), False


@transaction.atomic
def referral_code_deactivate(
    *, code: ReferralCode, actor: str, clock: Clock = system_clock
) -> ReferralCode:
    """Switch a code off for good (it attributes nothing any more). Idempotent."""
    code = ReferralCode._base_manager.select_for_update().get(pk=code.pk)
    if code.is_active:
        code.is_active = False
        code.deactivated_at = clock.now()
        code.deactivated_by = actor[:128]
        code.save(update_fields=["is_active", "deactivated_at", "deactivated_by"])
    return code


@transaction.atomic
def referral_code_regenerate(
    *, member: Member, actor: str, clock: Clock = system_clock
) -> ReferralCode:
    """Deactivate the member's code (if any) and issue a new one; earlier referrals stay.

    The member's row lock serialises regenerations of one member, so two at once leave exactly
    one active code.
    """
    member = lock_member(member.pk)
    _require_active(member)
    now = clock.now()
    ReferralCode._base_manager.filter(
        merchant_id=member.merchant_id, member_id=member.pk, is_active=True
    ).update(is_active=False, deactivated_at=now, deactivated_by=actor[:128])
    created = _insert(member, clock)
    if created is None:  # a first "give me my code" (which takes no lock) won the insert
        created = code_for_member(member=member)
    return created
