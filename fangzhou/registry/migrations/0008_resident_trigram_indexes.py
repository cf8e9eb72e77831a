"""Trigram indexes for the resident search (name and search_key, LIKE '%...%'), on PostgreSQL only.

pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it. SQLite has no
such index; its search reads the community's rows by the (community, name) index and LIKE."""

from django.db import migrations

INDEXES = {
    "registry_resident_search_key_trgm": "search_key",
    "registry_resident_name_trgm": "name",
}


class PostgresOnly(migrations.RunSQL):
    """RunSQL that does nothing on a database other than PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_resident_search_key_backfill")]

    operations = [
        PostgresOnly("CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop),
        *[
            PostgresOnly(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "registry_resident" USING gin ("{column}" gin_trgm_ops)',
                f'DROP INDEX IF EXISTS "{name}"',
            )
            for name, column in INDEXES.items()
        ],
    ]
