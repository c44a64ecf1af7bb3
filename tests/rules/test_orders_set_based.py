"""The set-based path of a batch (``services.orders_record_many``) writes, row for row, what
``order_record`` one order at a time writes, on both databases (``ledger/_pg.py``'s rule)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events.models import Delivery, OutboxEvent, WebhookEndpoint
from ledger.models import Entry, Lot
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import LoyaltyError
from members.models import Member, Program
from rules import services
from rules.models import Award, EarningRule, Order
from rules.services import Customer as Who
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

LINES = [{"sku": "LATTE", "category": "coffee", "quantity": 2, "price": "4.25"},
         {"sku": "BEANS", "category": "beans", "quantity": 1, "price": "22.00"}]


def _rules(program: Program, clock) -> None:
    now = clock.now()
    make = services.rule_create
    make(program=program, name="Double over 20", kind="order",
         config={"multiplier": "2", "min_amount": "20"}, clock=clock)
    make(program=program, name="Coffee x3", kind="category",
         config={"categories": ["coffee"], "multiplier": "3"}, clock=clock)
    make(program=program, name="Beans twice", kind="sku",
         config={"skus": ["BEANS"], "points_per_item": 10}, max_per_member=2, clock=clock)
    make(program=program, name="Hourly", kind="order", config={"multiplier": "1.5"},
         cooldown_hours=1, stackable=True, clock=clock)
    make(program=program, name="Last week", kind="order", config={"multiplier": "4"},
         starts_at=now - timedelta(days=7), ends_at=now - timedelta(days=1), clock=clock)


# (member, amount, items, extra): member 3 is suspended; "EUR" is the program's currency.
PLAN = [
    (0, "30.50", LINES, {}),
    (1, "12.00", [], {}),
    (0, "30.50", LINES, {}),
    (2, "30.50", LINES, {"occurred_at": -2}),  # days before now: "Last week" applies
    (3, "10.00", [], {}),                        # suspended: refused
    (1, "0.40", [], {}),                         # earns nothing: an order and no entry
    (0, "30.50", LINES, {}),                     # the BEANS cap is reached
    (2, "5.00", [], {"currency": "USD"}),        # refused: later orders of 2 run alone
    (2, "22.00", [], {}),
    (0, "7.00", [], {"points_discount": "3.00"}),
    (1, "12.00", [], {}),
]


def _orders(program: Program, members: list[Member], clock, tag: str) -> list[dict]:
    orders = []
    for n, (who, amount, items, extra) in enumerate(PLAN):
        data = {"order_id": f"{tag}-{n}", "amount": Decimal(amount), "currency": "EUR",
                "customer": Who(member=str(members[who].pk)), "items": items}
        for name, value in extra.items():
            if name == "occurred_at":
                data[name] = clock.now() + timedelta(days=value)
            elif name == "points_discount":
                data[name] = Decimal(value)
                data["amount"] = Decimal(amount)
            else:
                data[name] = value
        orders.append(data)
    return orders


def _record(program: Program, orders: list[dict], clock, *, set_based: bool) -> list:
    answers = []
    with transaction.atomic():
        results = (services.orders_record_many(program=program, orders=orders, actor="pos",
                                               clock=clock)
                   if set_based else [None] * len(orders))
        for data, result in zip(orders, results, strict=True):
            if result is None:
                try:
                    with transaction.atomic():
                        result = services.order_record(program=program, actor="pos",
                                                       clock=clock, **data)
                except LoyaltyError as error:
                    result = error.code
            answers.append(result)
    return answers


def _snapshot(program: Program, members: list[Member]) -> dict:
    """Every row the orders wrote, with ids replaced by what they stand for."""
    who = {m.pk: n for n, m in enumerate(members)}
    rules = dict(EarningRule.objects.filter(program=program).values_list("pk", "name"))
    entries = {e.pk: (who[e.member_id], e.reference)
               for e in Entry.objects.filter(program=program)}

    def awards(lines):
        return [{**line, "rule": rules.get(line["rule"])} for line in lines]

    def figures(data):
        return {**data, "id": who[data["id"]], "card_id": None, "external_id": None}

    def event_data(data):
        data = dict(data)
        data["member"] = figures(data["member"])
        if "entry" in data:
            data["entry"] = {**data["entry"], "id": entries[data["entry"]["id"]]}
        if "order" in data:
            data["order"] = {**data["order"], "entry": entries.get(data["order"]["entry"]),
                             "awards": awards(data["order"]["awards"])}
        return data

    return {
        "members": [
            Member.objects.filter(pk=m.pk).values(
                "balance", "pending_points", "reserved_points", "lifetime_points",
                "event_sequence", "last_activity_at").get()
            for m in members
        ],
        "entries": sorted(
            (who[e.member_id], e.pk and entries[e.pk], e.kind, e.points, e.balance_delta,
             e.pending_delta, e.reserved_delta, e.balance_after, rules.get(e.rule_id), e.actor,
             e.reason, {**e.metadata, "awards": awards(e.metadata["awards"])}, e.created_at)
            for e in Entry.objects.filter(program=program).order_by("pk")
        ),
        "lots": sorted(
            (who[lot.member_id], entries[lot.entry_id], lot.points, lot.remaining, lot.pending,
             lot.available_at, lot.expires_at, lot.created_at)
            for lot in Lot.objects.filter(member__program=program)
        ),
        "orders": sorted(
            (who[o.member_id], o.order_id.split("-", 1)[1], o.currency, o.amount,
             o.points_discount, o.items, o.points_earned, o.points_reversed, o.status,
             awards(o.awards), entries.get(o.entry_id), o.actor, o.occurred_at, o.created_at)
            for o in Order.objects.filter(program=program)
        ),
        "awards": sorted(
            (who[a.member_id], rules[a.rule_id], a.points, a.order.order_id.split("-", 1)[1],
             entries[a.entry_id], a.event_id, a.created_at)
            for a in Award.objects.filter(program=program).select_related("order")
        ),
        "events": [
            (who[e.member_id], e.sequence, e.type, event_data(e.data), e.created_at,
             Delivery.objects.filter(event=e).count())
            for e in OutboxEvent.objects.filter(program=program).order_by("member_id",
                                                                         "sequence")
        ],
    }


def _relabel(snapshot: dict, members: list[Member]) -> dict:
    """Entry references carry the run's tag: keep the order's number only."""
    text = repr(snapshot)
    for tag in ("SET-", "ONE-"):
        text = text.replace(tag, "#-")
    return text


@pytest.mark.parametrize("pending_days", [0, 14])
def test_a_set_based_batch_writes_what_one_order_at_a_time_writes(
    merchant, clock, pending_days
):
    WebhookEndpoint.objects.create(  # every event is fanned out to it: deliveries compared
        merchant=merchant, url="https://crm.example.com/hooks", secret="s" * 40,
        event_types=["points.*", "order.recorded"], created_at=clock.now(),
        updated_at=clock.now())
    programs = []
    for name in ("Set", "One"):
        program = ProgramFactory(merchant=merchant, name=name, currency="EUR",
                                 pending_days=pending_days,
                                 expiry_policy=Program.ExpiryPolicy.AFTER_EARN,
                                 expiry_months=12)
        _rules(program, clock)
        members = [MemberFactory(program=program) for _ in range(4)]
        Member.objects.filter(pk=members[3].pk).update(status=Member.Status.SUSPENDED)
        programs.append((program, members))
    (set_program, set_members), (one_program, one_members) = programs
    start = clock.now()

    set_answers = _record(set_program, _orders(set_program, set_members, clock, "SET"), clock,
                          set_based=True)
    clock.set(start)
    one_answers = _record(one_program, _orders(one_program, one_members, clock, "ONE"), clock,
                          set_based=False)

    assert _relabel(_snapshot(set_program, set_members), set_members) == _relabel(
        _snapshot(one_program, one_members), one_members)
    for a, b in zip(set_answers, one_answers, strict=True):
        if isinstance(b, str):
            assert a == b  # the same refusal
            continue
        assert (a.order.points_earned, a.member.balance, a.member.pending_points,
                a.member.lifetime_points, [(x.name, x.points) for x in a.evaluation.awards]) == (
            b.order.points_earned, b.member.balance, b.member.pending_points,
            b.member.lifetime_points, [(x.name, x.points) for x in b.evaluation.awards])
    assert [a for a in set_answers if isinstance(a, str)] == [
        "MEMBER_INACTIVE", "CURRENCY_MISMATCH"]
    for member in set_members:
        assert member_ledger_discrepancies(member_id=member.pk) == []


def test_the_set_based_path_costs_a_few_statements_whatever_the_number_of_orders(
    program, clock
):
    _rules(program, clock)
    members = [MemberFactory(program=program) for _ in range(20)]
    orders = [{"order_id": f"Q-{n}", "amount": Decimal("30.50"), "currency": "EUR",
               "customer": Who(member=str(members[n % 20].pk)), "items": LINES}
              for n in range(100)]

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        results = services.orders_record_many(program=program, orders=orders, actor="pos",
                                              clock=clock)

    assert all(r is not None for r in results)
    assert Order.objects.filter(program=program).count() == 100
    # members, rules, hooks, history, figures, entries, lots, orders, awards, two events
    # (each with its endpoints); SQLite inserts in batches of its variable limit and writes
    # the activity time apart (and the caches of a first call read the program's settings)
    limit = 16 if connection.vendor == "postgresql" else 24
    assert len(queries) <= limit, "\n".join(q["sql"][:120] for q in queries)


def test_orders_of_a_member_a_hook_acts_on_are_left_to_order_record(program, clock):
    from referrals.models import Referral
    from referrals.services import referral_code_get_or_create

    referee, plain = MemberFactory(program=program), MemberFactory(program=program)
    referrer = MemberFactory(program=program)
    code, _ = referral_code_get_or_create(member=referrer, clock=clock)
    Referral.objects.create(merchant=program.merchant, program=program, referrer=referrer,
                            referee=referee, code=code, status=Referral.Status.PENDING,
                            created_at=clock.now(), expires_at=clock.now() + timedelta(days=30))
    orders = [{"order_id": f"H-{n}", "amount": Decimal("10.00"), "currency": "EUR",
               "customer": Who(member=str(who.pk))} for n, who in enumerate([plain, referee])]

    with transaction.atomic():
        results = services.orders_record_many(program=program, orders=orders, actor="pos",
                                              clock=clock)

    assert results[0] is not None
    assert results[1] is None
    assert list(Order.objects.values_list("order_id", flat=True)) == ["H-0"]


def test_a_program_with_tiers_records_its_orders_one_by_one(program, clock):
    from tiers import services as tiers

    tiers.tier_create(program=program, name="Bronze", rank=1, threshold_points=0)
    member = MemberFactory(program=program)
    orders = [{"order_id": "T-1", "amount": Decimal("10.00"), "currency": "EUR",
               "customer": Who(member=str(member.pk))}]

    with transaction.atomic():
        results = services.orders_record_many(program=program, orders=orders, actor="pos",
                                              clock=clock)

    assert results == [None]
    assert not Order.objects.exists()


def test_a_budgeted_rule_has_the_orders_recorded_one_by_one(program, clock):
    services.rule_create(program=program, name="Budget", kind="order",
                         config={"multiplier": "2"}, budget_points=100, clock=clock)
    member = MemberFactory(program=program)
    orders = [{"order_id": "U-1", "amount": Decimal("10.00"), "currency": "EUR",
               "customer": Who(member=str(member.pk))}]

    with transaction.atomic():
        results = services.orders_record_many(program=program, orders=orders, actor="pos",
                                              clock=clock)

    assert results == [None]
