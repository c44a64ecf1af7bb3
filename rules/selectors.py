"""Read paths for rules, orders, events and awards."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_scopes import scopes_disabled

from loyaltysite.db import RowReader, prepared_cursor
from loyaltysite.errors import RuleNotFound
from loyaltysite.ids import parse_id
from members.models import Program

from .config import describe
from .engine import History, Kind, member_limit
from .errors import OrderNotFound
from .models import Award, EarningRule, Event, Order


def rule_list(*, program: Program) -> QuerySet[EarningRule]:
    return EarningRule.objects.filter(
        program=program, merchant_id=program.merchant_id, deleted_at__isnull=True
    ).order_by("-priority", "id")


def rule_get(*, program: Program, rule_id: int | str) -> EarningRule:
    pk = parse_id(rule_id if isinstance(rule_id, int) else str(rule_id))
    try:
        if pk is None:
            raise EarningRule.DoesNotExist
        return rule_list(program=program).get(pk=pk)
    except EarningRule.DoesNotExist:
        raise RuleNotFound(field="rule") from None


def live_rules(
    *,
    program: Program,
    kinds: Iterable[str],
    at: datetime,
    member_id: int | None = None,
) -> list[EarningRule]:
    """The program's active rules of ``kinds`` whose window contains ``at``, in one query.

    Each rule carries ``history``: how many times, and when last, ``member_id`` got it (none
    without a member), counted only where the engine reads it (a cap, a welcome, a cooldown):
    the history of an uncapped rule grows with every order and is never asked. The count
    stops at the rule's limit (``engine.member_limit``: all the engine asks is whether it is
    reached), so a capped rule costs as much for a member with years of awards as for a new
    one; on PostgreSQL the count itself stops there (``LIMIT``), SQLite counts them all and
    the same bound applies after. Read it while holding the member lock for caps and
    cooldowns to hold.
    This is the hot path of every order: plain SQL (the same on PostgreSQL and SQLite) spares
    compiling the correlated subqueries on each call.
    """
    kinds = [str(kind) for kind in kinds]
    moment = connection.ops.adapt_datetimefield_value(at)
    params = [str(Kind.WELCOME), member_id or 0, member_id or 0, program.pk,
              program.merchant_id, True]
    if connection.vendor == "postgresql":
        params += [kinds, moment, moment]
    else:
        params += [*kinds, moment, moment]
    with prepared_cursor() as cursor:
        cursor.execute(_live_rules_sql(connection.vendor, len(kinds)), params)
        rows = cursor.fetchall()
    rules = []
    for row in rows:
        rule = _RULE.build(row[:_RULE.width])
        count, last = row[_RULE.width:]
        limit = member_limit(rule)
        count = count or 0
        rule.history = History(count=count if limit is None else min(count, limit),
                               last_at=_as_datetime(last))
        rules.append(rule)
    return rules


_RULE = RowReader(EarningRule)


@cache
def _live_rules_sql(vendor: str, kinds: int) -> str:
    """``live_rules``'s statement: the same on PostgreSQL and SQLite but for the list of kinds
    (an array on PostgreSQL, so one prepared statement serves any number of kinds)."""
    rule, award = (connection.ops.quote_name(m._meta.db_table) for m in (EarningRule, Award))
    kind_in = "= ANY(%s::text[])" if vendor == "postgresql" else (
        f"IN ({', '.join(['%s'] * kinds)})")
    # At least the rule's limit (a welcome's is 1), so the bounded count decides the same;
    # SQLite's LIMIT cannot name the outer row, and counts everything.
    bounded = (" LIMIT GREATEST(COALESCE(r.max_per_member, 1), 1)"
               if vendor == "postgresql" else "")
    return f"""
        SELECT {_RULE.columns("r")},
               CASE WHEN r.max_per_member IS NOT NULL OR r.kind = %s
                    THEN (SELECT COUNT(*) FROM (SELECT 1 FROM {award} a
                          WHERE a.rule_id = r.id AND a.member_id = %s{bounded}) counted)
                    ELSE 0 END AS member_awards,
               CASE WHEN r.cooldown_hours > 0
                    THEN (SELECT MAX(a.created_at) FROM {award} a
                          WHERE a.rule_id = r.id AND a.member_id = %s) END AS member_last_award
          FROM {rule} r
         WHERE r.program_id = %s AND r.merchant_id = %s AND r.is_active = %s
           AND r.deleted_at IS NULL AND r.kind {kind_in}
           AND (r.starts_at IS NULL OR r.starts_at <= %s)
           AND (r.ends_at IS NULL OR r.ends_at > %s)
         ORDER BY r.priority DESC, r.id
    """  # only names are formatted in; every value is a parameter


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """An aggregate of a datetime column comes back as text from SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    return parsed if parsed is None or timezone.is_aware(parsed) else timezone.make_aware(
        parsed, UTC
    )


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
