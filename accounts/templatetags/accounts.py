from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def whole_minutes(value: timedelta | None) -> int:
    """A duration in minutes, rounded up (a lockout of 90 s reads "2 minutes")."""
    if not value:
        return 0
    return -(-int(value.total_seconds()) // 60)
