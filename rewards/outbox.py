"""The ``reward.*`` and ``voucher.*`` events (SPEC 11), written in the redemption's or the
voucher's transaction; ``events.outbox.emit`` adds the member's figures after the change."""

from __future__ import annotations

from typing import Any

from events.outbox import emit
from loyaltysite.formatting import money_str

from .models import Redemption, Voucher


def redemption_payload(redemption: Redemption) -> dict[str, Any]:
    currency = redemption.currency
    reward = redemption.reward if redemption.reward_id else None
    return {
        "id": redemption.pk,
        "kind": redemption.kind,
        "status": redemption.status,
        "points": redemption.points,
        "reward": {"id": reward.pk, "name": reward.name} if reward else None,
        "order_id": redemption.order_id,
        "order_amount": (money_str(redemption.order_amount, currency)
                         if redemption.order_amount is not None else None),
        "discount_amount": (money_str(redemption.discount_amount, currency)
                            if redemption.discount_amount is not None else None),
        "currency": currency,
        "expires_at": redemption.expires_at,
    }


def voucher_payload(voucher: Voucher) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "status": voucher.status,
        "reward": voucher.reward_id,
        "redemption": voucher.redemption_id,
        "expires_at": voucher.expires_at,
        "used_at": voucher.used_at,
        "used_reference": voucher.used_reference,
    }


def emit_redemption(event_type: str, redemption: Redemption, **extra: Any) -> None:
    emit(event_type, merchant_id=redemption.merchant_id, program_id=redemption.program_id,
         member_id=redemption.member_id,
         data={"redemption": redemption_payload(redemption), **extra})


def emit_voucher_used(voucher: Voucher) -> None:
    emit("voucher.used", merchant_id=voucher.merchant_id, program_id=voucher.program_id,
         member_id=voucher.member_id, at=voucher.used_at,
         data={"voucher": voucher_payload(voucher)})
