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

from collections.abc import Iterator
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
