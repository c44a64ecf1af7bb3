"""What other apps hear when an order is recorded or refunded, inside its transaction.

Referrals convert on a referee's first qualifying order and claw back on its refund; tiers
count money spent. They register here from their ``AppConfig.ready()`` instead of ``rules``
importing them. Hooks run after the order's rows and its ledger entry are written, under the
member's row lock, so whatever they write commits or rolls back with the order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Order
    from .services.orders import OrderResult, RefundResult

OrderRecorded = Callable[["OrderResult"], None]
OrderRefunded = Callable[["RefundResult"], None]
_recorded: list[OrderRecorded] = []
_refunded: list[OrderRefunded] = []


def register_order_recorded(hook: OrderRecorded) -> None:
    if hook not in _recorded:
        _recorded.append(hook)


def register_order_refunded(hook: OrderRefunded) -> None:
    if hook not in _refunded:
        _refunded.append(hook)


def order_recorded(result: OrderResult) -> None:
    for hook in list(_recorded):
        hook(result)


def order_refunded(result: RefundResult) -> None:
    for hook in list(_refunded):
        hook(result)


# ---------------------------------------------------------------------------------------------
# Probes: what a hook would look up, asked by the order's own write statement

OrderProbe = Callable[["Order", str], "tuple[str, dict[str, object]]"]
_probes: dict[str, OrderProbe] = {}


def register_order_probe(name: str, probe: OrderProbe) -> None:
    """Let the order's write ask a hook's question, saving the hook a round trip.

    ``probe(order, prefix)`` answers one scalar SQL expression (a parenthesised subquery of
    the hook's own tables) and its named parameters, every name starting with ``prefix``
    (``%(<prefix>member)s``). On PostgreSQL the order, its awards and its event are one
    statement (``services.orders._write_order``), which selects each probe beside the order's
    id: its value reaches the hooks as ``OrderResult.probed[name]``, read in the same
    transaction under the member's lock, just before the hooks run. Where the order is written
    otherwise (SQLite) ``probed`` lacks the name, and the hook asks as it would have."""
    _probes[name] = probe


def order_probes(order: Order) -> tuple[list[str], str, dict[str, object]]:
    """The registered probes for ``order``: their names, the select list (``, expr, ...``)
    and their parameters."""
    names, select, params = [], "", {}
    for index, (name, probe) in enumerate(_probes.items()):
        sql, named = probe(order, f"probe{index}_")
        names.append(name)
        select += f", {sql}"
        params.update(named)
    return names, select, params


# ---------------------------------------------------------------------------------------------
# Batches: which orders a hook would act on


BatchCheck = Callable[[int, "Collection[int]"], "set[int] | None"]
_batch_checks: dict[Callable[..., None], BatchCheck] = {}


PostingCheck = Callable[[int, int, int], bool]
_posting_checks: list[PostingCheck] = []


def register_batch_check(check: BatchCheck, *, covers: Iterable[Callable[..., None]],
                         posting: PostingCheck | None = None) -> None:
    """Say, for a batch of orders, which members' orders ``covers`` (this app's
    ``order_recorded`` and ledger ``after_post`` hooks) would act on.

    ``check(program_id, member_ids)`` answers the ids of the members whose orders the hooks
    would do something for (a referral to convert, a tier to count), or ``None`` when they act
    on every order of the program. The set-based path of a batch (``services.orders_record_many``)
    records the other members' orders without calling the hooks, which for them do nothing;
    it runs only when every registered hook has a check. ``posting(program_id,
    lifetime_before, lifetime_after)``: whether the hooks act on one earn after all (a tier
    threshold crossed); that order and the member's later ones then go one by one."""
    for hook in covers:
        _batch_checks[hook] = check
    if posting is not None and posting not in _posting_checks:
        _posting_checks.append(posting)


def batch_posting_acts(program_id: int, lifetime_before: int, lifetime_after: int) -> bool:
    """Whether a hook acts on an earn moving a member's lifetime points so (see above)."""
    return any(check(program_id, lifetime_before, lifetime_after) for check in _posting_checks)


def batch_exempt(program_id: int, member_ids: Collection[int]) -> set[int] | None:
    """The members whose orders must be recorded one by one (the hooks act on them), or
    ``None`` when every order must (a hook without a check, or one acting on all)."""
    from ledger import hooks as ledger_hooks

    registered = [*_recorded, *ledger_hooks.registered()]
    checks = []
    for hook in registered:
        check = _batch_checks.get(hook)
        if check is None:
            return None
        if check not in checks:
            checks.append(check)
    exempt: set[int] = set()
    for check in checks:
        named = check(program_id, member_ids)
        if named is None:
            return None
        exempt |= named
    return exempt
