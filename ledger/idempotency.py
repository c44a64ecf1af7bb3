"""Idempotency keys (SPEC 5, after the IETF ``Idempotency-Key`` draft and Stripe).

The key row is inserted in the same transaction as the write it guards. A second request with
the same key blocks on the first one's uncommitted insert (PostgreSQL's unique index does the
waiting), then finds the finished row and replays it: one key applies once, however many
requests race. A business rejection (``INSUFFICIENT_POINTS``...) is an outcome and is kept; bad
input (a 400, or a value a rule refuses: ``LoyaltyError.bad_input``) rolls everything back, key
included, so the corrected request can be sent again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from loyaltysite.clock import Clock, system_clock
from loyaltysite.db import prepared_cursor
from loyaltysite.errors import IdempotencyConflict, IdempotencyInProgress, LoyaltyError

from .models import IdempotencyKey

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    replayed: bool = False


def fingerprint(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


class _Refused(Exception):
    """Carries a business rejection out of the attempt's transaction, so it rolls back."""

    def __init__(self, error: LoyaltyError) -> None:
        super().__init__(error)
        self.error = error


_CLAIM_SQL = (
    "INSERT INTO {table} (merchant_id, program_id, key, fingerprint, status_code,"
    " response_body, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id"
)


def _claim(*, merchant_id: int, program_id: int | None, key: str, request_fingerprint: str,
           now, status: int | None = None, body: Any = None) -> IdempotencyKey | None:
    """Insert the key row; ``None`` when the key is taken already.

    ``ON CONFLICT DO NOTHING`` instead of catching ``IntegrityError`` in a savepoint: one round
    trip instead of three. A concurrent request holding the same key uncommitted makes this
    wait (the unique index does it) until that one commits (conflict) or rolls back (inserted).
    """
    table = IdempotencyKey._meta.db_table
    response = (
        None if body is None
        else IdempotencyKey._meta.get_field("response_body").get_db_prep_save(body, connection)
    )
    with prepared_cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(table=connection.ops.quote_name(table)),
            [merchant_id, program_id, key, request_fingerprint, status, response, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record = IdempotencyKey(
        id=row[0], merchant_id=merchant_id, program_id=program_id, key=key,
        fingerprint=request_fingerprint, status_code=status, response_body=body, created_at=now,
    )
    record._state.adding = False
    record._state.db = connection.alias
    return record


def _replay(*, merchant_id: int, key: str, request_fingerprint: str) -> Outcome:
    """The outcome stored under a key another request claimed first."""
    record = (
        IdempotencyKey._base_manager.select_for_update()
        .filter(merchant_id=merchant_id, key=key)
        .first()
    )
    if record is None:  # the first request rolled back (it was malformed)
        raise IdempotencyInProgress()
    if record.fingerprint != request_fingerprint:
        raise IdempotencyConflict(field="Idempotency-Key")
    if record.status_code is None:
        raise IdempotencyInProgress()
    return Outcome(record.status_code, record.response_body, replayed=True)


def run_idempotent(
    *,
    merchant_id: int,
    program_id: int | None,
    request_fingerprint: str,
    run: Callable[[], tuple[int, Any]],
    key: str | None = None,
    keys: Sequence[str] = (),
    clock: Clock = system_clock,
) -> Outcome:
    """Run ``run`` once per key: claim the keys, run, store the outcome, in one transaction.

    ``keys`` (and ``key``) are every key the request carries: the client's ``Idempotency-Key``
    and the write's natural key (``order:<order id>``). They are claimed in sorted order (two
    requests sharing two keys can never wait on each other in a cycle). When one was claimed
    by an earlier request, that request's outcome is the answer (or ``IDEMPOTENCY_CONFLICT``
    when its request differed), and it is stored under this request's other keys too, so a
    retry with any of them replays the same thing.

    A business rejection rolls the whole attempt back (whatever ``run`` wrote before it refused)
    and is then recorded as the keys' outcome in a transaction of its own; if another request
    claimed a key in between, that one's outcome is the answer. No savepoints: the hot path is
    BEGIN, the claims, the work, the outcome, COMMIT.
    """
    names = sorted({f"{program_id or '-'}:{k}" for k in (*keys, *([key] if key else []))})
    if not names:
        raise ValueError("run_idempotent needs at least one key")
    common = {"merchant_id": merchant_id, "program_id": program_id,
              "request_fingerprint": request_fingerprint}
    try:
        with transaction.atomic():
            claimed, earlier = _claim_all(names, now=clock.now(), **common)
            if earlier is not None:
                _store(claimed, earlier.status, earlier.body)
                return earlier
            try:
                status, body = run()
            except LoyaltyError as error:
                if error.bad_input:
                    raise
                raise _Refused(error) from error
            _store(claimed, status, body)
            return Outcome(status, body)
    except _Refused as refused:
        status, body = refused.error.status, refused.error.as_problem()
    with transaction.atomic():
        claimed, earlier = _claim_all(names, now=clock.now(), status=status, body=body, **common)
        if earlier is not None:
            _store(claimed, earlier.status, earlier.body)
            return earlier
        return Outcome(status, body)


def _claim_all(names: list[str], *, merchant_id: int, program_id: int | None,
               request_fingerprint: str, now, status: int | None = None,
               body: Any = None) -> tuple[list[IdempotencyKey], Outcome | None]:
    """Claim each key in order; stop at the first one an earlier request holds.

    Returns the records claimed here and, when a key was taken, that key's replayed outcome
    (``IDEMPOTENCY_CONFLICT`` or ``IDEMPOTENCY_IN_PROGRESS`` raise, rolling the claims back).
    """
    claimed: list[IdempotencyKey] = []
    for name in names:
        record = _claim(merchant_id=merchant_id, program_id=program_id, key=name,
                        request_fingerprint=request_fingerprint, now=now, status=status,
                        body=body)
        if record is None:
            return claimed, _replay(merchant_id=merchant_id, key=name,
                                    request_fingerprint=request_fingerprint)
        claimed.append(record)
    return claimed, None


_STORE_SQL = ("UPDATE {table} SET status_code = %s, response_body = %s"
              " WHERE id = ANY(%s::bigint[])")


def _store(records: list[IdempotencyKey], status: int, body: Any) -> None:
    pending = [r.pk for r in records if r.status_code is None]
    if not pending:
        return
    if connection.vendor != "postgresql":
        IdempotencyKey._base_manager.filter(pk__in=pending).update(
            status_code=status, response_body=body
        )
        return
    # Every write request ends here: one prepared statement, the same whatever the key count.
    response = IdempotencyKey._meta.get_field("response_body").get_db_prep_save(body, connection)
    with prepared_cursor() as cursor:
        cursor.execute(_STORE_SQL.format(table=connection.ops.quote_name(
            IdempotencyKey._meta.db_table)), [status, response, pending])


def purge_expired_keys(*, clock: Clock = system_clock, batch_size: int = 1000) -> int:
    """Delete keys older than the retention period (at least 24 hours, default 48)."""
    hours = max(24, settings.LOYALTY["IDEMPOTENCY_TTL_HOURS"])
    cutoff = clock.now() - timedelta(hours=hours)
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey._base_manager.filter(created_at__lt=cutoff).values_list("id", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey._base_manager.filter(pk__in=ids).delete()[0]


# ---------------------------------------------------------------------------------------------
# Many requests' keys at once (a batch of orders): the same rows as ``run_idempotent`` writes.


def claim_many(*, merchant_id: int, program_id: int | None, keys: Sequence[tuple[str, str]],
               clock: Clock = system_clock) -> dict[str, int]:
    """Claim each ``(key, fingerprint)`` as ``run_idempotent`` names and claims a request's
    key, in one statement; the ids of the keys claimed here, by key. A key taken already (an
    earlier request's, or a concurrent one's, which this waits for) is absent: that request
    is answered by ``run_idempotent``, which replays it."""
    if not keys:
        return {}
    prefix = f"{program_id or '-'}:"
    names = [(f"{prefix}{key}", print_) for key, print_ in keys]
    now = clock.now()
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    if connection.vendor == "postgresql":
        rows = ("SELECT %s, %s, v.k, v.f, NULL, NULL, %s FROM unnest(%s::text[], %s::text[])"
                " WITH ORDINALITY AS v(k, f, n) ORDER BY v.n")
        params = [merchant_id, program_id, now, [n for n, _ in names], [f for _, f in names]]
    else:
        rows = "VALUES " + ", ".join(["(%s, %s, %s, %s, NULL, NULL, %s)"] * len(names))
        params = [value for name, print_ in names
                  for value in (merchant_id, program_id, name, print_, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (merchant_id, program_id, key, fingerprint, status_code,"
            f" response_body, created_at) {rows}"
            " ON CONFLICT (merchant_id, key) DO NOTHING RETURNING key, id", params,
        )  # the table name and placeholders only
        return {key.removeprefix(prefix): pk for key, pk in cursor.fetchall()}


def store_many(outcomes: Sequence[tuple[int, int, Any]]) -> None:
    """Store ``(key id, status, body)`` outcomes of keys claimed by ``claim_many``."""
    if not outcomes:
        return
    field = IdempotencyKey._meta.get_field("response_body")
    if connection.vendor != "postgresql":
        IdempotencyKey._base_manager.bulk_update(
            [IdempotencyKey(pk=pk, status_code=status, response_body=body)
             for pk, status, body in outcomes],
            ["status_code", "response_body"], batch_size=200,
        )
        return
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    with connection.cursor() as cursor:
        # the bodies as one JSON document: a text[] literal would quote each body's quotes
        cursor.execute(
            f"UPDATE {table} k SET status_code = (v.o->>1)::integer, response_body = v.o->2"
            " FROM jsonb_array_elements(%s::jsonb) AS v(o) WHERE k.id = (v.o->>0)::bigint",
            [json.dumps([list(o) for o in outcomes], cls=field.encoder)],
        )  # the table name only


def release_many(ids: Sequence[int]) -> None:
    """Give back keys ``claim_many`` claimed for requests that will run one by one after all."""
    if ids:
        IdempotencyKey._base_manager.filter(pk__in=list(ids)).delete()
