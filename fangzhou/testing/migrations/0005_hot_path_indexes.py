# The public antigen submit writes a submission and a report per member on every post: indexes it
# does not need are dropped. A report's resident and household are found through
# antigen_one_per_day (resident, day) and (household, day), which lead with them; nothing searches
# client ids by prefix, so the varchar_pattern_ops twin of their unique index goes too (PostgreSQL
# only: SQLite has none). Only DROP INDEX: the foreign keys stay as they are (Django's AlterField
# would drop and re-add them, checking every row of the table again).

import django.db.models.deletion
from django.db import migrations, models

REPORT_INDEXES = ("testing_antigenreport_household_id_c3784040", "testing_antigenreport_resident_id_62bc0cca")
CLIENT_ID_LIKE = "testing_antigensubmission_client_id_35f2db82_like"


def drop_like(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{CLIENT_ID_LIKE}"')


def add_like(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{CLIENT_ID_LIKE}" ON "testing_antigensubmission" '
            '("client_id" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0011_roster_digest_triggers"),
        ("testing", "0004_sample_redundant_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="antigenreport",
                    name="household",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="antigen_reports",
                        to="registry.household",
                    ),
                ),
                migrations.AlterField(
                    model_name="antigenreport",
                    name="resident",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="antigen_reports",
                        to="registry.resident",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in REPORT_INDEXES],
                    reverse_sql=[
                        'CREATE INDEX IF NOT EXISTS "testing_antigenreport_household_id_c3784040" '
                        'ON "testing_antigenreport" ("household_id")',
                        'CREATE INDEX IF NOT EXISTS "testing_antigenreport_resident_id_62bc0cca" '
                        'ON "testing_antigenreport" ("resident_id")',
                    ],
                )
            ],
        ),
        migrations.RunPython(drop_like, add_like),
    ]
