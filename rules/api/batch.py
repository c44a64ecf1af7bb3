"""``POST /orders/batch/``: up to 500 orders in one request, one result each (issue 13).

For a point of sale that syncs after being offline, or a shop that back-fills. Each order is
what ``POST /orders/`` would have made of it, through the same validation, the same service
(``services.order_record``) and the same idempotency (its ``order:<order_id>`` key, with the
fingerprint a single ``POST /orders/`` of the same body has): a replayed batch earns nothing
twice, a replayed item answers what it answered the first time, an order id sent earlier on
its own replays that answer, and the same id with another body is ``IDEMPOTENCY_CONFLICT``.

How it runs: the orders go in chunks of :data:`CHUNK_SIZE`, one transaction each (inside the
batch's ``Idempotency-Key`` transaction when the request carries one: then every member of the
batch is locked up front, in one statement). Per chunk:

* one query reads the outcomes kept under the chunk's order keys, and one the orders whose keys
  have expired: those items answer from them without any write;
* one statement claims the other orders' keys (``ledger.idempotency.claim_many``), and
  ``services.orders_record_many`` locks every member the chunk names (``SELECT ... FOR UPDATE
  ... ORDER BY id``, so two batches naming the same members in another order queue instead of
  deadlocking) and records set-based the orders it can; their outcomes are stored in one
  statement, and the keys of the orders it left are given back;
* each order it left (see ``rules.services.batch``) then runs as ``POST /orders/`` runs it, in
  a savepoint of its own (``run_idempotent`` nested in the chunk's transaction): a refusal, bad
  input or a database error rolls back that order alone and becomes its result; the others are
  kept. Should the set-based step itself fail, it is rolled back and every order runs this way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.exceptions import APIException

from ledger.idempotency import claim_many, fingerprint, release_many, run_idempotent, store_many
from ledger.models import IdempotencyKey
from loyaltysite.api.exceptions import problem_exception_handler
from loyaltysite.api.views import validated
from loyaltysite.errors import IdempotencyConflict, LoyaltyError, ValidationFailed
from members.models import Program

from .. import services
from ..models import Order
from .serializers import OrderIn

logger = logging.getLogger(__name__)

MAX_ORDERS = 500
CHUNK_SIZE = 100


@dataclass
class _Item:
    index: int
    raw: Any
    data: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @property
    def order_id(self) -> str | None:
        if self.data is not None:
            return self.data["order_id"]
        if isinstance(self.raw, dict) and isinstance(self.raw.get("order_id"), str):
            return self.raw["order_id"].strip()
        return None

    def answer(self, status: int, body: Any, *, replayed: bool = False) -> None:
        self.result = {"index": self.index, "order_id": self.order_id, "status": status,
                       "replayed": replayed, "body": body}


def batch_orders(data: Any) -> list[Any]:
    """The batch's ``orders`` list, checked as a whole (each order is checked on its own)."""
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be an object with 'orders'.", field="orders")
    unknown = sorted(set(data) - {"orders"})
    if unknown:
        raise ValidationFailed(f"Unknown field '{unknown[0]}'.", field=unknown[0])
    orders = data.get("orders")
    if not isinstance(orders, list):
        raise ValidationFailed("orders must be a list of orders.", field="orders")
    if not orders:
        raise ValidationFailed("orders must hold at least one order.", field="orders")
    if len(orders) > MAX_ORDERS:
        raise ValidationFailed(
            f"orders holds {len(orders)} orders; a batch takes at most {MAX_ORDERS}.",
            field="orders",
        )
    return orders


def run_batch(*, program: Program, orders: Sequence[Any], orders_path: str, actor: str,
              merchant_id: int, one_transaction: bool = False) -> dict[str, Any]:
    """Record each order as ``POST /orders/`` would; the results in the orders' order.

    ``orders_path`` is the path of ``POST /orders/`` (the items' idempotency fingerprints are
    those of single orders, so a single order and a batched one replay each other).
    ``one_transaction``: the caller runs the whole batch in its transaction (the batch's
    ``Idempotency-Key``).
    """
    items = [_Item(index, raw) for index, raw in enumerate(orders)]
    for item in items:
        _validate(item)
    context = _Context(program=program, orders_path=orders_path, actor=actor,
                       merchant_id=merchant_id)
    if one_transaction:
        # Every member the batch names is locked up front, in one primary-key order, since
        # no lock is let go between chunks.
        services.members_locked(program, [item.data["customer"] for item in items
                                          if item.data is not None])
    for start in range(0, len(items), CHUNK_SIZE):
        _run_chunk(context, items[start:start + CHUNK_SIZE])
    results = [item.result for item in items]
    return {
        "created": sum(1 for r in results if r["status"] < 400 and not r["replayed"]),
        "replayed": sum(1 for r in results if r["replayed"]),
        "failed": sum(1 for r in results if r["status"] >= 400),
        "results": results,
    }


@dataclass(frozen=True)
class _Context:
    program: Program
    orders_path: str
    actor: str
    merchant_id: int

    def key_name(self, order_id: str) -> str:
        # as run_idempotent names the natural key of a single order
        return f"{self.program.pk}:order:{order_id}"


def _problem(error: Exception) -> tuple[int, Any]:
    """The problem document the API answers for ``error`` (nothing to roll back here: the
    item's savepoint is gone already)."""
    response = problem_exception_handler(error, {})
    return response.status_code, response.data


def _validate(item: _Item) -> None:
    try:
        data = validated(OrderIn, item.raw)
    except (LoyaltyError, APIException) as error:
        item.answer(*_problem(error))
        return
    data = dict(data)
    data["order_id"] = data["order_id"].strip()
    item.data = data


def _run_chunk(context: _Context, chunk: list[_Item]) -> None:
    todo = [item for item in chunk if item.data is not None]
    if not todo:
        return
    with transaction.atomic():
        _answer_earlier(context, todo)
        todo = [item for item in todo if item.result is None]
        if todo:
            _record_set(context, todo)
        for item in todo:
            if item.result is None:
                _record(context, item)


def _record_set(context: _Context, items: list[_Item]) -> None:
    """The items ``services.orders_record_many`` records set-based, answered (their keys
    claimed first and their outcomes stored, as ``run_idempotent`` does one by one); it locks
    the members of every item, in primary-key order, in one statement. The others are left
    for ``_record``, and nothing is left behind for them; a failure of the whole set leaves
    every item to ``_record``."""
    from .views import order_result_body

    program = context.program
    firsts: dict[str, _Item] = {}
    for item in items:
        firsts.setdefault(item.data["order_id"], item)
    try:
        with transaction.atomic():
            claimed = claim_many(
                merchant_id=context.merchant_id, program_id=program.pk,
                keys=[(f"order:{order_id}", _fingerprint(context, item))
                      for order_id, item in firsts.items()],
            )
            candidates = [item for order_id, item in firsts.items()
                          if f"order:{order_id}" in claimed]
            chosen = {id(item) for item in candidates}
            others = [item.data["customer"] for item in items if id(item) not in chosen]
            results = services.orders_record_many(
                program=program, orders=[item.data for item in candidates],
                actor=context.actor, lock_also=others,
            )
            outcomes, unused, answered = [], [], []
            for item, result in zip(candidates, results, strict=True):
                key_id = claimed[f"order:{item.data['order_id']}"]
                if result is None:
                    unused.append(key_id)
                    continue
                body = order_result_body(result, program.pending_days)
                outcomes.append((key_id, http.HTTP_201_CREATED, body))
                answered.append((item, body))
            store_many(outcomes)
            release_many(unused)
    except Exception:  # noqa: BLE001 - rolled back: each item goes through ``_record``
        logger.exception("set-based batch chunk of program %s failed; recording one by one",
                         program.pk)
        return
    for item, body in answered:
        item.answer(http.HTTP_201_CREATED, body)


def _answer_earlier(context: _Context, items: list[_Item]) -> None:
    """Items whose order id has an outcome already: answered from it, in two queries."""
    named: dict[str, list[_Item]] = {}
    for item in items:
        named.setdefault(context.key_name(item.data["order_id"]), []).append(item)
    kept = IdempotencyKey._base_manager.filter(
        merchant_id=context.merchant_id, key__in=list(named), status_code__isnull=False,
    ).values_list("key", "fingerprint", "status_code", "response_body")
    for name, print_, status, body in kept:
        for item in named.pop(name):
            if print_ != _fingerprint(context, item):
                item.answer(*_problem(IdempotencyConflict(field="Idempotency-Key")))
            else:
                item.answer(status, body, replayed=True)
    if not named:
        return
    unkept = [item for group in named.values() for item in group]
    recorded = set(Order._base_manager.filter(
        merchant_id=context.program.merchant_id, program_id=context.program.pk,
        order_id__in=[item.data["order_id"] for item in unkept],
    ).values_list("order_id", flat=True))
    for item in unkept:
        if item.data["order_id"] in recorded:  # its key expired: what the single path answers
            _answer_recorded_earlier(context, item)


def _answer_recorded_earlier(context: _Context, item: _Item) -> None:
    from .views import recorded_earlier

    try:
        body = recorded_earlier(context.program, item.data)
    except LoyaltyError as error:
        item.answer(*_problem(error))
        return
    if body is not None:
        item.answer(http.HTTP_201_CREATED, body, replayed=True)


def _fingerprint(context: _Context, item: _Item) -> str:
    return fingerprint("POST", context.orders_path, item.raw)


def _record(context: _Context, item: _Item) -> None:
    """One order, exactly as ``POST /orders/`` records it, in a savepoint of its own."""
    from .views import order_result_body

    program, data = context.program, item.data

    def run():
        result = services.order_record(program=program, actor=context.actor, **data)
        return http.HTTP_201_CREATED, order_result_body(result, program.pending_days)

    try:
        outcome = run_idempotent(
            merchant_id=context.merchant_id, program_id=program.pk,
            keys=[f"order:{data['order_id']}"], request_fingerprint=_fingerprint(context, item),
            run=run,
        )
    except IntegrityError as error:  # recorded before its key was kept (a race with expiry)
        _answer_recorded_earlier(context, item)
        if item.result is None:
            item.answer(*_problem(error))
        return
    except Exception as error:  # noqa: BLE001 - the order's savepoint is rolled back: its result
        item.answer(*_problem(error))
        return
    item.answer(outcome.status, outcome.body, replayed=outcome.replayed)


class BatchResultOut(serializers.Serializer):
    index = serializers.IntegerField(help_text="The order's position in `orders`, from 0.")
    order_id = serializers.CharField(allow_null=True,
                                     help_text="The order's id (null when it has none).")
    status = serializers.IntegerField(
        help_text="The HTTP status `POST /orders/` would have answered for this order.")
    replayed = serializers.BooleanField(
        help_text="The order was recorded earlier (this answer is its first one).")
    body = serializers.JSONField(
        help_text="What `POST /orders/` would have answered: the order's result (`201`) or a "
        "problem document (`code`, `errors[]`).")


class OrderBatchIn(serializers.Serializer):
    orders = OrderIn(many=True, min_length=1, max_length=MAX_ORDERS)


class OrderBatchOut(serializers.Serializer):
    created = serializers.IntegerField(help_text="Orders recorded by this request.")
    replayed = serializers.IntegerField(help_text="Orders recorded earlier, answered again.")
    failed = serializers.IntegerField(help_text="Orders refused (status 400 or more).")
    results = BatchResultOut(many=True)
