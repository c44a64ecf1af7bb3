"""Scheduled work of the tiers app (``run_jobs``): tier evaluation and streak upkeep.

Both go program by program (merchant by merchant), in batches, and are idempotent: see
``tiers.services.evaluation`` for what each step does and why it is safe to run twice or on
two workers at once.
"""

from __future__ import annotations

from loyaltysite.clock import Clock

from .services import evaluation


def evaluate_tiers(*, clock: Clock, batch_size: int) -> int:
    """Lifts, downgrades after the grace period, window re-qualification, ended overrides.
    Returns the number of tier changes."""
    return evaluation.each_program(
        evaluation.programs_with_tiers(), evaluation.tiers_evaluate, job="evaluate-tiers",
        clock=clock, batch_size=batch_size,
    )


def streak_upkeep(*, clock: Clock, batch_size: int) -> int:
    """Pauses that ended, streaks broken by a missed cycle, milestones still unpaid. Returns
    the number of members changed."""
    return evaluation.each_program(
        evaluation.programs_with_streaks(), evaluation.streaks_upkeep, job="streak-upkeep",
        clock=clock, batch_size=batch_size,
    )


# Streaks first: a long pause that ends lowers a tier, which the evaluation then sees.
JOBS = [
    ("streak-upkeep", streak_upkeep),
    ("evaluate-tiers", evaluate_tiers),
]
