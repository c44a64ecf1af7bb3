"""Read paths of the tiers app: ladders, history, distribution, a member's standing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet

from loyaltysite.errors import TierNotFound
from loyaltysite.formatting import money_display
from loyaltysite.ids import parse_id
from members.models import Member, Program

from . import ladder as cache
from .models import PAUSE_FREEZE_DAYS, PAUSE_RESET_DAYS, Tier, TierChange, TierOverride
from .services.streaks import next_milestone, pauses_used


def tier_list(*, program: Program) -> QuerySet[Tier]:
    """The program's ladder, lowest rank first, with how many members hold each tier."""
    return (
        Tier.objects.filter(program=program, merchant_id=program.merchant_id)
        .select_related("program")
        .annotate(member_count=Count("members"))
        .order_by("rank", "id")
    )


def tier_get(*, program: Program, tier_id: Any) -> Tier:
    """One tier of ``program`` (another program's or merchant's answers ``TIER_NOT_FOUND``)."""
    pk = parse_id(tier_id)
    if pk is None:
        raise TierNotFound(field="tier")
    try:
        return tier_list(program=program).get(pk=pk)
    except Tier.DoesNotExist:
        raise TierNotFound(field="tier") from None


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    """The member's tier changes, newest first."""
    return TierChange.objects.filter(
        member_id=member.pk, merchant_id=member.merchant_id
    ).order_by("-created_at", "-id")


def tier_override_open(*, member: Member) -> TierOverride | None:
    return (
        TierOverride.objects.filter(member_id=member.pk, ended_at__isnull=True)
        .select_related("tier").first()
    )


def tier_distribution(*, programs: QuerySet[Program] | None = None) -> list[dict[str, Any]]:
    """Per live program (of the current scope): members per tier, and those without one.

    One grouped query for all programs; what the dashboard shows (analytics builds on it).
    """
    programs = programs if programs is not None else Program.objects.filter(
        deleted_at__isnull=True
    )
    rows = (
        Member.objects.filter(program__in=programs)
        .values("program_id", "tier_id").annotate(n=Count("id")).order_by()
    )
    counts: dict[int, dict[int | None, int]] = {}
    for row in rows:
        counts.setdefault(row["program_id"], {})[row["tier_id"]] = row["n"]
    tiers = Tier.objects.filter(program__in=programs).order_by("program_id", "rank")
    out = []
    for program in programs.order_by("name"):
        by_tier = counts.get(program.pk, {})
        ladder = [t for t in tiers if t.program_id == program.pk]
        if not ladder:
            continue
        total = sum(by_tier.values())
        out.append({
            "program": program,
            "total": total,
            "tiers": [
                {"tier": tier, "members": by_tier.get(tier.pk, 0),
                 "share": _share(by_tier.get(tier.pk, 0), total)}
                for tier in reversed(ladder)
            ],
            "without": by_tier.get(None, 0),
        })
    return out


def _share(part: int, total: int) -> Decimal:
    return (Decimal(part) * 100 / total).quantize(Decimal("0.1")) if total else Decimal(0)


def streak_state_counts(*, program: Program) -> dict[str, int]:
    rows = Member.objects.filter(program=program).values("streak_state").annotate(n=Count("id"))
    return {row["streak_state"]: row["n"] for row in rows.order_by()}


def member_panel(*, member: Member, now: datetime) -> dict[str, Any]:
    """What the portal shows of a member's tier and streak: badge, progress, benefits, the
    next milestone, pauses left. Reads the cached ladder and counts the member's pauses."""
    ladder = cache.ladder_for(member.program_id)
    settings = ladder.settings
    current = ladder.by_id.get(member.tier_id) if member.tier_id else None
    nxt = ladder.above(member.tier_id) if ladder.tiers else None
    progress = None
    if nxt is not None:
        start = ladder.threshold(current) if current is not None else Decimal(0)
        end = ladder.threshold(nxt)
        value = ladder.value_of(member)
        needed = max(Decimal(0), end - value)
        progress = {
            "tier": nxt,
            "needed": money_display(needed, ladder.currency) if ladder.spend else int(needed),
            "spend": ladder.spend,
            "max": max(int(end - start), 1),
            "value": min(max(int(value - start), 0), max(int(end - start), 1)),
        }
    panel: dict[str, Any] = {
        "ladder": ladder, "tier": current, "next": nxt, "progress": progress,
        "streaks": settings.streaks_on, "basis": settings.get_basis_display(),
    }
    if settings.streaks_on:
        today = ladder.today(now)
        used = pauses_used(member_id=member.pk, today=today)
        panel.update({
            "cycle": settings.get_streak_cycle_display().lower(),
            "milestone": next_milestone(ladder, current, member.streak),
            "pauses_left": max(0, settings.pauses_per_year - used),
            "pauses_per_year": settings.pauses_per_year,
            "max_pause_days": settings.max_pause_days,
            "freeze_days": PAUSE_FREEZE_DAYS,
            "reset_days": PAUSE_RESET_DAYS,
            "pause_choices": [d for d in (7, 14, 15, 30, 45, 60, 90)
                              if d <= settings.max_pause_days],
        })
    return panel
