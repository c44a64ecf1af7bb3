"""Read paths for members and programs. All of them run inside a merchant scope."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from loyaltysite.db import RowReader, prepared_cursor
from loyaltysite.errors import MemberNotFound, NotFound
from loyaltysite.ids import is_ascii_digits, parse_id

from .models import (
    Customer,
    Member,
    Merchant,
    Program,
    card_id_is_valid,
    normalize_card_id,
)


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


def member_get(*, program: Program, ident: int | str, lock: bool = False) -> Member:
    """A member of ``program`` by id, or by card id (with or without dashes).

    ``lock``: ``SELECT ... FOR UPDATE`` of the member row (in the caller's transaction), so the
    figures read are the latest and stay so until it ends: the find and the lock in one query.
    """
    text = str(ident)
    try:
        if is_ascii_digits(text) and len(text) < 16:
            return _member_by(program, "id", int(text), lock)
        card_id = normalize_card_id(text)
        if not card_id_is_valid(card_id):
            raise Member.DoesNotExist
        return _member_by(program, "card_id", card_id, lock)
    except Member.DoesNotExist:
        raise MemberNotFound(field="member") from None


def member_find(
    *, program: Program, member_id: int | str | None = None, external_id: str | None = None,
    card_id: str | None = None, lock: bool = False,
) -> Member:
    """The member a request names by member id, external id or card id (``lock``: as above)."""
    try:
        if member_id not in (None, ""):
            return member_get(program=program, ident=member_id, lock=lock)
        if external_id:
            return _member_by(program, "external_id", external_id, lock)
        if card_id:
            normalized = normalize_card_id(card_id)
            if not card_id_is_valid(normalized):
                raise Member.DoesNotExist
            return _member_by(program, "card_id", normalized, lock)
    except Member.DoesNotExist:
        raise MemberNotFound(field="external_id" if external_id else "card_id") from None
    raise MemberNotFound("Name the member by member, external_id or card_id.", field="member")


# The member look-up every checkout request makes, as ``member_list`` would run it (the
# member with its customer and tier), in one prepared statement: compiling the ORM query
# cost more than a millisecond of CPU per request, several times what PostgreSQL spends.
_MEMBER = RowReader(Member)
_CUSTOMER = RowReader(Customer)
_TIER = RowReader(Member._meta.get_field("tier").related_model)
_BY = {"id": "m.id", "card_id": "m.card_id", "external_id": "c.external_id"}


@cache
def _member_sql(by: str, lock: bool, vendor: str) -> str:
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {_MEMBER.columns('m')}, {_CUSTOMER.columns('c')}, {_TIER.columns('t')}"
        f" FROM {quote(Member._meta.db_table)} m"
        f" JOIN {quote(Customer._meta.db_table)} c ON c.id = m.customer_id"
        f" LEFT JOIN {quote(_TIER.model._meta.db_table)} t ON t.id = m.tier_id"
        f" WHERE m.program_id = %s AND {_BY[by]} = %s"
    )  # names only: the values are parameters
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF m"
    return sql + " LIMIT 2"


def _member_by(program: Program, by: str, value: object, lock: bool) -> Member:
    with prepared_cursor() as cursor:
        cursor.execute(_member_sql(by, lock, connection.vendor), [program.pk, value])
        rows = cursor.fetchall()
    if not rows:
        raise Member.DoesNotExist
    if len(rows) > 1:
        raise Member.MultipleObjectsReturned(f"{len(rows)} members of {program} by {by}")
    row = rows[0]
    customer_at = _MEMBER.width
    tier_at = customer_at + _CUSTOMER.width
    member = _MEMBER.build(row[:customer_at])
    member._state.fields_cache.update(
        customer=_CUSTOMER.build(row[customer_at:tier_at]), tier=_TIER.build(row[tier_at:]),
        program=program,
    )
    return member
