"""The hot paths' statements are prepared once per connection on PostgreSQL (parsing and
planning an earn's statement cost more than running it), and are ordinary elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection

from ledger import services
from loyaltysite.db import prepared_cursor

pytestmark = pytest.mark.django_db


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are "
                    "PostgreSQL's")
def test_an_earn_runs_as_a_prepared_statement_from_its_second_time(member):
    services.points_credit(member=member, points=5, actor="t")
    services.points_credit(member=member, points=5, actor="t")
    services.points_credit(member=member, points=5, actor="t")

    earns = [s for s in _prepared_statements() if "INSERT INTO ledger_entry" in s]
    assert len(earns) == 1
    member.refresh_from_db()
    assert member.balance == 15


def test_without_prepared_statements_it_is_the_ordinary_cursor(member):
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("prepare_threshold")
    options["prepare_threshold"] = None  # DB_PREPARED_STATEMENTS=False
    try:
        with prepared_cursor() as cursor, connection.cursor() as ordinary:
            assert type(cursor.cursor) is type(ordinary.cursor)
            cursor.execute("SELECT %s + 1", [41])
            assert cursor.fetchone()[0] == 42
        services.points_credit(member=member, points=5, actor="t")
    finally:
        options["prepare_threshold"] = saved
    member.refresh_from_db()
    assert member.balance == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are "
                    "PostgreSQL's")
def test_a_prepared_statement_is_not_used_while_queries_are_logged(member):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        services.points_credit(member=member, points=5, actor="t")
        services.points_credit(member=member, points=5, actor="t")

    # the log shows each statement with its values, as the client-binding cursor composes it
    earns = [q["sql"] for q in captured if "INSERT INTO ledger_entry" in q["sql"]]
    assert len(earns) == 2
    assert all("%(" not in sql and "$1" not in sql for sql in earns)
