"""Read paths for members and programs. All of them run inside a merchant scope."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from loyaltysite.errors import MemberNotFound, NotFound
from loyaltysite.ids import is_ascii_digits, parse_id

from .models import Member, Merchant, Program, card_id_is_valid, normalize_card_id


def program_list(*, merchant: Merchant | int) -> QuerySet[Program]:
    return Program.objects.filter(merchant=merchant, deleted_at__isnull=True).order_by("id")


def program_get(*, merchant: Merchant | int, program_id: int | str) -> Program:
    """The merchant's program (every API request under ``/programs/{id}/`` reads it).

    Plain SQL: compiling the ORM query cost more than running it. The merchant condition is in
    the query itself, so another merchant's program is not found, scope or no scope.
    """
    pk = parse_id(program_id)
    if pk is None:
        raise NotFound("Program not found.", field="program")
    merchant_id = merchant.pk if isinstance(merchant, Merchant) else int(merchant)
    table = connection.ops.quote_name(Program._meta.db_table)
    found = list(Program._base_manager.raw(
        f"SELECT * FROM {table} WHERE id = %s AND merchant_id = %s AND deleted_at IS NULL",
        [pk, merchant_id],
    ))  # only the table name is formatted in
    if not found:
        raise NotFound("Program not found.", field="program")
    return found[0]


def member_list(*, program: Program) -> QuerySet[Member]:
    return (
        Member.objects.filter(program=program)
        .select_related("customer", "tier")
        .order_by("id")
    )


def _members(program: Program, lock: bool) -> QuerySet[Member]:
    qs = member_list(program=program)
    return qs.select_for_update(of=("self",)) if lock else qs


def member_get(*, program: Program, ident: int | str, lock: bool = False) -> Member:
    """A member of ``program`` by id, or by card id (with or without dashes).

    ``lock``: ``SELECT ... FOR UPDATE`` of the member row (in the caller's transaction), so the
    figures read are the latest and stay so until it ends: the find and the lock in one query.
    """
    qs = _members(program, lock)
    text = str(ident)
    try:
        if is_ascii_digits(text) and len(text) < 16:
            return qs.get(pk=int(text))
        card_id = normalize_card_id(text)
        if not card_id_is_valid(card_id):
            raise Member.DoesNotExist
        return qs.get(card_id=card_id)
    except Member.DoesNotExist:
        raise MemberNotFound(field="member") from None


def member_find(
    *, program: Program, member_id: int | str | None = None, external_id: str | None = None,
    card_id: str | None = None, lock: bool = False,
) -> Member:
    """The member a request names by member id, external id or card id (``lock``: as above)."""
    qs = _members(program, lock)
    try:
        if member_id not in (None, ""):
            return member_get(program=program, ident=member_id, lock=lock)
        if external_id:
            return qs.get(customer__external_id=external_id)
        if card_id:
            normalized = normalize_card_id(card_id)
            if not card_id_is_valid(normalized):
                raise Member.DoesNotExist
            return qs.get(card_id=normalized)
    except Member.DoesNotExist:
        raise MemberNotFound(field="external_id" if external_id else "card_id") from None
    raise MemberNotFound("Name the member by member, external_id or card_id.", field="member")
