"""Read paths for the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from members.models import Member, Program

from .models import Entry, Hold, Lot


def entry_list_for_member(*, member: Member) -> QuerySet[Entry]:
    """A member's entries, newest first (served by the ``(member, -created_at, -id)`` index)."""
    return Entry.objects.filter(member_id=member.pk, merchant_id=member.merchant_id).order_by(
        "-created_at", "-id"
    )


def lot_list_open(*, member: Member) -> QuerySet[Lot]:
    return Lot.objects.filter(member_id=member.pk, remaining__gt=0).order_by("expires_at", "id")


def hold_list_active(*, member: Member) -> QuerySet[Hold]:
    return Hold.objects.filter(member_id=member.pk, status=Hold.Status.ACTIVE)


@dataclass(frozen=True)
class Expiry:
    """Points of a member that expire on one day (in the program's time zone)."""

    day: date
    points: int
    first_at: datetime  # the earliest of that day's expiry times


def points_expiring(*, member: Member, now: datetime, within: timedelta | None = None
                    ) -> list[Expiry]:
    """What the member's points will expire after ``now`` and within ``within`` (default: the
    program's expiry warning days), soonest first, one ``Expiry`` per day.

    Lots expire at their ``expires_at``; in a program that expires on inactivity, everything
    left expires together, the program's months after the member's last activity.
    """
    from .services import add_months

    program = member.program
    until = now + (within if within is not None else timedelta(days=program.expiry_warning_days))
    lots = Lot._base_manager.filter(member_id=member.pk, remaining__gt=0)
    if program.expiry_policy == Program.ExpiryPolicy.INACTIVITY:
        at = add_months(member.last_activity_at or member.enrolled_at, program.expiry_months)
        total = lots.aggregate(s=Coalesce(Sum("remaining"), 0))["s"]
        if not total or not now < at <= until:
            return []
        return [Expiry(day=at.astimezone(program.tz).date(), points=total, first_at=at)]
    days: dict[date, Expiry] = {}
    rows = lots.filter(expires_at__gt=now, expires_at__lte=until).order_by("expires_at", "id")
    for expires_at, remaining in rows.values_list("expires_at", "remaining"):
        day = expires_at.astimezone(program.tz).date()
        earlier = days.get(day)
        days[day] = Expiry(day=day, points=remaining + (earlier.points if earlier else 0),
                           first_at=earlier.first_at if earlier else expires_at)
    return list(days.values())


def member_ledger_totals(*, member_id: int) -> dict[str, int]:
    """What the entries say the member's figures are."""
    return Entry._base_manager.filter(member_id=member_id).aggregate(
        balance=Coalesce(Sum("balance_delta"), 0),
        pending=Coalesce(Sum("pending_delta"), 0),
        reserved=Coalesce(Sum("reserved_delta"), 0),
        points=Coalesce(Sum("points"), 0),
    )


def member_ledger_discrepancies(*, member_id: int) -> list[str]:
    """Every way the member's cached figures, lots and holds disagree with the entries.

    Empty when the ledger is consistent. Tests call it after every step; an operator can too.
    """
    member = Member._base_manager.get(pk=member_id)
    totals = member_ledger_totals(member_id=member_id)
    problems = []
    if totals["balance"] != member.balance:
        problems.append(f"balance {member.balance} != entries {totals['balance']}")
    if totals["pending"] != member.pending_points:
        problems.append(f"pending {member.pending_points} != entries {totals['pending']}")
    if totals["reserved"] != member.reserved_points:
        problems.append(f"reserved {member.reserved_points} != entries {totals['reserved']}")
    lots = Lot._base_manager.filter(member_id=member_id)
    spendable = lots.filter(pending=False).aggregate(s=Coalesce(Sum("remaining"), 0))["s"]
    pending = lots.filter(pending=True).aggregate(s=Coalesce(Sum("remaining"), 0))["s"]
    if spendable != member.balance:
        problems.append(f"balance {member.balance} != spendable lots {spendable}")
    if pending != member.pending_points:
        problems.append(f"pending {member.pending_points} != pending lots {pending}")
    held = Hold._base_manager.filter(member_id=member_id, status=Hold.Status.ACTIVE).aggregate(
        s=Coalesce(Sum("points"), 0)
    )["s"]
    if held != member.reserved_points:
        problems.append(f"reserved {member.reserved_points} != active holds {held}")
    last = Entry._base_manager.filter(member_id=member_id).order_by("-id").first()
    if last is not None and last.balance_after != member.balance:
        problems.append(f"last balance_after {last.balance_after} != balance {member.balance}")
    if min(member.balance, member.pending_points, member.reserved_points) < 0:
        problems.append("a figure is negative")
    return problems
