"""Migration operations the project shares.

``DropCoveredIndex``: a foreign key's own index goes (``db_index=False``) because a composite
index leading with the same column serves it. Django's ``AlterField`` for that drops the foreign
key constraint, drops the index and adds the constraint back, which validates every row of the
table under a lock that blocks writes: on a ledger of millions of rows, minutes of downtime for
no change. This operation changes the field in the migration state and, in the database, drops
only the index (found by introspection: the non-unique index on exactly that column), on
PostgreSQL and SQLite alike; reversed, it creates the index again.
"""

from __future__ import annotations

from django.db import migrations


class DropCoveredIndex(migrations.SeparateDatabaseAndState):
    def __init__(self, model_name: str, name: str, field) -> None:
        self.model_name, self.name = model_name, name
        super().__init__(
            state_operations=[migrations.AlterField(model_name=model_name, name=name,
                                                    field=field)],
            database_operations=[migrations.RunPython(self._drop, self._create)],
        )

    def deconstruct(self):
        return (self.__class__.__qualname__, [],
                {"model_name": self.model_name, "name": self.name,
                 "field": self.state_operations[0].field})

    def _field(self, apps):
        model = apps.get_model(self._app_label, self.model_name)
        return model, model._meta.get_field(self.name)

    def _drop(self, apps, schema_editor) -> None:
        model, field = self._field(apps)
        column = field.column
        table = model._meta.db_table
        with schema_editor.connection.cursor() as cursor:
            constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
        for index_name, info in constraints.items():
            if (info["index"] and not info["unique"] and not info["primary_key"]
                    and info["columns"] == [column]):
                schema_editor.execute(schema_editor._delete_index_sql(model, index_name))

    def _create(self, apps, schema_editor) -> None:
        model, field = self._field(apps)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))

    def state_forwards(self, app_label, state) -> None:
        self._app_label = app_label
        super().state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._app_label = app_label
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._app_label = app_label
        super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"Drop the index of {self.model_name}.{self.name} (a composite index serves it)"
