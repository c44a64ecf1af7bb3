"""Scheduled work of the analytics app (``run_jobs``): the daily rollup.

Program by program (merchant by merchant), each in its own transaction: rewrite the days since
the day before the program's last run and store today's snapshot (``analytics.services``).
Running it again rewrites the same days with the same figures. ``batch_size`` is not needed:
each program's figures are a handful of grouped aggregate queries, whatever its size.
"""

from __future__ import annotations

import logging

from loyaltysite.clock import Clock
from members.models import Program

from .services import rollup_program, rollup_since

logger = logging.getLogger("loyalty.jobs")


def rollup(*, clock: Clock, batch_size: int) -> int:
    """Roll up every live program. Returns the number of programs rolled up."""
    done = 0
    for program in Program.objects.filter(deleted_at__isnull=True).order_by("merchant_id", "id"):
        rollup_program(program=program, since=rollup_since(program=program), clock=clock)
        done += 1
    return done


JOBS = [("analytics-rollup", rollup)]
