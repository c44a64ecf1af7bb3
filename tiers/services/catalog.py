"""Write paths for a program's ladder (tiers) and its tier and streak settings.

Thresholds must rise with rank in the program's basis (points, or money for a spend basis), so
"the highest tier whose threshold the member reaches" is one well-defined rung. A tier still
held by members, required by a reward or pinned by an override cannot be deleted
(``TIER_IN_USE``): move the members first or let the evaluation do it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import InvalidValue, NameTaken, ValidationFailed
from members.models import Member, Program

from .. import ladder as cache
from ..errors import TierInUse
from ..models import Tier, TierOverride, TierSettings

TIER_FIELDS = {
    "name", "rank", "threshold_points", "threshold_amount", "earn_multiplier", "perks", "colour",
    "streak_multiplier", "streak_bonus_points",
}
SETTINGS_FIELDS = {
    "basis", "window_months", "grace_days", "evaluation_days", "streak_cycle",
    "streak_activity", "streak_event_types", "pauses_per_year", "max_pause_days",
    "milestone_every", "milestone_points",
}


def _check_fields(fields: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValidationFailed(f"Unknown field {unknown[0]}.", field=unknown[0])


def _full_clean(obj: Any, exclude: list[str]) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ValidationFailed(messages[0], field=field if field != "__all__" else None) from None


def settings_for(program: Program) -> TierSettings:
    """The program's settings row, or the defaults (unsaved) when it has none yet."""
    found = TierSettings._base_manager.filter(program_id=program.pk).first()
    return found or TierSettings(merchant_id=program.merchant_id, program=program)


def _threshold(tier: Tier, basis: str) -> Any:
    return tier.threshold_amount if basis == TierSettings.Basis.WINDOW_SPEND else (
        tier.threshold_points
    )


def _check_ladder(tiers: list[Tier], basis: str) -> None:
    """Thresholds rise strictly with rank; names and ranks are unique (friendly errors)."""
    ordered = sorted(tiers, key=lambda t: t.rank)
    field = "threshold_amount" if basis == TierSettings.Basis.WINDOW_SPEND else "threshold_points"
    seen_names: set[str] = set()
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        if lower.rank == higher.rank:
            raise InvalidValue(f"Rank {higher.rank} is taken by {lower.name}.", field="rank")
        if _threshold(higher, basis) <= _threshold(lower, basis):
            raise InvalidValue(
                f"{higher.name} (rank {higher.rank}) needs a higher {field} than "
                f"{lower.name} (rank {lower.rank}): {_threshold(lower, basis)}.", field=field,
            )
    for tier in ordered:
        if tier.name.casefold() in seen_names:
            raise NameTaken(f"A tier named {tier.name} exists already.", field="name")
        seen_names.add(tier.name.casefold())


def _save_tier(tier: Tier) -> Tier:
    tier.name = (tier.name or "").strip()
    if not tier.name:
        raise ValidationFailed("This field may not be blank.", field="name")
    _full_clean(tier, exclude=["merchant", "program"])
    program = tier.program
    siblings = list(Tier._base_manager.filter(program_id=program.pk).exclude(pk=tier.pk))
    _check_ladder([*siblings, tier], settings_for(program).basis)
    try:
        with transaction.atomic():
            tier.save()
    except IntegrityError:  # a concurrent write took the name or the rank first
        raise NameTaken("Another tier has this name or rank.", field="name") from None
    cache.invalidate(program.pk)
    return tier


def tier_create(*, program: Program, **fields: Any) -> Tier:
    """Add a rung to ``program``'s ladder. Members reaching it move up at their next earn or
    at the next evaluation."""
    _check_fields(fields, TIER_FIELDS)
    return _save_tier(Tier(merchant_id=program.merchant_id, program=program, **fields))


def tier_update(*, tier: Tier, **fields: Any) -> Tier:
    _check_fields(fields, TIER_FIELDS)
    for name, value in fields.items():
        setattr(tier, name, value)
    return _save_tier(tier)


def tier_usage(*, tier: Tier) -> dict[str, int]:
    """What still depends on ``tier``: members on it, rewards requiring it, open overrides."""
    from rewards.models import Reward

    return {
        "members": Member._base_manager.filter(tier_id=tier.pk).count(),
        "rewards": Reward._base_manager.filter(min_tier_id=tier.pk).count(),
        "overrides": TierOverride._base_manager.filter(
            tier_id=tier.pk, ended_at__isnull=True
        ).count(),
    }


@transaction.atomic
def tier_delete(*, tier: Tier) -> None:
    """Remove an unused rung (``TIER_IN_USE`` otherwise). History keeps its name."""
    Tier._base_manager.select_for_update().filter(pk=tier.pk).first()
    usage = tier_usage(tier=tier)
    if any(usage.values()):
        held = ", ".join(f"{n} {what}" for what, n in usage.items() if n)
        raise TierInUse(f"{tier.name} is still in use ({held}).", field="tier", **usage)
    program_id = tier.program_id
    tier.delete()
    cache.invalidate(program_id)


def tier_settings_update(
    *, program: Program, clock: Clock = system_clock, **fields: Any
) -> TierSettings:
    """Create or change the program's tier and streak settings.

    A new basis must fit the ladder (thresholds rising in it). Switching to a rolling-window
    basis rebuilds the members' window figures from the ledger or the orders right away.
    """
    _check_fields(fields, SETTINGS_FIELDS)
    types = fields.get("streak_event_types")
    if types is not None and (
        not isinstance(types, list)
        or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in types)
        or len(types) > 50
    ):
        raise ValidationFailed(
            "A list of up to 50 event type names (1 to 64 characters).",
            field="streak_event_types",
        )
    with transaction.atomic():
        settings = settings_for(program)
        old_basis = settings.basis if settings.pk else TierSettings.Basis.LIFETIME_POINTS
        old_window = settings.window_months
        for name, value in fields.items():
            setattr(settings, name, value)
        _full_clean(settings, exclude=["merchant", "program"])
        tiers = list(Tier._base_manager.filter(program_id=program.pk))
        _check_ladder(tiers, settings.basis)
        settings.updated_at = clock.now()
        settings.save()
        cache.invalidate(program.pk)
        windowed = settings.basis != TierSettings.Basis.LIFETIME_POINTS
        if windowed and (settings.basis != old_basis or settings.window_months != old_window):
            from .standing import qualifying_rebuild

            qualifying_rebuild(program=program, settings=settings, clock=clock)
    return settings
