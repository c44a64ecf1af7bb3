"""Set-based inserts for bulk write paths (imports): many rows in one statement.

``bulk_create`` builds one placeholder per value (16 columns of 5,000 rows: 80,000) and a model
instance per row; on PostgreSQL ``insert_rows`` sends one array per column instead and lets
``unnest`` make the rows (``INSERT ... SELECT ... FROM unnest(%s::bigint[], ...)``), several
times faster. Columns the caller does not give take the field's default, the same for every
row. Elsewhere (SQLite) it is ``bulk_create``. Only services call it, for their own tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

CHUNK = 20_000


_PLAIN = (models.IntegerField, models.CharField, models.TextField, models.BooleanField,
          models.DateTimeField, models.DateField, models.ForeignKey)


def _prep(field: models.Field, value: Any) -> Any:
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=DjangoJSONEncoder)
    return field.get_db_prep_save(value, connection)


def _prep_all(field: models.Field, values: Sequence[Any]) -> list[Any]:
    """Values as the database takes them; ints, text, dates and times go as they are (what
    ``get_db_prep_save`` would give back for them on PostgreSQL), without a call per value."""
    if isinstance(field, _PLAIN) and not isinstance(field, models.JSONField):
        return list(values)
    return [_prep(field, v) for v in values]


def insert_rows(
    model: type[models.Model],
    columns: dict[str, Sequence[Any]],
    *,
    same: dict[str, Any] | None = None,
    returning: Sequence[str] = ("id",),
) -> list[tuple]:
    """Insert one row per position of ``columns`` (``{attname: values}``, equal lengths), with
    ``same`` (``{attname: value}``) in every row; returns ``returning``'s values of each
    inserted row, in the order given."""
    same = same or {}
    sizes = {len(values) for values in columns.values()}
    if len(sizes) > 1:
        raise ValueError("every column needs the same number of values")
    count = sizes.pop() if sizes else 0
    if count == 0:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = (set(columns) | set(same)) - {f.attname for f in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {sorted(unknown)[0]}")
    if connection.vendor != "postgresql":
        objects = model._base_manager.bulk_create([
            model(**same, **{name: values[i] for name, values in columns.items()})
            for i in range(count)
        ], batch_size=5000)
        return [tuple(getattr(o, name) for name in returning) for o in objects]
    quote = connection.ops.quote_name
    names, selects, constants, arrays, documents = [], [], [], [], []
    for field in fields:
        names.append(quote(field.column))
        if field.attname in columns and isinstance(field, models.JSONField):
            # One JSON document per column, not a jsonb[] literal: quoting every value's own
            # quotes for an array literal costs more, on the client, than the insert.
            selects.append(f"j{len(documents)}.value")
            documents.append(columns[field.attname])
        elif field.attname in columns:
            selects.append(f"v.c{len(arrays)}")
            arrays.append((field, columns[field.attname]))
        else:
            if field.attname not in same and not field.has_default() and not field.null:
                raise ValueError(f"{model.__name__}.{field.name} needs values")
            selects.append(f"%s::{field.db_type(connection)}")
            value = same[field.attname] if field.attname in same else field.get_default()
            constants.append(_prep(field, value))
    ordinal = "%s::integer[]"  # the rows' positions: every row source is joined on them
    unnest = ", ".join([ordinal, *(f"%s::{f.db_type(connection)}[]" for f, _ in arrays)])
    aliases = ", ".join(["n", *(f"c{i}" for i in range(len(arrays)))])
    joins = "".join(
        f" JOIN jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS j{i}(value, n)"
        f" ON j{i}.n = v.n" for i in range(len(documents))
    )
    returned = ", ".join(quote(model._meta.get_field(r).column) for r in returning)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) "
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) AS v({aliases}){joins} "
        f"ORDER BY v.n RETURNING {returned}"
    )
    out: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            params = [
                *constants,
                list(range(1, size + 1)),
                *(_prep_all(f, values[start:start + CHUNK]) for f, values in arrays),
                *(json.dumps(list(values[start:start + CHUNK]), cls=DjangoJSONEncoder)
                  for values in documents),
            ]
            cursor.execute(sql, params)
            out += cursor.fetchall()
    return out


def rows_where_in(
    model: type[models.Model],
    columns: Sequence[str],
    *,
    among: tuple[str, Sequence[Any]],
    equal: dict[str, Any] | None = None,
    extra_sql: str = "",
) -> list[tuple]:
    """``columns`` of the rows whose ``among[0]`` is one of ``among[1]`` (and whose ``equal``
    columns equal their values): on PostgreSQL one ``= ANY(array)`` parameter per 20,000
    values instead of a placeholder each. ``extra_sql`` is a fixed condition (no input)."""
    name, values = among
    values = list(values)
    equal = equal or {}
    if connection.vendor != "postgresql":
        found: list[tuple] = []
        for start in range(0, len(values), 5000):
            queryset = model._base_manager.filter(
                **equal, **{f"{name}__in": values[start:start + 5000]}
            )
            if extra_sql:
                queryset = queryset.extra(where=[extra_sql])
            found += queryset.values_list(*columns)
        return found
    quote = connection.ops.quote_name
    opts = model._meta
    field = opts.get_field(name)
    where = [f"{quote(field.column)} = ANY(%s::{field.db_type(connection)}[])"]
    params: list[Any] = []
    for key, value in equal.items():
        where.append(f"{quote(opts.get_field(key).column)} = %s")
        params.append(value)
    if extra_sql:
        where.append(extra_sql)
    sql = (f"SELECT {', '.join(quote(opts.get_field(c).column) for c in columns)} "
           f"FROM {quote(opts.db_table)} WHERE {' AND '.join(where)}")
    out: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), CHUNK):
            cursor.execute(sql, [values[start:start + CHUNK], *params])
            out += cursor.fetchall()
    return out
