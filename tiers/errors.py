"""Errors of the tiers and streaks app (codes stable, listed in the README and the schema)."""

from __future__ import annotations

from loyaltysite.errors import Conflict, NotFound, TierNotFound, Unprocessable

__all__ = [
    "StreakAlreadyPaused",
    "StreakNotActive",
    "StreakNotPaused",
    "StreakPauseLimit",
    "StreaksDisabled",
    "TierInUse",
    "TierNotFound",
    "TierOverrideNotFound",
]


class TierInUse(Conflict):
    code, title = "TIER_IN_USE", "The tier is still in use."


class TierOverrideNotFound(NotFound):
    code, title = "TIER_OVERRIDE_NOT_FOUND", "The member has no tier override."


class StreaksDisabled(Unprocessable):
    code, title = "STREAKS_DISABLED", "The program has no streaks."


class StreakPauseLimit(Unprocessable):
    code, title = "STREAK_PAUSE_LIMIT", "No pauses left in the last 12 months."


class StreakAlreadyPaused(Conflict):
    code, title = "STREAK_ALREADY_PAUSED", "The streak is already paused."


class StreakNotPaused(Unprocessable):
    code, title = "STREAK_NOT_PAUSED", "The streak is not paused."


class StreakNotActive(Unprocessable):
    code, title = "STREAK_NOT_ACTIVE", "Only an active streak can be paused."
