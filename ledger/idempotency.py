"""Idempotency keys (SPEC 5, after the IETF ``Idempotency-Key`` draft and Stripe).

The key row is inserted in the same transaction as the write it guards. A second request with
the same key blocks on the first one's uncommitted insert (PostgreSQL's unique index does the
waiting), then finds the finished row and replays it: one key applies once, however many
requests race. A business rejection (any ``LoyaltyError`` with a status other than 400) is an
outcome and is kept; a malformed request (400) rolls everything back, key included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from loyaltysite.clock import Clock, system_clock
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


def run_idempotent(
    *,
    merchant_id: int,
    program_id: int | None,
    key: str,
    request_fingerprint: str,
    run: Callable[[], tuple[int, Any]],
    clock: Clock = system_clock,
) -> Outcome:
    scoped_key = f"{program_id or '-'}:{key}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey._base_manager.create(
                    merchant_id=merchant_id,
                    program_id=program_id,
                    key=scoped_key,
                    fingerprint=request_fingerprint,
                    created_at=clock.now(),
                )
        except IntegrityError:
            record = (
                IdempotencyKey._base_manager.select_for_update()
                .filter(merchant_id=merchant_id, key=scoped_key)
                .first()
            )
            if record is None:  # the first request rolled back (it was malformed)
                raise IdempotencyInProgress() from None
            if record.fingerprint != request_fingerprint:
                raise IdempotencyConflict(field="Idempotency-Key") from None
            if record.status_code is None:
                raise IdempotencyInProgress() from None
            return Outcome(record.status_code, record.response_body, replayed=True)
        try:
            with transaction.atomic():
                status, body = run()
        except LoyaltyError as error:
            if error.status == 400:
                raise
            status, body = error.status, error.as_problem()
        record.status_code = status
        record.response_body = body
        record.save(update_fields=["status_code", "response_body"])
        return Outcome(status, body)


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
