"""Row locking for the ledger, in one place.

Every writer of a member's points locks the member row first. Several members are always
locked in primary-key order, so two operations touching the same pair can never deadlock.
On SQLite ``select_for_update`` is a no-op; the database-wide write lock serialises instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from members.models import Member


def lock_member(member_id: int) -> Member:
    """Lock one member row (``SELECT ... FOR UPDATE``) and return it fresh, with its program."""
    return (
        Member._base_manager.select_related("program")
        .select_for_update(of=("self",))
        .get(pk=member_id)
    )


def lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Lock several member rows in primary-key order; returns them by id."""
    ids = sorted(set(member_ids))
    rows = (
        Member._base_manager.select_related("program")
        .select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {m.pk: m for m in rows}
