# Every write of the public antigen submit adds an audit row: indexes it does not need are dropped.
# target_id is found through (target_type, target_id); neither it nor action is searched by prefix,
# so the varchar_pattern_ops twins PostgreSQL has of their indexes go (SQLite has none).

from django.db import migrations, models

ACTION_LIKE = "accounts_auditlog_action_fb5b830a_like"


def drop_like(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{ACTION_LIKE}"')


def add_like(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{ACTION_LIKE}" ON "accounts_auditlog" ("action" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_deputies_helped_communities_property_roles"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditlog",
            name="target_id",
            field=models.CharField(max_length=64),
        ),
        migrations.RunPython(drop_like, add_like),
    ]
