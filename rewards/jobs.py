"""Rewards' scheduled work: release expired reservations, expire vouchers.

Reservations are found by keyset pagination over ids (open ones are few: they live minutes),
``batch_size`` at a time, and each is settled by
``services.redemption_expire`` in its own transaction under the member lock, where it is
decided again whether it is still due (a confirm or a release may have won). Running twice,
or on two workers at once, gives the points back once.
"""

from __future__ import annotations

import logging

from loyaltysite.clock import Clock

from . import services
from .models import Redemption

logger = logging.getLogger(__name__)


def release_expired_reservations(*, clock: Clock, batch_size: int) -> int:
    """Give back the points (and stock) of reservations past their TTL. Returns how many."""
    now = clock.now()
    released = failed = 0
    last_id = 0
    due = Redemption._base_manager.filter(status=Redemption.Status.RESERVED, expires_at__lte=now)
    while True:
        batch = list(
            due.filter(id__gt=last_id).order_by("id").values_list("id", "member_id")[:batch_size]
        )
        if not batch:
            break
        for redemption_id, member_id in batch:
            try:
                released += services.redemption_expire(
                    redemption=Redemption(pk=redemption_id, member_id=member_id), clock=clock
                )
            except Exception:
                failed += 1
                logger.exception("release-expired-reservations: redemption %s", redemption_id)
        last_id = batch[-1][0]
    if failed:
        raise RuntimeError(f"release-expired-reservations: {failed} failed, {released} released")
    return released


def expire_vouchers(*, clock: Clock, batch_size: int) -> int:
    """Mark issued vouchers past their end expired. Returns how many."""
    return services.vouchers_expire_due(clock=clock, batch_size=batch_size)


JOBS = [
    ("release-expired-reservations", release_expired_reservations),
    ("expire-vouchers", expire_vouchers),
]
