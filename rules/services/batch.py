"""Many orders at once (``POST /orders/batch/``), set-based: a statement per table for the lot.

``orders_record_many`` records each order it can exactly as ``order_record`` would, one after
the other in the order given, but with the reads and writes of the whole set shared:

* one query finds and locks every member the orders name (primary-key order, as
  ``ledger.locking`` does), one reads the program's live order rules, one the members' award
  history of those rules, and one asks the other apps' hooks which members they would act on
  (``hooks.batch_exempt``: a referee's first order, a program with tiers or streaks);
* the evaluation runs in Python per order, with each member's history and figures carried from
  one order to the next, so caps, cooldowns, balances and event numbers come out as they would
  one by one;
* the ledger posts every credit in a statement per table (``ledger.services.points_credit_set``)
  and the orders, their awards and their ``order.recorded`` events follow in one each.

An order it cannot take this way (an unknown or inactive member, a new member to enrol, bad
figures, a member a hook acts on, an earn a hook acts on (a tier threshold crossed), the same
order id twice, a program with budgeted rules) is
answered ``None``: the caller records it with ``order_record``, after this set, and with it
every later order of the same member, so each member's orders still apply in the order given.
It writes nothing for those, and ``ledger/_pg.py``'s rule holds here too: the tests compare
every row this writes with what ``order_record`` one by one writes, on both databases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Q

from ledger.services import Posting, points_credit_set
from loyaltysite.bulk import insert_rows
from loyaltysite.clock import Clock, FrozenClock, system_clock
from loyaltysite.errors import LoyaltyError
from loyaltysite.ids import is_ascii_digits
from members.models import Member, Program, card_id_is_valid, normalize_card_id

from .. import engine, hooks
from ..engine import History, Kind
from ..models import Award, EarningRule, Order
from ..outbox import order_recorded_data
from .common import check_total, top_rule_id
from .orders import OrderResult, _stored_item, order_facts

ENABLED = True  # tests switch it off to compare both paths


@dataclass
class _Planned:
    index: int
    order: Order
    member: Member
    evaluation: engine.Evaluation
    posting: Posting


def members_locked(program: Program, customers: Sequence[Any]) -> dict[tuple[str, str], Member]:
    """Find and lock, in one query and in primary-key order, the members ``customers`` name;
    by ``(how, value)`` as ``member_find`` reads a customer (``("id", "42")``...)."""
    ids, cards, externals = set(), set(), set()
    for customer in customers:
        how, value = _named(customer)
        if how == "id":
            ids.add(int(value))
        elif how == "card_id":
            cards.add(value)
        elif how == "external_id":
            externals.add(value)
    if not (ids or cards or externals):
        return {}
    named = Q(pk__in=ids) | Q(card_id__in=cards) | Q(customer__external_id__in=externals)
    found: dict[tuple[str, str], Member] = {}
    for member in (Member._base_manager.filter(named, program_id=program.pk)
                   .select_for_update(of=("self",)).select_related("customer", "tier")
                   .order_by("pk")):
        member.program = program
        found[("id", str(member.pk))] = member
        found[("card_id", member.card_id)] = member
        found[("external_id", member.customer.external_id)] = member
    return found


def _named(customer: Any) -> tuple[str, str]:
    """How ``member_find`` would look the customer up: ``(how, value)``; ``("", "")`` when it
    would find no one."""
    if customer.member:
        text = str(customer.member)
        if is_ascii_digits(text) and len(text) < 16:
            return "id", str(int(text))
        card = normalize_card_id(text)
        return ("card_id", card) if card_id_is_valid(card) else ("", "")
    if customer.external_id:
        return "external_id", customer.external_id
    if customer.card_id:
        card = normalize_card_id(customer.card_id)
        return ("card_id", card) if card_id_is_valid(card) else ("", "")
    return "", ""


def orders_record_many(
    *,
    program: Program,
    orders: Sequence[Mapping[str, Any]],
    actor: str,
    clock: Clock = system_clock,
    lock_also: Sequence[Any] = (),
) -> list[OrderResult | None]:
    """Record ``orders`` (each the keyword arguments of ``order_record`` but ``program``,
    ``actor`` and ``clock``) set-based; each order's result, or ``None`` for an order the
    caller must record with ``order_record`` after this (see the module). Runs in the caller's
    transaction, which must be open: the members stay locked until it ends. ``lock_also``:
    more customers to lock with them (the caller's other orders), so every member the caller
    will write is locked at once, in primary-key order."""
    if not connection.in_atomic_block:
        raise RuntimeError("orders_record_many runs inside the caller's transaction")
    results: list[OrderResult | None] = [None] * len(orders)
    members = members_locked(program, [*(o["customer"] for o in orders), *lock_also])
    if not ENABLED or not members:
        return results
    now = clock.now()
    rules = list(
        EarningRule._base_manager.filter(
            program_id=program.pk, merchant_id=program.merchant_id, is_active=True,
            deleted_at__isnull=True, kind__in=[str(k) for k in engine.ORDER_KINDS],
        ).order_by("-priority", "id")
    )
    if any(rule.budget_points is not None for rule in rules):
        return results  # a budget is charged under its rule's lock, order by order
    ids = sorted({m.pk for m in members.values()})
    exempt = hooks.batch_exempt(program.pk, ids)
    if exempt is None:
        return results
    history = _history(rules, ids)
    lifetime = {m.pk: m.lifetime_points for m in members.values()}
    planned: list[_Planned] = []
    one_by_one: set[int] = set(exempt)  # members whose later orders must wait for the others
    seen: set[str] = set()
    for index, data in enumerate(orders):
        member = members.get(_named(data["customer"]))
        order_id = data["order_id"]
        if order_id in seen:  # the same order twice: the second replays the first
            continue
        seen.add(order_id)
        if member is None or member.pk in one_by_one:
            if member is not None:
                one_by_one.add(member.pk)
            continue
        plan = _plan(index, program, data, member, rules, history, actor, now)
        if plan is None or _hooks_act(program, plan, lifetime):
            one_by_one.add(member.pk)
            continue
        for award in plan.evaluation.rule_awards:  # the next order of the member sees it
            earlier = history.get((award.rule.pk, member.pk), engine.NO_HISTORY)
            history[(award.rule.pk, member.pk)] = History(count=earlier.count + 1, last_at=now)
        planned.append(plan)
    if planned:
        _write(program, planned, now)
    for plan in planned:
        results[plan.index] = OrderResult(order=plan.order, member=plan.posting.member_after,
                                          evaluation=plan.evaluation, enrolled=False)
    return results


def _hooks_act(program: Program, plan: _Planned, lifetime: dict[int, int]) -> bool:
    """Whether a hook would act on this order's earn (a tier threshold crossed): then it runs
    alone. Otherwise the member's lifetime points are carried on to their next order."""
    member = plan.member.pk
    gained = plan.posting.points if program.pending_days <= 0 else 0
    if gained and hooks.batch_posting_acts(program.pk, lifetime[member],
                                           lifetime[member] + gained):
        return True
    lifetime[member] += gained
    return False


def _history(rules: list[EarningRule], member_ids: list[int]) -> dict[tuple[int, int], History]:
    """``(rule, member)``: how many times, and when last, the member got the rule, for the
    rules whose availability depends on it (``selectors.live_rules`` counts the same)."""
    limited = [r.pk for r in rules
               if r.max_per_member is not None or r.kind == Kind.WELCOME or r.cooldown_hours]
    if not limited:
        return {}
    rows = (
        Award._base_manager.filter(member_id__in=member_ids, rule_id__in=limited)
        .order_by().values("rule_id", "member_id")
        .annotate(count=Count("id"), last=Max("created_at"))
    )
    return {(row["rule_id"], row["member_id"]): History(count=row["count"], last_at=row["last"])
            for row in rows}


def _plan(index: int, program: Program, data: Mapping[str, Any], member: Member,
          rules: list[EarningRule], history: dict[tuple[int, int], History], actor: str,
          now: datetime) -> _Planned | None:
    """``order_record``'s checks and evaluation of one order, against the member's figures and
    history as the orders before it in the set left them (the caller carries them on); ``None``
    when it must run alone."""
    if member.status != Member.Status.ACTIVE:
        return None  # MEMBER_INACTIVE, answered by order_record
    try:
        facts = order_facts(
            program=program, amount=data["amount"], currency=data["currency"],
            items=data.get("items", ()), points_discount=data.get("points_discount", Decimal(0)),
            occurred_at=data.get("occurred_at"), now=now,
        )
    except LoyaltyError:
        return None
    live = [r for r in rules if (r.starts_at is None or r.starts_at <= facts.at)
            and (r.ends_at is None or r.ends_at > facts.at)]
    tier = member.tier
    evaluation = engine.evaluate_order(
        earn_rate=program.earn_rate, rounding=program.rounding, rules=live, facts=facts,
        history={r.pk: history.get((r.pk, member.pk), engine.NO_HISTORY) for r in live},
        tier_id=member.tier_id, now=now,
        tier_multiplier=tier.earn_multiplier if tier is not None else Decimal(1),
        tier_name=tier.name if tier is not None else "",
    )
    try:
        check_total(evaluation.total)
    except LoyaltyError:
        return None
    order_id = data["order_id"]
    total = evaluation.total
    awards = [a.as_dict() for a in evaluation.awards]
    posting = Posting(
        member=member, points=total if total > 0 else 0, actor=actor,
        reason=f"Order {order_id}", reference=order_id,
        rule_id=top_rule_id(evaluation.awards),
        metadata={"order_id": order_id, "awards": awards}, events_after=1,
    )
    order = Order(
        merchant_id=program.merchant_id, program_id=program.pk, member_id=member.pk,
        order_id=order_id, currency=data["currency"], amount=data["amount"],
        points_discount=data.get("points_discount", Decimal(0)),
        items=[_stored_item(i) for i in data.get("items", ())], points_earned=total,
        awards=awards, actor=actor[:128], occurred_at=facts.at, created_at=now,
    )
    return _Planned(index=index, order=order, member=member, evaluation=evaluation,
                    posting=posting)


_ORDER_COLUMNS = ("member_id", "order_id", "currency", "amount", "points_discount", "items",
                  "points_earned", "awards", "entry_id", "occurred_at")


def _write(program: Program, planned: list[_Planned], now: datetime) -> None:
    """The ledger's credits, then the orders, their awards and their events."""
    from events.outbox import emit_numbered

    points_credit_set(program=program, postings=[p.posting for p in planned],
                      clock=FrozenClock(now))
    for plan in planned:
        plan.order.entry = plan.posting.entry
    rows = insert_rows(Order, {
        name: [getattr(p.order, name) for p in planned] for name in _ORDER_COLUMNS
    }, same={"merchant_id": program.merchant_id, "program_id": program.pk,
             "actor": planned[0].order.actor, "status": Order.Status.COMPLETED.value,
             "created_at": now})
    for plan, (pk,) in zip(planned, rows, strict=True):
        plan.order.pk = pk
        plan.order._state.adding = False
        plan.order._state.db = connection.alias
    awards = [(plan, award) for plan in planned for award in plan.evaluation.rule_awards]
    insert_rows(Award, {
        "member_id": [p.member.pk for p, _ in awards],
        "rule_id": [a.rule.pk for _, a in awards], "points": [a.points for _, a in awards],
        "order_id": [p.order.pk for p, _ in awards],
        "entry_id": [p.order.entry_id for p, _ in awards],
    }, same={"merchant_id": program.merchant_id, "program_id": program.pk, "event_id": None,
             "created_at": now})
    emit_numbered("order.recorded", merchant_id=program.merchant_id, program_id=program.pk,
                  clock=FrozenClock(now), events=[
                      (p.member.pk, p.posting.sequences[0],
                       {**order_recorded_data(p.order), "member": p.posting.figures})
                      for p in planned
                  ])
