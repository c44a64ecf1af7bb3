"""Read paths of the customer portal: a signed-in person's own enrolments, across merchants.

A customer can be known to several merchants; the portal shows all of their programs at once,
so these reads run with the tenant scope disabled and filter explicitly by the user instead.
Nothing here ever returns a row whose customer is not linked to ``user``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from ledger.models import Entry, Hold
from loyaltysite.errors import MemberNotFound
from loyaltysite.ids import parse_id

from .models import Member, Program, normalize_card_id


def member_list_for_user(*, user) -> QuerySet[Member]:
    """Every live enrolment of the customer records linked to ``user``."""
    members = Member.objects.with_scopes_disabled()
    if not getattr(user, "is_authenticated", False):
        return members.none()
    return (
        members.filter(customer__user=user, program__deleted_at__isnull=True)
        .select_related("program", "tier", "customer", "merchant")
        .order_by("merchant__name", "program__name", "id")
    )


def member_get_for_user(*, user, card_id: str) -> Member:
    """``user``'s enrolment with this card id; anyone else's answers ``MEMBER_NOT_FOUND``."""
    try:
        return member_list_for_user(user=user).get(card_id=normalize_card_id(card_id))
    except Member.DoesNotExist:
        raise MemberNotFound(field="card_id") from None


def program_open_for_sign_up(*, program_id: object) -> Program | None:
    """A live, active program anyone may join from the portal (``None`` otherwise)."""
    pk = parse_id(program_id)
    if pk is None:
        return None
    return (
        Program.objects.with_scopes_disabled()
        .select_related("merchant")
        .filter(pk=pk, deleted_at__isnull=True, is_active=True, merchant__is_active=True)
        .first()
    )


# --- The member's history as a customer reads it -------------------------------------------

# Entries that move points between a member's own buckets (spendable, pending, on hold): they
# change nothing of what the member holds in all, so they never move the running total.
TRANSFER_KINDS = ("reserve", "release", "available")


@dataclass
class HistoryRow:
    """One line of the portal history.

    ``state`` is what the customer reads: ``earned`` (maybe ``pending_until`` a day),
    ``redeemed``, ``on_hold`` (a reservation not yet confirmed: shown, not counted),
    ``cancelled`` (a reservation released or expired: shown, not counted), ``expired``,
    ``reversed``, ``adjusted``. ``total_after`` is the member's points in all (spendable,
    pending and on hold) after the row, so each row's total is the one below it plus its
    ``points`` when it ``counts``.
    """

    entry: Entry
    state: str
    points: int
    counts: bool
    total_after: int = 0
    pending_until: datetime | None = None
    hold_until: datetime | None = None
    returned_at: datetime | None = None

    @property
    def created_at(self) -> datetime:
        return self.entry.created_at

    @property
    def reason(self) -> str:
        return self.entry.reason


STATES = {"earn": "earned", "adjust": "adjusted", "redeem": "redeemed", "expire": "expired",
          "reverse": "reversed"}


def _hold_of_reserve() -> QuerySet[Hold]:
    """The hold a reserve entry opened: same member, same moment, same points (a reserve entry
    and its hold are written together by ``ledger.services.points_reserve``)."""
    return Hold._base_manager.filter(
        member_id=OuterRef("member_id"), created_at=OuterRef("created_at"),
        points=OuterRef("points") * -1,
    )


def history_entries(*, member: Member) -> QuerySet[Entry]:
    """The entries the portal history shows, newest first.

    Left out: ``available`` (shown on its earn row as the day it became spendable), ``release``
    (its reservation's row says "cancelled"), and a reservation that was confirmed (its
    ``redeem`` entry is the one row of that redemption).
    """
    confirmed = _hold_of_reserve().filter(status=Hold.Status.CONFIRMED)
    return (
        Entry._base_manager.filter(member_id=member.pk, merchant_id=member.merchant_id)
        .exclude(kind__in=["available", "release"])
        .exclude(Q(kind="reserve") & Exists(confirmed))
        .select_related("lot")
        .order_by("-created_at", "-id")
    )


def history_rows(*, member: Member, entries: list[Entry]) -> list[HistoryRow]:
    """``entries`` (one page of ``history_entries``) as rows with a running total.

    The total above the page's first row is the member's points in all, less what every newer
    counted entry added; each row below is the one above less the points the above one moved.
    """
    if not entries:
        return []
    first = entries[0]
    newer = Entry._base_manager.filter(member_id=member.pk).exclude(kind__in=TRANSFER_KINDS)
    newer = newer.filter(
        Q(created_at__gt=first.created_at) | Q(created_at=first.created_at, id__gt=first.id)
    ).aggregate(s=Coalesce(Sum("points"), 0))["s"]
    total = member.balance + member.pending_points + member.reserved_points - newer
    holds = _holds_for(member, [e for e in entries if e.kind == "reserve"])
    rows = []
    for entry in entries:
        row = _row(entry, holds)
        row.total_after = total
        if row.counts:
            total -= row.points
        rows.append(row)
    return rows


def _holds_for(member: Member, reserves: list[Entry]) -> dict[tuple, Hold]:
    if not reserves:
        return {}
    moments = {e.created_at for e in reserves}
    found = Hold._base_manager.filter(member_id=member.pk, created_at__in=moments).order_by("id")
    return {(h.created_at, -h.points): h for h in found}


def _row(entry: Entry, holds: dict[tuple, Hold]) -> HistoryRow:
    if entry.kind == "reserve":
        hold = holds.get((entry.created_at, entry.points))
        if hold is not None and hold.status == Hold.Status.ACTIVE:
            return HistoryRow(entry=entry, state="on_hold", points=entry.points, counts=False,
                              hold_until=hold.expires_at)
        return HistoryRow(entry=entry, state="cancelled", points=entry.points, counts=False,
                          returned_at=hold.settled_at if hold is not None else None)
    row = HistoryRow(entry=entry, state=STATES.get(entry.kind, entry.kind),
                     points=entry.points, counts=True)
    if entry.kind == "earn" and entry.pending_delta > 0:
        lot = getattr(entry, "lot", None)
        if lot is not None and lot.pending:
            row.pending_until = lot.available_at
    return row
