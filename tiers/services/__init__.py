"""Write paths of the tiers app: the ladder, members' standing on it, streaks.

``catalog`` (tiers and settings), ``standing`` (lifts, overrides, the pause penalty, rolling
windows), ``streaks`` (activity, pauses, milestones) and ``evaluation`` (the scheduled work).
"""

from .catalog import (
    settings_for,
    tier_create,
    tier_delete,
    tier_settings_update,
    tier_update,
    tier_usage,
)
from .standing import (
    qualifying_rebuild,
    tier_lift,
    tier_override_clear,
    tier_override_set,
    tier_place_new_member,
)
from .streaks import milestone_points, next_milestone, streak_pause, streak_resume

__all__ = [
    "milestone_points", "next_milestone", "qualifying_rebuild", "settings_for", "streak_pause",
    "streak_resume", "tier_create", "tier_delete", "tier_lift", "tier_override_clear",
    "tier_override_set", "tier_place_new_member", "tier_settings_update", "tier_update",
    "tier_usage",
]
