"""What other apps hear after the ledger posts an entry, inside the same transaction.

The ledger imports none of its consumers (STYLE 1): tiers lift a member whose earn crossed a
threshold, streaks count activity, and so on, by registering a function here from their
``AppConfig.ready()``. Each runs after the entry and the member's new figures are written,
under the member's row lock and in the transaction of the posting, so what a hook writes
commits or rolls back with the entry. A hook must not call back into the ledger's posting
functions for the same member unless it means to post another entry (and must then avoid
recursion itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import Entry


@dataclass(frozen=True)
class Posted:
    """One posted entry and the member's figures right after it."""

    entry: Entry
    member_id: int
    merchant_id: int
    program_id: int
    balance: int
    pending_points: int
    reserved_points: int
    lifetime_points: int
    lifetime_delta: int  # what this entry added to lifetime points (0 for most kinds)

    @property
    def member_updates(self) -> dict[str, Any]:
        """Member attributes a hook changed (``{"tier": <Tier>, "streak": 4}``), kept on the
        entry the posting returns, so a caller holding the member instance can take them
        without reading the row again (``apply_member_updates``)."""
        updates = self.entry.__dict__.get("_member_updates")
        if updates is None:
            updates = self.entry.__dict__["_member_updates"] = {}
        return updates


def apply_member_updates(member: Any, entry: Entry | None) -> Any:
    """Give ``member`` what the hooks of ``entry``'s posting changed on the member row."""
    if entry is not None:
        for name, value in entry.__dict__.get("_member_updates", {}).items():
            setattr(member, name, value)
    return member


AfterPost = Callable[[Posted], None]
_after_post: list[AfterPost] = []


def register_after_post(hook: AfterPost) -> None:
    """Call ``hook(posted)`` after every posted entry (idempotent per function)."""
    if hook not in _after_post:
        _after_post.append(hook)


def unregister_after_post(hook: AfterPost) -> None:
    if hook in _after_post:
        _after_post.remove(hook)


def registered() -> list[AfterPost]:
    """The hooks that listen, in the order they run."""
    return list(_after_post)


def active() -> bool:
    """Whether any hook listens (a posting then needs a transaction around it)."""
    return bool(_after_post)


def after_post(posted: Posted) -> None:
    for hook in list(_after_post):
        hook(posted)
