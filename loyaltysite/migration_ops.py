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


class _StateAndRunPython(migrations.SeparateDatabaseAndState):
    """A state change with ``RunPython`` for the database, whose functions need the app's
    label (``self._app_label``) to find the model."""

    def state_forwards(self, app_label, state) -> None:
        self._app_label = app_label
        super().state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._app_label = app_label
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._app_label = app_label
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class DropCoveredIndex(_StateAndRunPython):
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

    def describe(self) -> str:
        return f"Drop the index of {self.model_name}.{self.name} (a composite index serves it)"


# ---------------------------------------------------------------------------------------------
# A member-owned row's merchant and program are its member's (PostgreSQL)

MEMBER_TENANT_KEY = "members_member_tenant"


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class AddMemberTenantKey(migrations.RunPython):
    """``UNIQUE (id, program_id, merchant_id)`` on the members' table (PostgreSQL), the key
    that ``AnchorToMember``'s foreign keys reference. ``id`` alone is unique already: the index
    exists to be referenced. Built while the table's writes wait (a migration runs in a
    transaction); members are a small table beside the ledger."""

    def __init__(self) -> None:
        super().__init__(self._create, self._drop)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {})

    @staticmethod
    def _create(apps, schema_editor) -> None:
        if _postgresql(schema_editor):
            schema_editor.execute(
                f"CREATE UNIQUE INDEX {MEMBER_TENANT_KEY} ON members_member"
                " (id, program_id, merchant_id)")

    @staticmethod
    def _drop(apps, schema_editor) -> None:
        if _postgresql(schema_editor):
            schema_editor.execute(f"DROP INDEX {MEMBER_TENANT_KEY}")

    def describe(self) -> str:
        return "Add the members' (id, program, merchant) key that member-owned rows reference"


class AnchorToMember(_StateAndRunPython):
    """A member-owned table's ``member``, ``merchant`` and ``program`` held by one foreign key
    ``(member_id, program_id, merchant_id) -> members_member (id, program_id, merchant_id)``
    on PostgreSQL instead of three plain ones (``fields``: the three, ``db_constraint=False``).

    Stronger: a row naming another merchant or program than its member's cannot be written,
    whatever the code above does (the worst bug this product can have is a cross-merchant
    leak). Cheaper: every row an order writes had PostgreSQL check three foreign keys where it
    now checks one, and no longer takes a share lock on the merchant's and the program's rows
    (which every concurrent order of the merchant shared, as a multixact); the member's row the
    writer holds already. The merchant and the program stay held through the member's own
    foreign keys. The fields keep their relations in Django; SQLite keeps its plain foreign
    keys (nothing there is changed).

    Added ``NOT VALID`` then validated, so the check of existing rows does not block writes;
    reversed, the plain foreign keys come back.
    """

    def __init__(self, model_name: str, fields: dict) -> None:
        self.model_name, self.fields = model_name, fields
        super().__init__(
            state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)
                              for name, field in fields.items()],
            database_operations=[migrations.RunPython(self._anchor, self._unanchor)],
        )

    def deconstruct(self):
        return (self.__class__.__qualname__, [],
                {"model_name": self.model_name, "fields": self.fields})

    def _model(self, apps):
        model = apps.get_model(self._app_label, self.model_name)
        return model, model._meta.db_table, f"{model._meta.db_table}_tenant_fk"

    def _anchor(self, apps, schema_editor) -> None:
        if not _postgresql(schema_editor):
            return
        model, table, name = self._model(apps)
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)}"
            " FOREIGN KEY (member_id, program_id, merchant_id)"
            " REFERENCES members_member (id, program_id, merchant_id)"
            " DEFERRABLE INITIALLY DEFERRED NOT VALID")
        schema_editor.execute(f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}")
        with schema_editor.connection.cursor() as cursor:
            constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
        columns = {model._meta.get_field(field).column for field in self.fields}
        for constraint, info in constraints.items():
            if info["foreign_key"] and len(info["columns"]) == 1 and info["columns"][0] in columns:
                schema_editor.execute(schema_editor._delete_fk_sql(model, constraint))

    def _unanchor(self, apps, schema_editor) -> None:
        if not _postgresql(schema_editor):
            return
        model, table, name = self._model(apps)
        for field in self.fields:
            schema_editor.execute(schema_editor._create_fk_sql(
                model, model._meta.get_field(field), "_fk_%(to_table)s_%(to_column)s"))
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)}"
            f" DROP CONSTRAINT {schema_editor.quote_name(name)}")

    def describe(self) -> str:
        return f"Hold {self.model_name}'s merchant and program by its member's key"
