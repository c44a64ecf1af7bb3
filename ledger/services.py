"""The ledger's transaction manager: the only code that moves points.

Each operation opens a transaction (joining the caller's, so other apps compose: a reward
redemption opens its own ``atomic()`` and calls in here), locks the member row, writes the
entry and the lots, and writes the member's cached figures from values computed under the lock.
Business rules that need the ledger (enough points, member active) are checked under the lock;
anything rejected writes nothing.
"""

from __future__ import annotations

import calendar
import copy
import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet

from events.models import ExpiryWarning
from events.outbox import emit
from loyaltysite.clock import Clock, FrozenClock, system_clock
from loyaltysite.errors import (
    InsufficientPoints,
    MemberInactive,
    RedemptionExpired,
    Unprocessable,
    ValidationFailed,
)
from members.models import Member, Program

from . import _pg, events, hooks
from .locking import lock_member
from .models import Entry, Hold, Lot
from .selectors import points_expiring

MAX_POINTS = 2**31 - 1


def add_months(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expiry_for(program: Program, earned_at: datetime) -> datetime | None:
    if program.expiry_policy == Program.ExpiryPolicy.AFTER_EARN:
        return add_months(earned_at, program.expiry_months)
    return None


def _check_points(points: int, *, allow_negative: bool = False) -> None:
    if isinstance(points, bool) or not isinstance(points, int):
        raise ValidationFailed("points must be an integer.", field="points")
    if points == 0 or (points < 0 and not allow_negative):
        raise ValidationFailed(
            "points must be a non-zero integer." if allow_negative else "points must be positive.",
            field="points",
        )
    if abs(points) > MAX_POINTS:
        raise ValidationFailed(f"points must be at most {MAX_POINTS}.", field="points")


def _require_active(member: Member) -> None:
    if member.status != Member.Status.ACTIVE:
        raise MemberInactive(f"Member {member.card_id_display} is {member.status}.", field="member")


def _post(
    member: Member,
    *,
    kind: str,
    points: int,
    now: datetime,
    actor: str,
    balance_delta: int = 0,
    pending_delta: int = 0,
    reserved_delta: int = 0,
    lifetime_delta: int = 0,
    reason: str = "",
    reference: str = "",
    rule_id: int | None = None,
    reverses_id: int | None = None,
    metadata: dict[str, Any] | None = None,
    touch_activity: bool = False,
) -> Entry:
    """Write one entry and the member's new figures. The caller holds the member lock."""
    member.balance += balance_delta
    member.pending_points += pending_delta
    member.reserved_points += reserved_delta
    member.lifetime_points += lifetime_delta
    if member.balance < 0 or member.pending_points < 0 or member.reserved_points < 0:
        raise InsufficientPoints(field="points")  # the caller's checks should make this unreachable
    entry = Entry.objects.with_scopes_disabled().create(
        merchant_id=member.merchant_id,
        program_id=member.program_id,
        member_id=member.pk,
        kind=kind,
        points=points,
        balance_delta=balance_delta,
        pending_delta=pending_delta,
        reserved_delta=reserved_delta,
        balance_after=member.balance,
        reference=reference[:128],
        rule_id=rule_id,
        reverses_id=reverses_id,
        actor=actor[:128],
        reason=reason[:255],
        metadata=metadata or {},
        created_at=now,
    )
    fields: dict[str, Any] = {
        "balance": member.balance,
        "pending_points": member.pending_points,
        "reserved_points": member.reserved_points,
        "lifetime_points": member.lifetime_points,
    }
    if touch_activity:
        member.last_activity_at = now
        fields["last_activity_at"] = now
    Member._base_manager.filter(pk=member.pk).update(**fields)
    events.emit_entry(entry)
    if hooks.active():
        hooks.after_post(hooks.Posted(
            entry=entry, member_id=member.pk, merchant_id=member.merchant_id,
            program_id=member.program_id, balance=member.balance,
            pending_points=member.pending_points, reserved_points=member.reserved_points,
            lifetime_points=member.lifetime_points, lifetime_delta=lifetime_delta,
        ))
    return entry


def _pages(queryset: QuerySet, size: int = 32) -> Iterator[Any]:
    """Rows of ``queryset`` a page at a time, each page one plain query.

    Most debits need one or two lots, so the first page is nearly always the only one; a
    server-side cursor (``iterator()`` on PostgreSQL) would cost three round trips instead.
    The offsets are stable because the caller holds the member lock and updates no lot out of
    the filtered set until it has stopped reading.
    """
    offset = 0
    while True:
        page = list(queryset[offset : offset + size])
        yield from page
        if len(page) < size:
            return
        offset += size
        size = min(size * 4, 1000)


def _consume_lots(member: Member, points: int) -> list[list[int]]:
    """Take ``points`` from the member's spendable lots, first to expire first.

    Returns the allocations ``[[lot_id, taken], ...]``. The caller holds the member lock, which
    is what serialises every writer of these lots.
    """
    allocations: list[list[int]] = []
    still = points
    lots = (
        Lot._base_manager.filter(member_id=member.pk, remaining__gt=0, pending=False)
        .order_by(F("expires_at").asc(nulls_last=True), "id")
        .values_list("id", "remaining")
    )
    drained: list[int] = []
    for lot_id, remaining in _pages(lots):
        take = min(remaining, still)
        allocations.append([lot_id, take])
        if take == remaining:
            drained.append(lot_id)
        else:
            Lot._base_manager.filter(pk=lot_id).update(remaining=F("remaining") - take)
        still -= take
        if still == 0:
            break
    if drained:
        Lot._base_manager.filter(pk__in=drained).update(remaining=0)
    if still:
        # The cached balance said there was enough: lots and cache disagree.
        raise RuntimeError(f"ledger lots of member {member.pk} are short by {still} points")
    return allocations


@dataclass(frozen=True)
class Actor:
    """Who caused an entry: ``api-key:<prefix>``, ``staff:<user id>``, ``system:<job>``..."""

    label: str

    def __str__(self) -> str:
        return self.label


def _actor(actor: Actor | str) -> str:
    return str(actor)


def points_credit(
    *,
    member: Member,
    points: int,
    actor: Actor | str,
    reason: str = "",
    reference: str = "",
    pending_days: int | None = 0,
    expires_at: datetime | None | bool = True,
    rule_id: int | None = None,
    metadata: dict[str, Any] | None = None,
    require_active: bool = True,
    lifetime: bool = True,
    clock: Clock = system_clock,
) -> Entry:
    """Credit earned points: a new lot, pending for ``pending_days`` (``None``: the program's).

    ``expires_at=True`` applies the program's expiry policy; ``None`` means never.
    ``lifetime=False`` gives back points that were earned once already (a refunded
    redemption): spendable again, but not counted towards lifetime points a second time.
    """
    _check_points(points)
    now = clock.now()
    if _pg.available():
        # One statement commits by itself; hooks need the posting's transaction around them.
        # Inside the caller's transaction no savepoint (two round trips): a failure marks the
        # caller's transaction for rollback, so the entry never commits without its hooks.
        # A caller that means to carry on after a failure opens its own savepoint.
        with (transaction.atomic(savepoint=False) if hooks.active() else nullcontext()):
            entry = _pg.credit(
                member_id=member.pk, points=points, now=now, actor=_actor(actor),
                reason=reason, reference=reference, pending_days=pending_days,
                expires_at=expires_at, rule_id=rule_id, metadata=metadata,
                require_active=require_active, lifetime=lifetime,
            )
            if entry is not None:
                return entry
    with transaction.atomic():
        return _credit_orm(
            member=member, points=points, now=now, actor=actor, reason=reason,
            reference=reference, pending_days=pending_days, expires_at=expires_at,
            rule_id=rule_id, metadata=metadata, require_active=require_active,
            lifetime=lifetime,
        )


def _credit_orm(
    *,
    member: Member,
    points: int,
    now: datetime,
    actor: Actor | str,
    reason: str,
    reference: str,
    pending_days: int | None,
    expires_at: datetime | None | bool,
    rule_id: int | None,
    metadata: dict[str, Any] | None,
    require_active: bool,
    lifetime: bool,
) -> Entry:
    member = lock_member(member.pk)
    if require_active:
        _require_active(member)
    program = member.program
    days = program.pending_days if pending_days is None else pending_days
    available_at = now + timedelta(days=days)
    pending = available_at > now
    lot_expiry = expiry_for(program, now) if expires_at is True else expires_at
    entry = _post(
        member,
        kind=Entry.Kind.EARN,
        points=points,
        now=now,
        actor=_actor(actor),
        balance_delta=0 if pending else points,
        pending_delta=points if pending else 0,
        lifetime_delta=points if lifetime and not pending else 0,
        reason=reason,
        reference=reference,
        rule_id=rule_id,
        metadata=metadata,
        touch_activity=True,
    )
    Lot._base_manager.create(
        merchant_id=member.merchant_id,
        member_id=member.pk,
        entry=entry,
        points=points,
        remaining=points,
        pending=pending,
        available_at=available_at,
        expires_at=lot_expiry,
        created_at=now,
    )
    return entry


def points_debit(
    *,
    member: Member,
    points: int,
    actor: Actor | str,
    reason: str = "",
    reference: str = "",
    kind: str = Entry.Kind.REDEEM,
    metadata: dict[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Entry:
    """Spend spendable points directly (no hold). More than the balance is rejected."""
    _check_points(points)
    now = clock.now()
    if _pg.available():
        entry = _pg.debit(
            member_id=member.pk, points=points, now=now, actor=_actor(actor), reason=reason,
            reference=reference, kind=kind, metadata=metadata,
        )
        if entry is not None:
            return entry
    with transaction.atomic():
        return _debit_orm(
            member=member, points=points, now=now, actor=actor, reason=reason,
            reference=reference, kind=kind, metadata=metadata,
        )


def _debit_orm(
    *,
    member: Member,
    points: int,
    now: datetime,
    actor: Actor | str,
    reason: str,
    reference: str,
    kind: str,
    metadata: dict[str, Any] | None,
) -> Entry:
    member = lock_member(member.pk)
    _require_active(member)
    if points > member.balance:
        raise InsufficientPoints(
            f"Balance is {member.balance}, {points} requested.", field="points",
            balance=member.balance,
        )
    allocations = _consume_lots(member, points)
    return _post(
        member,
        kind=kind,
        points=-points,
        now=now,
        actor=_actor(actor),
        balance_delta=-points,
        reason=reason,
        reference=reference,
        metadata={**(metadata or {}), "lots": allocations},
        touch_activity=True,
    )


@transaction.atomic
def points_adjust(
    *,
    member: Member,
    points: int,
    actor: Actor | str,
    reason: str,
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Entry:
    """A signed manual correction, always with a reason. Never takes the balance below zero."""
    _check_points(points, allow_negative=True)
    if not reason or not reason.strip():
        raise ValidationFailed("A reason is required.", field="reason")
    now = clock.now()
    member = lock_member(member.pk)
    _require_active(member)
    if points < 0:
        if -points > member.balance:
            raise InsufficientPoints(
                f"Balance is {member.balance}, cannot remove {-points}.", field="points",
                balance=member.balance,
            )
        allocations = _consume_lots(member, -points)
        return _post(
            member, kind=Entry.Kind.ADJUST, points=points, now=now, actor=_actor(actor),
            balance_delta=points, reason=reason, reference=reference,
            metadata={**(metadata or {}), "lots": allocations},
        )
    entry = _post(
        member, kind=Entry.Kind.ADJUST, points=points, now=now, actor=_actor(actor),
        balance_delta=points, lifetime_delta=points, reason=reason, reference=reference,
        metadata=metadata,
    )
    Lot._base_manager.create(
        merchant_id=member.merchant_id, member_id=member.pk, entry=entry, points=points,
        remaining=points, pending=False, available_at=now,
        expires_at=expiry_for(member.program, now), created_at=now,
    )
    return entry


def points_reserve(
    *,
    member: Member,
    points: int,
    actor: Actor | str,
    reference: str = "",
    reason: str = "",
    ttl: timedelta | None = None,
    clock: Clock = system_clock,
    locked: bool = False,
) -> Hold:
    """Hold points for a redemption until ``now + ttl`` (default: the program's TTL).

    ``locked``: the caller holds the member's lock and ``member`` is the row it read under it
    (with its program), so the request locks the member once. Then, on PostgreSQL, the lots,
    the figures, the entry and the hold are one statement in the caller's transaction
    (``_pg.reserve``); otherwise the ORM writes them in a transaction of their own.
    """
    _check_points(points)
    now = clock.now()
    if locked and _pg.available() and transaction.get_connection().in_atomic_block:
        _check_reserve(member, points)
        ttl = ttl if ttl is not None else timedelta(minutes=member.program.reservation_ttl_minutes)
        entry, fields = _pg.reserve(
            member_id=member.pk, points=points, now=now, expires_at=now + ttl,
            actor=_actor(actor), reason=reason, reference=reference,
        )
        member.balance = entry.balance_after
        member.reserved_points += points
        member.last_activity_at = now
        hold = Hold(**fields)
        hold._state.adding = False
        hold._state.db = entry._state.db
        return hold
    with transaction.atomic():
        member = member if locked else lock_member(member.pk)
        _check_reserve(member, points)
        allocations = _consume_lots(member, points)
        ttl = ttl if ttl is not None else timedelta(minutes=member.program.reservation_ttl_minutes)
        _post(
            member, kind=Entry.Kind.RESERVE, points=-points, now=now, actor=_actor(actor),
            balance_delta=-points, reserved_delta=points, reason=reason, reference=reference,
            touch_activity=True,
        )
        return Hold._base_manager.create(
            merchant_id=member.merchant_id,
            program_id=member.program_id,
            member_id=member.pk,
            points=points,
            reference=reference[:128],
            allocations=allocations,
            expires_at=now + ttl,
            created_at=now,
        )


def _check_reserve(member: Member, points: int) -> None:
    _require_active(member)
    if points > member.balance:
        raise InsufficientPoints(
            f"Balance is {member.balance}, {points} requested.", field="points",
            balance=member.balance,
        )


def _lock_hold(hold: Hold) -> tuple[Member, Hold]:
    member = lock_member(hold.member_id)  # member first: the order every writer uses
    return member, Hold._base_manager.select_for_update().get(pk=hold.pk)


def hold_confirm(
    *, hold: Hold, actor: Actor | str, reference: str = "", reason: str = "",
    clock: Clock = system_clock, member: Member | None = None,
) -> Hold:
    """Turn a hold into a spend. Idempotent; a released or expired hold raises.

    ``member``: the caller holds the member's lock and the hold's, and passes both rows as it
    read them under those locks (one lock statement per request instead of two more here).
    Then, on PostgreSQL, the entry, its event, the figures and the hold are one statement in
    the caller's transaction (``_pg.confirm``).
    """
    now = clock.now()
    if member is not None and _pg.available() and transaction.get_connection().in_atomic_block:
        if _hold_settled(hold, now):
            return hold
        _pg.confirm(
            member_id=member.pk, hold_id=hold.pk, points=hold.points, now=now,
            actor=_actor(actor), reason=reason, reference=reference or hold.reference,
            hold_reference=reference or hold.reference,
        )
        member.reserved_points -= hold.points
        _settle(hold, now, reference)
        return hold
    with transaction.atomic():
        member, hold = (member, hold) if member is not None else _lock_hold(hold)
        if _hold_settled(hold, now):
            return hold
        _post(
            member, kind=Entry.Kind.REDEEM, points=-hold.points, now=now, actor=_actor(actor),
            reserved_delta=-hold.points, reason=reason,
            reference=reference or hold.reference, metadata={"hold": hold.pk},
        )
        _settle(hold, now, reference)
        hold.save(update_fields=["status", "settled_at", "reference"])
        return hold


def _hold_settled(hold: Hold, now: datetime) -> bool:
    """Whether the hold is confirmed already; raises when it can no longer be."""
    if hold.status == Hold.Status.CONFIRMED:
        return True
    if hold.status == Hold.Status.RELEASED:
        raise Unprocessable("The reservation was released.", field="hold")
    if hold.status == Hold.Status.EXPIRED or hold.expires_at <= now:
        raise RedemptionExpired()
    return False


def _settle(hold: Hold, now: datetime, reference: str) -> None:
    hold.status = Hold.Status.CONFIRMED
    hold.settled_at = now
    if reference:
        hold.reference = reference[:128]


@transaction.atomic
def hold_release(
    *, hold: Hold, actor: Actor | str, reason: str = "", expired: bool = False,
    clock: Clock = system_clock,
) -> Hold:
    """Give held points back, to the lots they came from. Idempotent on a settled hold."""
    now = clock.now()
    member, hold = _lock_hold(hold)
    if hold.status in (Hold.Status.RELEASED, Hold.Status.EXPIRED):
        return hold
    if hold.status == Hold.Status.CONFIRMED:
        raise Unprocessable("The reservation was already confirmed.", field="hold")
    for lot_id, taken in hold.allocations:
        Lot._base_manager.filter(pk=lot_id).update(remaining=F("remaining") + taken)
    _post(
        member, kind=Entry.Kind.RELEASE, points=hold.points, now=now, actor=_actor(actor),
        balance_delta=hold.points, reserved_delta=-hold.points,
        reason=reason or ("Reservation expired" if expired else "Reservation released"),
        reference=hold.reference, metadata={"hold": hold.pk},
    )
    hold.status = Hold.Status.EXPIRED if expired else Hold.Status.RELEASED
    hold.settled_at = now
    hold.save(update_fields=["status", "settled_at"])
    return hold


@dataclass(frozen=True)
class Reversal:
    entry: Entry | None
    reversed_points: int
    shortfall: int


@transaction.atomic
def points_reverse(
    *,
    entry: Entry,
    points: int,
    actor: Actor | str,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Reversal:
    """Take back up to ``points`` of an earlier credit (a refund).

    Pending points go first (the credit's own lot while still pending), then what is left of
    that lot, then the member's other spendable points. The balance never goes below zero:
    what could not be taken back is the ``shortfall``, recorded on the entry.
    """
    _check_points(points)
    now = clock.now()
    member = lock_member(entry.member_id)
    lot = Lot._base_manager.filter(entry_id=entry.pk).first()
    pending_take = balance_take = 0
    allocations: list[list[int]] = []
    if lot is not None and lot.remaining > 0:
        own = min(lot.remaining, points)
        Lot._base_manager.filter(pk=lot.pk).update(remaining=F("remaining") - own)
        allocations.append([lot.pk, own])
        if lot.pending:
            pending_take = own
        else:
            balance_take = own
    still = points - pending_take - balance_take
    if still:
        more = min(still, member.balance - balance_take)
        if more > 0:
            allocations += _consume_lots(member, more)
            balance_take += more
    shortfall = points - pending_take - balance_take
    taken = pending_take + balance_take
    if taken == 0:
        return Reversal(entry=None, reversed_points=0, shortfall=shortfall)
    posted = _post(
        member, kind=Entry.Kind.REVERSE, points=-taken, now=now, actor=_actor(actor),
        balance_delta=-balance_take, pending_delta=-pending_take, reason=reason,
        reference=reference or entry.reference, reverses_id=entry.pk,
        metadata={**(metadata or {}), "lots": allocations, "requested": points,
                  "shortfall": shortfall},
    )
    return Reversal(entry=posted, reversed_points=taken, shortfall=shortfall)


@transaction.atomic
def points_expire_due(
    *, member: Member, actor: Actor | str = "system:expire", clock: Clock = system_clock
) -> Entry | None:
    """Expire what remains of the member's lots that are past ``expires_at``,
    or everything when the program expires on inactivity and the member has been inactive."""
    now = clock.now()
    member = lock_member(member.pk)
    program = member.program
    lots = Lot._base_manager.filter(member_id=member.pk, remaining__gt=0)
    if program.expiry_policy == Program.ExpiryPolicy.INACTIVITY:
        last = member.last_activity_at or member.enrolled_at
        if add_months(last, program.expiry_months) > now:
            lots = lots.filter(expires_at__lte=now)
    else:
        lots = lots.filter(expires_at__lte=now)
    due = list(lots.values_list("id", "remaining", "pending"))
    if not due:
        return None
    balance_take = sum(r for _, r, p in due if not p)
    pending_take = sum(r for _, r, p in due if p)
    Lot._base_manager.filter(pk__in=[i for i, _, _ in due]).update(remaining=0)
    return _post(
        member, kind=Entry.Kind.EXPIRE, points=-(balance_take + pending_take), now=now,
        actor=_actor(actor), balance_delta=-balance_take, pending_delta=-pending_take,
        reason="Points expired", metadata={"lots": [[i, r] for i, r, _ in due]},
    )


@transaction.atomic
def points_make_available(
    *, member: Member, actor: Actor | str = "system:pending", clock: Clock = system_clock
) -> Entry | None:
    """Make the member's pending lots whose ``available_at`` has passed spendable."""
    now = clock.now()
    member = lock_member(member.pk)
    due = list(
        Lot._base_manager.filter(member_id=member.pk, pending=True, available_at__lte=now)
        .values_list("id", "remaining")
    )
    if not due:
        return None
    Lot._base_manager.filter(pk__in=[i for i, _ in due]).update(pending=False)
    points = sum(r for _, r in due)
    if points == 0:
        return None  # fully reversed while pending: nothing becomes spendable
    return _post(
        member, kind=Entry.Kind.AVAILABLE, points=points, now=now, actor=_actor(actor),
        balance_delta=points, pending_delta=-points, lifetime_delta=points,
        reason="Pending points are now spendable", metadata={"lots": [list(d) for d in due]},
    )


@transaction.atomic
def points_expiry_warn(*, member: Member, clock: Clock = system_clock) -> int:
    """Emit ``points.expiring`` for each day the member's points expire within the program's
    warning days, once per member and day (``ExpiryWarning`` remembers, under the member
    lock). Returns how many warnings were sent."""
    now = clock.now()
    member = lock_member(member.pk)
    if member.status == Member.Status.INACTIVE:  # deactivated: no longer contacted
        return 0
    expiries = points_expiring(member=member, now=now)
    if not expiries:
        return 0
    warned = set(ExpiryWarning._base_manager.filter(
        member_id=member.pk, expires_on__in=[e.day for e in expiries]
    ).values_list("expires_on", flat=True))
    sent = 0
    for expiry in expiries:
        if expiry.day in warned:
            continue
        ExpiryWarning._base_manager.create(
            merchant_id=member.merchant_id, member_id=member.pk, expires_on=expiry.day,
            points=expiry.points, created_at=now,
        )
        emit("points.expiring", merchant_id=member.merchant_id, program_id=member.program_id,
             member_id=member.pk, at=now, data={
                 "points": expiry.points, "expires_on": expiry.day.isoformat(),
                 "expires_at": expiry.first_at,
             })
        sent += 1
    return sent


@dataclass(frozen=True)
class Opening:
    """One member's opening balance in a bulk posting: ``key`` is its natural idempotency key
    (unique in the program, e.g. ``import-opening:<external id>``), ``reference`` the entry's."""

    member_id: int
    points: int
    key: str
    reference: str = ""


_CLAIM_MANY_SQL = (
    "INSERT INTO {table} (merchant_id, program_id, key, fingerprint, status_code,"
    " response_body, created_at) {rows}"
    " ON CONFLICT (merchant_id, key) DO NOTHING RETURNING key"
)
_BULK_CHUNK = 20_000


def _claim_openings(
    *, program: Program, openings: list[Opening], now: datetime
) -> set[str]:
    """Claim every opening's key (``ledger.idempotency``'s key rows, ``'<program>:<key>'``)
    in set-based statements; returns the keys claimed here (the others were posted before,
    or by a concurrent import that now holds them). Each key's outcome is stored with it."""
    from django.db import connection

    from .idempotency import fingerprint
    from .models import IdempotencyKey

    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    prefix = f"{program.pk}:"
    claimed: set[str] = set()
    chunk_size = _BULK_CHUNK if connection.vendor == "postgresql" else 2000
    with connection.cursor() as cursor:
        for start in range(0, len(openings), chunk_size):
            chunk = openings[start:start + chunk_size]
            keys = [f"{prefix}{o.key}" for o in chunk]
            prints = [fingerprint("opening", o.member_id, o.points) for o in chunk]
            bodies = [json.dumps({"opening_points": o.points}) for o in chunk]
            if connection.vendor == "postgresql":
                rows = ("SELECT %s, %s, v.k, v.f, 201, v.b::jsonb, %s FROM unnest("
                        "%s::text[], %s::text[], %s::text[]) AS v(k, f, b)")
                params = [program.merchant_id, program.pk, now, keys, prints, bodies]
            else:
                rows = "VALUES " + ", ".join(["(%s, %s, %s, %s, 201, %s, %s)"] * len(chunk))
                params = [value for k, f, b in zip(keys, prints, bodies, strict=True)
                          for value in (program.merchant_id, program.pk, k, f, b, now)]
            cursor.execute(_CLAIM_MANY_SQL.format(table=table, rows=rows), params)
            claimed.update(row[0] for row in cursor.fetchall())
    return {key.removeprefix(prefix) for key in claimed}


@dataclass(frozen=True)
class _Figures:
    program_id: int
    status: str
    balance: int
    pending_points: int
    reserved_points: int
    lifetime_points: int


def _lock_figures(member_ids: list[int]) -> dict[int, _Figures]:
    """Lock many member rows in primary-key order (``ledger.locking``'s rule) and read the
    figures a bulk posting needs, without a model instance per member."""
    figures: dict[int, _Figures] = {}
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), _BULK_CHUNK):
        rows = (
            Member._base_manager.select_for_update()
            .filter(pk__in=ids[start:start + _BULK_CHUNK]).order_by("pk")
            .values_list("pk", "program_id", "status", "balance", "pending_points",
                         "reserved_points", "lifetime_points")
        )
        figures.update((row[0], _Figures(*row[1:])) for row in rows)
    return figures


@dataclass(frozen=True)
class _After:
    """A member's figures right after a bulk posting (and, numbered, their event's number and
    figures as events carry them)."""

    balance: int
    pending_points: int
    reserved_points: int
    lifetime_points: int
    sequence: int | None = None
    figures: dict[str, Any] | None = None


_LOCK_SQL = (
    "SELECT m.id FROM {member} m JOIN unnest(%s::bigint[]) AS u(id) ON m.id = u.id"
    " ORDER BY m.id FOR UPDATE OF m"
)


def _bump_sql(numbered: bool) -> str:
    """The members' new figures (and event numbers), driven by the given ids (the primary
    key), never by a scan of the program's members; whether each may be credited is read
    back from ``RETURNING`` (a refusal rolls the whole posting back)."""
    from django.db import connection

    from events.outbox import member_figures_sql
    from members.models import Customer

    member = connection.ops.quote_name(Member._meta.db_table)
    customer = connection.ops.quote_name(Customer._meta.db_table)
    bump = ", event_sequence = m.event_sequence + 1" if numbered else ""
    return f"""UPDATE {member} m
SET balance = m.balance + v.p, lifetime_points = m.lifetime_points + v.p{bump}
FROM unnest(%(ids)s::bigint[], %(points)s::bigint[]) AS v(id, p), {customer} c
WHERE m.id = v.id AND c.id = m.customer_id
RETURNING m.id, m.program_id, m.status, m.balance, m.pending_points, m.reserved_points,
          m.lifetime_points, m.event_sequence, {member_figures_sql("m", "c")}"""


def _bump_members(
    *, program: Program, openings: list[Opening], numbered: bool
) -> dict[int, _After]:
    """Add each opening's points to its member's balance and lifetime points, under the row
    locks (taken in primary-key order), refusing the whole batch when a member is not an
    active member of ``program``. On PostgreSQL one statement per 20,000 members, which also
    numbers their next event when ``numbered`` (``events.outbox.emit_numbered``)."""
    from django.db import connection

    after: dict[int, _After] = {}
    if connection.vendor == "postgresql":
        member_table = connection.ops.quote_name(Member._meta.db_table)
        ids = sorted(o.member_id for o in openings)
        by_id = {o.member_id: o for o in openings}
        with connection.cursor() as cursor:
            for start in range(0, len(ids), _BULK_CHUNK):
                chunk = ids[start:start + _BULK_CHUNK]
                cursor.execute(_LOCK_SQL.format(member=member_table), [chunk])
                cursor.execute(_bump_sql(numbered), {
                    "ids": chunk, "points": [by_id[i].points for i in chunk],
                })
                for row in cursor.fetchall():
                    member_id, program_id, status = row[:3]
                    if program_id != program.pk:
                        raise ValidationFailed(f"Member {member_id} is not in {program}.",
                                               field="member")
                    if status != Member.Status.ACTIVE:
                        raise MemberInactive(f"Member {member_id} is {status}.",
                                             field="member")
                    figures = row[8] if isinstance(row[8], dict) else json.loads(row[8])
                    after[member_id] = _After(*row[3:7], sequence=row[7] if numbered else None,
                                              figures=figures if numbered else None)
        missing = [i for i in ids if i not in after]
        if missing:
            raise ValidationFailed(f"Member {missing[0]} is not in {program}.", field="member")
        return after
    figures = _lock_figures([o.member_id for o in openings])
    for o in openings:
        member = figures.get(o.member_id)
        if member is None or member.program_id != program.pk:
            raise ValidationFailed(f"Member {o.member_id} is not in {program}.", field="member")
        if member.status != Member.Status.ACTIVE:
            raise MemberInactive(f"Member {o.member_id} is {member.status}.", field="member")
    table = connection.ops.quote_name(Member._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET balance = balance + %s,"
            " lifetime_points = lifetime_points + %s WHERE id = %s",
            [(o.points, o.points, o.member_id) for o in openings],
        )
    return {
        o.member_id: _After(
            balance=figures[o.member_id].balance + o.points,
            pending_points=figures[o.member_id].pending_points,
            reserved_points=figures[o.member_id].reserved_points,
            lifetime_points=figures[o.member_id].lifetime_points + o.points,
        )
        for o in openings
    }


def points_open_bulk(
    *,
    program: Program,
    openings: list[Opening],
    actor: Actor | str,
    reason: str = "Opening balance (import)",
    clock: Clock = system_clock,
) -> dict[int, Entry]:
    """Post many members' opening balances (an import), set-based, in one transaction.

    Each opening is one ``adjust`` entry with ``reason`` and one spendable lot (the program's
    expiry applies from now), exactly what ``points_adjust`` writes for a positive correction,
    and each is applied at most once: its natural key is claimed in ``ledger.idempotency``'s
    table first, and an opening whose key is taken already writes nothing. The members are
    locked in primary-key order; an opening for a member who is not active, or of another
    program, is refused (``MemberInactive``, ``ValidationFailed``) and nothing is written.
    Entries, lots and the figures are written by a few statements per 20,000 members
    (``loyaltysite.bulk``), not several per member: on PostgreSQL the members' figures and
    their next event number change in one UPDATE whose ``RETURNING`` gives the events their
    figures (``events.outbox.emit_numbered``), so each member row is written once. The
    after-post hooks hear each entry as they would one by one.

    Returns the posted entries by member id (members whose key was taken are absent).
    """
    from django.db import connection

    from events.outbox import emit_many, emit_numbered
    from loyaltysite.bulk import insert_rows

    if not openings:
        return {}
    for opening in openings:
        _check_points(opening.points)
    if len({o.member_id for o in openings}) != len(openings):
        raise ValidationFailed("One opening balance per member.", field="member")
    now = clock.now()
    label = _actor(actor)[:128]
    with transaction.atomic():
        claimed = _claim_openings(program=program, openings=openings, now=now)
        todo = [o for o in openings if o.key in claimed]
        if not todo:
            return {}
        event_type = events.event_type_for(Entry.Kind.ADJUST)
        numbered = bool(event_type) and connection.vendor == "postgresql"
        after = _bump_members(program=program, openings=todo, numbered=numbered)
        rows = insert_rows(Entry, {
            "member_id": [o.member_id for o in todo], "points": [o.points for o in todo],
            "balance_delta": [o.points for o in todo],
            "balance_after": [after[o.member_id].balance for o in todo],
            "reference": [o.reference[:128] for o in todo],
        }, same={
            "merchant_id": program.merchant_id, "program_id": program.pk,
            "kind": Entry.Kind.ADJUST.value, "actor": label, "reason": reason[:255],
            "metadata": {"opening_balance": True}, "created_at": now,
        })
        entries = [
            Entry(id=row[0], merchant_id=program.merchant_id, program_id=program.pk,
                  member_id=o.member_id, kind=Entry.Kind.ADJUST, points=o.points,
                  balance_delta=o.points, balance_after=after[o.member_id].balance,
                  reference=o.reference[:128], actor=label, reason=reason[:255],
                  metadata={"opening_balance": True}, created_at=now)
            for row, o in zip(rows, todo, strict=True)
        ]
        expires_at = expiry_for(program, now)
        insert_rows(Lot, {
            "member_id": [e.member_id for e in entries], "entry_id": [e.pk for e in entries],
            "points": [e.points for e in entries], "remaining": [e.points for e in entries],
        }, same={
            "merchant_id": program.merchant_id, "pending": False, "available_at": now,
            "expires_at": expires_at, "created_at": now,
        })
        if numbered:
            emit_numbered(event_type, merchant_id=program.merchant_id, program_id=program.pk,
                          clock=clock, events=[
                              (e.member_id, after[e.member_id].sequence,
                               {"entry": events.entry_payload(e),
                                "member": after[e.member_id].figures})
                              for e in entries
                          ])
        elif event_type:
            emit_many(event_type, merchant_id=program.merchant_id, program_id=program.pk,
                      clock=clock,
                      members=[(e.member_id, {"entry": events.entry_payload(e)})
                               for e in entries])
        if hooks.active():
            for e in entries:
                figures = after[e.member_id]
                hooks.after_post(hooks.Posted(
                    entry=e, member_id=e.member_id, merchant_id=program.merchant_id,
                    program_id=program.pk, balance=figures.balance,
                    pending_points=figures.pending_points,
                    reserved_points=figures.reserved_points,
                    lifetime_points=figures.lifetime_points, lifetime_delta=e.points,
                ))
        return {e.member_id: e for e in entries}


# ---------------------------------------------------------------------------------------------
# Set-based credits (a batch of orders)


@dataclass
class Posting:
    """One credit of ``points_credit_set``. ``member`` is locked by the caller (with its
    customer), and the same instance serves every posting of that member. ``points`` may be 0:
    nothing is posted, but the member's next ``events_after`` event numbers are still reserved
    for the caller's own events (an order's ``order.recorded``).

    Filled in by ``points_credit_set``: ``entry`` (``None`` for 0 points), ``sequences`` (the
    reserved event numbers), ``figures`` (the member's figures after it, as events carry them)
    and ``member_after`` (a copy of the member with those figures, for an answer)."""

    member: Member
    points: int
    actor: str
    reason: str = ""
    reference: str = ""
    rule_id: int | None = None
    metadata: dict[str, Any] | None = None
    events_after: int = 0
    entry: Entry | None = None
    sequences: tuple[int, ...] = ()
    figures: dict[str, Any] | None = None
    member_after: Member | None = None
    earned_sequence: int | None = None


_SET_UPDATE_SQL = """UPDATE {member} m SET
    balance = m.balance + v.b, pending_points = m.pending_points + v.p,
    lifetime_points = m.lifetime_points + v.l, event_sequence = m.event_sequence + v.s,
    last_activity_at = CASE WHEN v.t THEN %s::timestamptz ELSE m.last_activity_at END
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],
            %s::boolean[]) AS v(id, b, p, l, s, t)
WHERE m.id = v.id
RETURNING m.id, m.balance, m.pending_points, m.lifetime_points, m.event_sequence"""


def points_credit_set(*, program: Program, postings: list[Posting], clock: Clock) -> None:
    """Post many members' earn credits at once, each exactly what ``points_credit`` (the
    program's pending period and expiry, lifetime points counted) would post, in the order
    given: a statement per table for the whole set instead of one per credit.

    The caller holds every member's row lock (taken in primary-key order) and has checked they
    are active members of ``program``; the figures are computed here from the locked rows, so
    each entry's ``balance_after`` and each event's number and figures are those the postings
    one by one would have written. On PostgreSQL one UPDATE writes every member's figures and
    its ``RETURNING`` is held against them (a disagreement rolls everything back). The
    after-post hooks hear each entry, in order, after the writes."""
    from django.db import connection

    from events.outbox import emit_numbered, member_figures
    from loyaltysite.bulk import insert_rows

    if not postings:
        return
    now = clock.now()
    days = program.pending_days
    available_at = now + timedelta(days=days)
    pending = available_at > now
    expires_at = expiry_for(program, now)
    event_type = events.event_type_for(Entry.Kind.EARN)
    start: dict[int, tuple[int, int, int, int]] = {}
    credited: list[Posting] = []
    for posting in postings:
        member = posting.member
        if member.program_id != program.pk or member.status != Member.Status.ACTIVE:
            raise MemberInactive(f"Member {member.card_id_display} is {member.status}.",
                                 field="member")
        if posting.points:
            _check_points(posting.points)
        start.setdefault(member.pk, (member.balance, member.pending_points,
                                     member.lifetime_points, member.event_sequence))
        if posting.points:
            member.balance += 0 if pending else posting.points
            member.pending_points += posting.points if pending else 0
            member.lifetime_points += 0 if pending else posting.points
            member.last_activity_at = now
            posting.entry = Entry(
                merchant_id=program.merchant_id, program_id=program.pk, member_id=member.pk,
                kind=Entry.Kind.EARN, points=posting.points,
                balance_delta=0 if pending else posting.points,
                pending_delta=posting.points if pending else 0, reserved_delta=0,
                balance_after=member.balance, reference=posting.reference[:128],
                rule_id=posting.rule_id, reverses_id=None, actor=posting.actor[:128],
                reason=posting.reason[:255], metadata=posting.metadata or {}, created_at=now,
            )
            if event_type:
                member.event_sequence += 1
                posting.earned_sequence = member.event_sequence
            credited.append(posting)
        posting.sequences = tuple(member.event_sequence + n
                                  for n in range(1, posting.events_after + 1))
        member.event_sequence += posting.events_after
        posting.figures = member_figures(member)
        posting.member_after = copy.copy(member)
    _write_figures(postings, start, now)
    entries = [p.entry for p in credited]
    rows = insert_rows(Entry, {
        name: [getattr(e, name) for e in entries]
        for name in ("member_id", "points", "balance_delta", "pending_delta", "balance_after",
                     "reference", "rule_id", "actor", "reason", "metadata")
    }, same={"merchant_id": program.merchant_id, "program_id": program.pk,
             "kind": Entry.Kind.EARN.value, "reserved_delta": 0, "created_at": now})
    for entry, (pk,) in zip(entries, rows, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias
    insert_rows(Lot, {
        "member_id": [e.member_id for e in entries], "entry_id": [e.pk for e in entries],
        "points": [e.points for e in entries], "remaining": [e.points for e in entries],
    }, same={"merchant_id": program.merchant_id, "pending": pending,
             "available_at": available_at, "expires_at": expires_at, "created_at": now})
    if event_type and credited:
        emit_numbered(event_type, merchant_id=program.merchant_id, program_id=program.pk,
                      clock=FrozenClock(now), events=[
                          (p.member.pk, p.earned_sequence,
                           {"entry": events.entry_payload(p.entry), "member": p.figures})
                          for p in credited
                      ])
    if hooks.active():
        for posting in credited:
            after = posting.member_after
            hooks.after_post(hooks.Posted(
                entry=posting.entry, member_id=after.pk, merchant_id=program.merchant_id,
                program_id=program.pk, balance=after.balance,
                pending_points=after.pending_points, reserved_points=after.reserved_points,
                lifetime_points=after.lifetime_points,
                lifetime_delta=posting.entry.balance_delta,
            ))


def _write_figures(postings: list[Posting], start: dict[int, tuple[int, int, int, int]],
                   now: datetime) -> None:
    """Each member's figures after the set, as deltas from the locked row (one statement on
    PostgreSQL, checked against the figures computed in Python)."""
    from django.db import connection

    members = {p.member.pk: p.member for p in postings}
    active = {p.member.pk for p in postings if p.points}
    ids = sorted(members)
    deltas = []
    for pk in ids:
        member, (balance, pending, lifetime, sequence) = members[pk], start[pk]
        deltas.append((member.balance - balance, member.pending_points - pending,
                       member.lifetime_points - lifetime, member.event_sequence - sequence,
                       pk in active))
    table = connection.ops.quote_name(Member._meta.db_table)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET balance = balance + %s, pending_points = pending_points + %s,"
                " lifetime_points = lifetime_points + %s, event_sequence = event_sequence + %s"
                " WHERE id = %s",  # the table name only
                [(*d[:4], pk) for pk, d in zip(ids, deltas, strict=True)],
            )
            touched = [pk for pk, d in zip(ids, deltas, strict=True) if d[4]]
            if touched:
                Member._base_manager.filter(pk__in=touched).update(last_activity_at=now)
        return
    with connection.cursor() as cursor:
        cursor.execute(_SET_UPDATE_SQL.format(member=table), [
            now, ids, *([d[n] for d in deltas] for n in range(5)),
        ])
        written = {row[0]: row[1:] for row in cursor.fetchall()}
    for pk in ids:
        member = members[pk]
        expected = (member.balance, member.pending_points, member.lifetime_points,
                    member.event_sequence)
        if written.get(pk) != expected:
            raise RuntimeError(f"member {pk}'s figures moved under a set-based posting: "
                               f"{written.get(pk)} written, {expected} expected")
