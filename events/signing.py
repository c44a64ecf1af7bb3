"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the reference library.

Each request carries ``webhook-id`` (the event id: the same on every retry, for the receiver to
de-duplicate), ``webhook-timestamp`` (seconds since the epoch, when this attempt was signed) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, once per secret in
force, separated by spaces, so a receiver keeps verifying while a rotated secret is replaced.
"""

from __future__ import annotations

import base64
import secrets as random_secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in base64: the format receivers' libraries accept."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


def signing_time() -> datetime:
    """The wall-clock time of an attempt. Receivers compare ``webhook-timestamp`` with their
    own clock (five minutes' tolerance, against replays), so it is the real time, not the
    injectable clock domain code reads."""
    return datetime.now(UTC)


def signature_headers(*, message_id: str, body: str, secrets: list[str],
                      at: datetime) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body)
            for secret in secrets
        ),
    }
