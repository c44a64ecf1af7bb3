"""Prepared statements for the hot paths' own SQL.

Django's psycopg backend binds parameters on the client and sends every statement as text,
so PostgreSQL parses, analyses and plans it on every execution. For the ledger's single-
statement earn (five data-modifying CTEs with the outbox) that work takes longer than the
execution itself: replayed by pgbench, the earn costs 1.35 ms sent as text and 0.41 ms
prepared, and the outbox's share of it falls from +70% to about +20%.

``prepared_cursor`` is a Django cursor (execute wrappers, the query log and error wrapping all
apply) over a psycopg cursor that binds on the server, so psycopg prepares a statement the
second time the connection runs it (``prepare_threshold``, see settings) and afterwards sends
only its name and parameters. Only hand-written statements use it: the ORM's queries stay on
client-side binding (Django does not yet generate SQL that is always preparable, #20516).

Without PostgreSQL, with ``DB_PREPARED_STATEMENTS=False`` (a pooler in transaction mode that
does not track prepared statements), or while queries are logged (``DEBUG``, or a test's
``CaptureQueriesContext``: the log shows each statement with its values, which only the
client-binding cursor composes), it is the ordinary cursor. Both send the same SQL and the
same values; the tests run the prepared path wherever they do not capture queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from django.db.backends.utils import CursorWrapper


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    if (connection.vendor != "postgresql" or connection.queries_logged
            or connection.settings_dict["OPTIONS"].get("prepare_threshold") is None):
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection._prepare_cursor(ServerBindingCursor(connection.connection))
    with cursor:
        yield cursor


class RowReader:
    """Model instances from a hand-written query's rows, converted as the ORM converts them.

    For the hot paths that select a few joined rows with one prepared statement instead of
    compiling an ORM query each time: ``columns(alias)`` is the select list of the model's
    concrete fields, ``build(values)`` the instance (``None`` for a LEFT JOIN that found
    nothing), with each value through the backend's and the field's converters, as
    ``SQLCompiler`` applies them (dates on SQLite, JSON, decimals).
    """

    def __init__(self, model: type) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        self.attnames = [f.attname for f in self.fields]
        self.width = len(self.fields)
        self._pk = self.fields.index(model._meta.pk)
        self._converters: dict[str, list[tuple[int, list, object]]] = {}

    def columns(self, alias: str) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)

    def _converters_for(self) -> list[tuple[int, list, object]]:
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                col = field.get_col(self.model._meta.db_table)
                converters = (connection.ops.get_db_converters(col)
                              + col.get_db_converters(connection))
                if converters:
                    found.append((index, converters, col))
            self._converters[connection.vendor] = found
        return found

    def build(self, values: Sequence[object]):
        if values[self._pk] is None:  # no primary key: a LEFT JOIN found nothing
            return None
        values = list(values)
        for index, converters, col in self._converters_for():
            for convert in converters:
                values[index] = convert(values[index], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def _insert_parts(model: type) -> tuple[str, list]:
    """``INSERT INTO table (columns)`` of every concrete field but the primary key."""
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk]
    head = (f"INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)})")
    return head, fields


def _insert_values(obj, fields: list) -> list:
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def insert(obj):
    """``obj.save(force_insert=True)`` for a hot path's row, as one prepared statement on
    PostgreSQL: each field's value is prepared as the ORM prepares it (``pre_save``, then
    ``get_db_prep_save``), the primary key comes back from ``RETURNING``. No signals are sent
    (the hot paths' models have no receivers). Elsewhere it is the ORM's insert."""
    if connection.vendor != "postgresql":
        obj.save(force_insert=True)
        return obj
    head, fields = _insert_parts(type(obj))
    sql = (f"{head} VALUES ({', '.join(['%s'] * len(fields))}) "
           f"RETURNING {connection.ops.quote_name(obj._meta.pk.column)}")
    with prepared_cursor() as cursor:
        cursor.execute(sql, _insert_values(obj, fields))
        inserted(obj, cursor.fetchone()[0])
    return obj


def insert_cte(obj, name: str) -> tuple[str, dict[str, object]]:
    """``insert`` as a data-modifying CTE ``name`` (PostgreSQL) for a bigger statement: its
    SQL (``name AS (INSERT ... RETURNING id)``) and named parameters (``{name}_0`` ...).
    Give the primary key it returns to ``inserted``."""
    head, fields = _insert_parts(type(obj))
    names = [f"{name}_{index}" for index in range(len(fields))]
    sql = (f"{name} AS ({head} VALUES ({', '.join(f'%({n})s' for n in names)}) "
           f"RETURNING {connection.ops.quote_name(obj._meta.pk.column)})")
    return sql, dict(zip(names, _insert_values(obj, fields), strict=True))


def inserted(obj, pk: object) -> None:
    """Mark ``obj`` as the stored row ``pk``."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
