"""Read paths for rules, orders, events and awards."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django_scopes import scopes_disabled

from loyaltysite.errors import RuleNotFound
from members.models import Program

from .config import describe
from .engine import History
from .errors import OrderNotFound
from .models import Award, EarningRule, Event, Order


def rule_list(*, program: Program) -> QuerySet[EarningRule]:
    return EarningRule.objects.filter(
        program=program, merchant_id=program.merchant_id, deleted_at__isnull=True
    ).order_by("-priority", "id")


def rule_get(*, program: Program, rule_id: int | str) -> EarningRule:
    try:
        return rule_list(program=program).get(pk=int(rule_id))
    except (EarningRule.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RuleNotFound(field="rule") from None


def live_rules(
    *,
    program: Program,
    kinds: Iterable[str],
    at: datetime,
    member_id: int | None = None,
) -> list[EarningRule]:
    """The program's active rules of ``kinds`` whose window contains ``at``, in one query.

    With ``member_id``, each rule carries ``history`` (how many times, and when last, the
    member got it). Read it while holding the member lock for caps and cooldowns to hold.
    """
    qs = EarningRule._base_manager.filter(
        program_id=program.pk, merchant_id=program.merchant_id, kind__in=list(kinds),
        is_active=True, deleted_at__isnull=True,
    ).filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=at),
        Q(ends_at__isnull=True) | Q(ends_at__gt=at),
    )
    if member_id is not None:
        mine = Award._base_manager.filter(rule_id=OuterRef("pk"), member_id=member_id).order_by()
        qs = qs.annotate(
            member_awards=Coalesce(
                Subquery(
                    mine.values("rule_id").annotate(n=Count("id")).values("n")[:1],
                    output_field=IntegerField(),
                ),
                0,
            ),
            member_last_award=Subquery(mine.order_by("-created_at").values("created_at")[:1]),
        )
    rules = list(qs.order_by("-priority", "id"))
    for rule in rules:
        rule.history = History(
            count=getattr(rule, "member_awards", 0) or 0,
            last_at=getattr(rule, "member_last_award", None),
        )
    return rules


def history_of(rules: Iterable[EarningRule]) -> dict[int, History]:
    return {rule.pk: getattr(rule, "history", History()) for rule in rules}


def rules_with_counts(qs: QuerySet[EarningRule]) -> QuerySet[EarningRule]:
    """Each rule with ``award_count`` and ``points_awarded`` (for the console)."""
    awards = Award._base_manager.filter(rule_id=OuterRef("pk")).order_by().values("rule_id")
    return qs.annotate(
        award_count=Coalesce(
            Subquery(awards.annotate(n=Count("id")).values("n")[:1], output_field=IntegerField()),
            0,
        ),
        points_awarded=Coalesce(
            Subquery(awards.annotate(s=Sum("points")).values("s")[:1],
                     output_field=IntegerField()),
            0,
        ),
    )


def order_list(*, program: Program) -> QuerySet[Order]:
    return Order.objects.filter(program=program, merchant_id=program.merchant_id).select_related(
        "member__customer", "member__tier"
    )


def order_get(*, program: Program, order_id: str) -> Order:
    try:
        return order_list(program=program).get(order_id=order_id)
    except Order.DoesNotExist:
        raise OrderNotFound(field="order_id") from None


def event_list(*, program: Program) -> QuerySet[Event]:
    return Event.objects.filter(program=program, merchant_id=program.merchant_id)


def how_to_earn_for_user(*, user, at: datetime) -> list[dict]:
    """For each program the signed-in customer is in: the rules active now, in plain words."""
    from members.portal_selectors import member_list_for_user

    with scopes_disabled():
        members = [m for m in member_list_for_user(user=user) if m.program.is_active]
        rules_by_program = {
            member.program_id: live_rules(program=member.program,
                                          kinds=EarningRule.Kind.values, at=at)
            for member in members
        }
        tiers = tier_names(rules_by_program)
    out = []
    for member in members:
        program = member.program
        ways = [
            describe(rule, currency=program.currency, point_names=program.point_name_plural,
                     tier_name=tiers.get((rule.config or {}).get("tier")))
            for rule in rules_by_program[program.pk]
        ]
        out.append({"member": member, "program": program, "ways": ways})
    return out


def tier_names(program_ids: Iterable[int]) -> dict[int, str]:
    from tiers.models import Tier

    with scopes_disabled():
        return dict(
            Tier._base_manager.filter(program_id__in=list(program_ids)).values_list("id", "name")
        )
