"""Orders: record (earn), preview (earn nothing, write nothing) and refund (take back).

One order is one ledger credit for its total (pending for the program's pending period), with
the breakdown in the entry's metadata, an ``Order`` row and one ``Award`` row per rule that
fired: a bounded number of queries whatever the number of rules.

Amounts: ``amount`` is what the customer paid in money and is what earns. ``points_discount``
is the part of the order paid with points, in money; it earns nothing. When ``items`` are
given, ``sum(quantity * price)`` must equal ``amount + points_discount`` exactly (to the
currency's minor unit): lines are as charged, discounts included. Each line's share of the money
paid is its value times ``amount / (amount + points_discount)``.

Refunds are in money, at most what is left to refund, and reverse the order's points in
proportion, cumulatively: after refunds totalling R of an amount A, ``floor(earned * R / A)``
points have been asked back in all, so no sequence of partial refunds ever reverses more (or,
once fully refunded, less) than the order earned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from ledger.locking import lock_member
from ledger.models import Entry
from ledger.services import points_reverse
from loyaltysite.clock import Clock, system_clock
from loyaltysite.currencies import MINOR_UNITS, quantize_money
from loyaltysite.db import insert, insert_cte, inserted
from loyaltysite.errors import CurrencyMismatch, InvalidValue, ValidationFailed
from loyaltysite.formatting import money_display, money_str
from members.models import Member, Program

from .. import engine, hooks, selectors
from ..errors import OrderNotFound, RefundExceedsOrder
from ..models import Order, Refund
from ..outbox import emit_order_recorded, emit_order_recorded_with, emit_order_refunded
from .common import (
    Customer,
    awards_cte,
    check_occurred_at,
    check_total,
    credit,
    joined_transaction,
    record_awards,
    resolve_member,
    spend_budgets,
    with_figures,
)


@dataclass
class OrderResult:
    order: Order
    member: Member
    evaluation: engine.Evaluation
    enrolled: bool
    # what the order's write statement answered for the hooks (``hooks.register_order_probe``)
    probed: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreviewResult:
    member: Member | None
    evaluation: engine.Evaluation
    pending: bool
    new_member: bool


@dataclass
class RefundResult:
    order: Order
    refund: Refund
    member: Member


def _money(value: Decimal, currency: str, field: str) -> Decimal:
    places = MINOR_UNITS.get(currency, 2)
    if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise InvalidValue(
            f"{field} has more decimal places than {currency} allows ({places}).", field=field
        )
    return value


def _check_currency(program: Program, currency: str) -> None:
    if currency != program.currency:
        raise CurrencyMismatch(
            f"This program earns in {program.currency}, not {currency}.", field="currency"
        )


def order_facts(
    *,
    program: Program,
    amount: Decimal,
    currency: str,
    items: Sequence[Mapping[str, Any]] = (),
    points_discount: Decimal = Decimal(0),
    occurred_at: datetime | None = None,
    now: datetime,
) -> engine.OrderFacts:
    """Check an order's figures against its currency and each other; the facts to evaluate."""
    _check_currency(program, currency)
    if amount <= 0:
        raise InvalidValue("amount must be greater than zero.", field="amount")
    if points_discount < 0:
        raise ValidationFailed("points_discount must not be negative.", field="points_discount")
    _money(amount, currency, "amount")
    _money(points_discount, currency, "points_discount")
    for index, item in enumerate(items):
        _money(Decimal(str(item["price"])), currency, f"items[{index}].price")
    if items:
        total = sum((int(i["quantity"]) * Decimal(str(i["price"])) for i in items), Decimal(0))
        if total != amount + points_discount:
            raise InvalidValue(
                f"The items add up to {money_display(total, currency)}, not to amount + "
                f"points_discount ({money_display(amount + points_discount, currency)}).",
                field="items",
            )
    check_occurred_at(occurred_at, now)
    return engine.OrderFacts(
        amount=amount,
        lines=engine.lines_with_paid_share(items, amount=amount),
        at=occurred_at or now,
    )


def _evaluate(program: Program, facts: engine.OrderFacts, member: Member | None,
              now: datetime) -> engine.Evaluation:
    rules = selectors.live_rules(
        program=program, kinds=engine.ORDER_KINDS, at=facts.at,
        member_id=member.pk if member is not None else None,
    )
    tier = member.tier if member is not None else None
    return engine.evaluate_order(
        earn_rate=program.earn_rate, rounding=program.rounding, rules=rules, facts=facts,
        history=selectors.history_of(rules),
        tier_id=member.tier_id if member is not None else None, now=now,
        tier_multiplier=tier.earn_multiplier if tier is not None else Decimal(1),
        tier_name=tier.name if tier is not None else "",
    )


def order_record(
    *,
    program: Program,
    order_id: str,
    amount: Decimal,
    currency: str,
    customer: Customer,
    items: Sequence[Mapping[str, Any]] = (),
    points_discount: Decimal = Decimal(0),
    occurred_at: datetime | None = None,
    actor: str,
    clock: Clock = system_clock,
) -> OrderResult:
    """Record a completed order and credit what it earns (base rate and every matching rule).

    The order id is unique per program: the API makes a repeat replay the first answer. Caps
    and cooldowns are read under the member lock, so concurrent orders cannot both pass them.
    """
    now = clock.now()
    facts = order_facts(
        program=program, amount=amount, currency=currency, items=items,
        points_discount=points_discount, occurred_at=occurred_at, now=now,
    )
    with joined_transaction():
        locked, enrolled = resolve_member(program=program, customer=customer, enrol=True,
                                          clock=clock, lock=True)
        evaluation = _evaluate(program, facts, locked, now)
        check_total(evaluation.total)  # every refusal comes before the first write
        spend_budgets(evaluation)
        entry = credit(
            member=locked, evaluation=evaluation, actor=actor, reason=f"Order {order_id}",
            reference=order_id, pending_days=None, metadata={"order_id": order_id},
            clock=clock,
        )
        order = Order(
            merchant_id=program.merchant_id, program_id=program.pk, member_id=locked.pk,
            order_id=order_id, currency=currency, amount=amount,
            points_discount=points_discount,
            items=[_stored_item(i) for i in items], points_earned=evaluation.total,
            awards=[a.as_dict() for a in evaluation.awards], entry=entry, actor=actor[:128],
            occurred_at=facts.at, created_at=now,
        )
        probed = _write_order(order, locked, evaluation, entry, now)
        result = OrderResult(order=order, member=with_figures(locked, entry),
                             evaluation=evaluation, enrolled=enrolled, probed=probed)
        hooks.order_recorded(result)
    return result


def _write_order(order: Order, member: Member, evaluation: engine.Evaluation, entry: Entry | None,
                 now: datetime) -> dict[str, Any]:
    """The order row, its awards and its ``order.recorded`` event. On PostgreSQL one
    statement (two round trips fewer per order), which also answers the hooks' probes (one
    more fewer); elsewhere three writes, the same rows, and no probe answered."""
    if connection.vendor != "postgresql":
        insert(order)
        record_awards(member=member, evaluation=evaluation, entry=entry, now=now, order=order)
        emit_order_recorded(order)
        return {}
    ctes, params = insert_cte(order, "o")
    awards, award_params = awards_cte(evaluation=evaluation, entry=entry, order_cte="o")
    if awards:
        ctes += ", " + awards
    names, probes, probe_params = hooks.order_probes(order)
    pk, *answers = emit_order_recorded_with(
        order, ctes=ctes, params={**params, **award_params, **probe_params},
        select=", (SELECT id FROM o)" + probes,
    )
    inserted(order, pk)
    return dict(zip(names, answers, strict=True))


def _stored_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sku": item.get("sku", ""), "category": item.get("category", ""),
        "quantity": int(item["quantity"]), "price": str(item["price"]), "refunded_quantity": 0,
    }


def order_preview(
    *,
    program: Program,
    amount: Decimal,
    currency: str,
    customer: Customer | None = None,
    items: Sequence[Mapping[str, Any]] = (),
    points_discount: Decimal = Decimal(0),
    occurred_at: datetime | None = None,
    clock: Clock = system_clock,
) -> PreviewResult:
    """What the order would earn now, through the same evaluation as ``order_record``.

    Writes nothing and takes no lock. Without a customer, or for an unknown ``external_id`` in
    a program that auto-enrols, it answers for a new member (no tier, no earlier awards).
    """
    now = clock.now()
    facts = order_facts(
        program=program, amount=amount, currency=currency, items=items,
        points_discount=points_discount, occurred_at=occurred_at, now=now,
    )
    member = None
    if customer is not None and customer.given:
        member, _ = resolve_member(program=program, customer=customer, enrol=False, clock=clock)
    if member is not None and member.status != Member.Status.ACTIVE:
        from loyaltysite.errors import MemberInactive

        raise MemberInactive(f"Member {member.card_id_display} is {member.status}.", field="member")
    evaluation = _evaluate(program, facts, member, now)
    return PreviewResult(member=member, evaluation=evaluation,
                         pending=program.pending_days > 0, new_member=member is None)


# ---------------------------------------------------------------------------------------------
# Refunds


def _refund_amount_for_items(
    order: Order, items: Sequence[Mapping[str, Any]]
) -> tuple[Decimal, list[dict[str, Any]]]:
    """The money share of the returned items; marks them refunded on the order's lines."""
    lines = [dict(line) for line in order.items]
    value = Decimal(0)
    for index, wanted in enumerate(items):
        sku, quantity = wanted["sku"], int(wanted["quantity"])
        for line in lines:
            if line["sku"] != sku or not quantity:
                continue
            take = min(quantity, line["quantity"] - line.get("refunded_quantity", 0))
            line["refunded_quantity"] = line.get("refunded_quantity", 0) + take
            value += take * Decimal(line["price"])
            quantity -= take
        if quantity:
            raise RefundExceedsOrder(
                f"The order has no {quantity} more of '{sku}' to refund.",
                field=f"items[{index}].quantity",
            )
    gross = order.amount + order.points_discount
    if all(line["refunded_quantity"] == line["quantity"] for line in lines):
        money = order.refundable  # the last items: exactly what is left, no rounding drift
    else:
        money = quantize_money(value * order.amount / gross, order.currency, ROUND_HALF_UP)
    return min(money, order.refundable), lines


def _redemption_refund(*, program: Program, order: Order, amount: Decimal, actor: str,
                       clock: Clock) -> int:
    """Give back, in proportion, points that paid part of the order (the rewards app)."""
    try:
        from rewards.services import redemption_refund_for_order
    except ImportError:  # the rewards app does not offer it (yet)
        return 0
    return int(redemption_refund_for_order(
        program=program, order_id=order.order_id, refund_amount=amount,
        order_amount=order.amount, actor=actor, clock=clock,
    ) or 0)


def order_refund(
    *,
    program: Program,
    order_id: str,
    amount: Decimal | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
    currency: str | None = None,
    reason: str = "",
    actor: str,
    clock: Clock = system_clock,
) -> RefundResult:
    """Refund part or all of an order (in money, or by returned items) and reverse its points.

    Pending points are reversed before spendable ones and a balance never goes below zero: what
    could not be taken back is recorded as the shortfall, on the ledger entry and the order.
    """
    if (amount is None) == (not items):
        raise ValidationFailed("Give either amount or items.", field="amount")
    now = clock.now()
    with joined_transaction():
        head = Order._base_manager.filter(
            merchant_id=program.merchant_id, program_id=program.pk, order_id=order_id
        ).values_list("pk", "member_id").first()
        if head is None:
            raise OrderNotFound(field="order_id")
        locked = lock_member(head[1])  # member first, then the order
        order = Order._base_manager.select_for_update(of=("self",)).select_related(
            "entry", "member__customer", "member__tier"
        ).get(pk=head[0])
        if currency is not None:
            _check_currency(program, currency)
        lines = None
        if amount is not None:
            _money(amount, order.currency, "amount")
            if amount <= 0:
                raise InvalidValue("amount must be greater than zero.", field="amount")
            if amount > order.refundable:
                raise RefundExceedsOrder(
                    f"Only {money_display(order.refundable, order.currency)} is left to refund.",
                    field="amount", refundable=money_str(order.refundable, order.currency),
                )
        else:
            amount, lines = _refund_amount_for_items(order, items or ())
            if amount <= 0:
                raise RefundExceedsOrder(
                    f"Only {money_display(order.refundable, order.currency)} is left to refund.",
                    field="items", refundable=money_str(order.refundable, order.currency),
                )
        refunded = order.amount_refunded + amount
        scale = 10 ** 3  # amounts have at most 3 decimal places: exact integer arithmetic
        target = (
            order.points_earned if refunded == order.amount
            else order.points_earned * int(refunded * scale) // int(order.amount * scale)
        )
        to_take = target - order.points_reversed - order.points_shortfall
        reversal = None
        if to_take > 0 and order.entry is not None:
            reversal = points_reverse(
                entry=order.entry, points=to_take, actor=actor,
                reason=reason or f"Refund of order {order.order_id}", reference=order.order_id,
                metadata={"refund_amount": str(amount)}, clock=clock,
            )
        returned = _redemption_refund(program=program, order=order, amount=amount, actor=actor,
                                      clock=clock)
        reversed_points = reversal.reversed_points if reversal else 0
        shortfall = reversal.shortfall if reversal else 0
        order.amount_refunded = refunded
        order.points_reversed += reversed_points
        order.points_shortfall += shortfall
        order.status = (
            Order.Status.REFUNDED if refunded == order.amount else Order.Status.PARTIALLY_REFUNDED
        )
        fields = ["amount_refunded", "points_reversed", "points_shortfall", "status"]
        if lines is not None:
            order.items = lines
            fields.append("items")
        order.save(update_fields=fields)
        refund = Refund._base_manager.create(
            merchant_id=program.merchant_id, order=order, amount=amount, items=list(items or []),
            points_reversed=reversed_points, points_shortfall=shortfall,
            points_returned=returned, entry=reversal.entry if reversal else None,
            reason=reason[:255], actor=actor[:128], created_at=now,
        )
        emit_order_refunded(order, refund)
        hooks.order_refunded(RefundResult(order=order, refund=refund, member=locked))
    member = Member._base_manager.select_related("customer", "tier").get(pk=locked.pk)
    return RefundResult(order=order, refund=refund, member=member)
