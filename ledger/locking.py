"""Row locking for the ledger, in one place.

Every writer of a member's points locks the member row first. Several members are always
locked in primary-key order, so two operations touching the same pair can never deadlock.
On SQLite ``select_for_update`` is a no-op; the database-wide write lock serialises instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.db import connection

from loyaltysite.db import RowReader, prepared_cursor
from members.models import Member, Program

_MEMBER = RowReader(Member)
_PROGRAM = RowReader(Program)


@cache
def _lock_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    sql = (f"SELECT {_MEMBER.columns('m')}, {_PROGRAM.columns('p')}"
           f" FROM {quote(Member._meta.db_table)} m"
           f" JOIN {quote(Program._meta.db_table)} p ON p.id = m.program_id WHERE m.id = %s")
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF m"
    return sql  # names only: the id is a parameter


def lock_member(member_id: int) -> Member:
    """Lock one member row (``SELECT ... FOR UPDATE``) and return it fresh, with its program.

    Every redemption and adjustment starts here: one prepared statement, not an ORM query
    compiled each time."""
    with prepared_cursor() as cursor:
        cursor.execute(_lock_sql(connection.vendor), [member_id])
        row = cursor.fetchone()
    if row is None:
        raise Member.DoesNotExist(f"Member {member_id} does not exist.")
    member = _MEMBER.build(row[:_MEMBER.width])
    member._state.fields_cache["program"] = _PROGRAM.build(row[_MEMBER.width:])
    return member


def lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Lock several member rows in primary-key order; returns them by id."""
    ids = sorted(set(member_ids))
    rows = (
        Member._base_manager.select_related("program")
        .select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {m.pk: m for m in rows}
