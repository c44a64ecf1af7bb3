"""Scheduled work of the earning app (``python manage.py run_jobs``)."""

from __future__ import annotations

from calendar import isleap
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Q

from loyaltysite.clock import Clock
from members.models import Member, Program

from .models import Award, EarningRule
from .services import award_birthday


def birthday_awards(*, clock: Clock, batch_size: int) -> int:
    """Give birthday points to members whose birthday is today (29 February: on the 28th in
    other years). "Today" is the day in each program's time zone, so a member of a Berlin
    program has their birthday from midnight in Berlin. Once a calendar year per member:
    running it again gives nothing more."""
    now = clock.now()
    program_ids = (
        EarningRule._base_manager.filter(
            kind=EarningRule.Kind.BIRTHDAY, is_active=True, deleted_at__isnull=True,
            program__deleted_at__isnull=True, program__is_active=True,
        ).values_list("program_id", flat=True).distinct()
    )
    zones: dict[str, list[int]] = defaultdict(list)
    for pk, zone in Program._base_manager.filter(pk__in=program_ids).values_list(
        "pk", "time_zone"
    ):
        zones[zone].append(pk)
    return sum(
        _birthdays_in_zone(programs, tz=ZoneInfo(zone), now=now, clock=clock,
                           batch_size=batch_size)
        for zone, programs in sorted(zones.items())
    )


def _birthdays_in_zone(programs: list[int], *, tz: ZoneInfo, now: datetime, clock: Clock,
                       batch_size: int) -> int:
    today = now.astimezone(tz).date()
    born_today = Q(customer__birthday__month=today.month, customer__birthday__day=today.day)
    if today.month == 2 and today.day == 28 and not isleap(today.year):
        born_today |= Q(customer__birthday__month=2, customer__birthday__day=29)
    already = Award._base_manager.filter(
        rule__kind=EarningRule.Kind.BIRTHDAY, program_id__in=programs,
        created_at__gte=datetime(today.year, 1, 1, tzinfo=tz),
    ).values("member_id")
    due = (
        Member._base_manager.filter(born_today, program_id__in=programs,
                                    status=Member.Status.ACTIVE)
        .exclude(pk__in=already)
        .select_related("program")
        .order_by("pk")
    )
    handled, last = 0, 0
    while True:
        batch = list(due.filter(pk__gt=last)[:batch_size])
        if not batch:
            return handled
        for member in batch:
            if award_birthday(member=member, clock=clock):
                handled += 1
        last = batch[-1].pk


JOBS = [("rules-birthday-awards", birthday_awards)]
