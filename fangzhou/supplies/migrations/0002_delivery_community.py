"""Deliveries carry their distribution's community (the partitioning key).

The column, nullable; one set-based UPDATE filling it from the distribution; then NOT NULL.
Reversible (the column goes)."""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    q = schema_editor.quote_name
    table = q(apps.get_model("supplies", "Delivery")._meta.db_table)
    source = q(apps.get_model("supplies", "Distribution")._meta.db_table)
    schema_editor.execute(
        f"UPDATE {table} SET {q('community_id')} ="
        f" (SELECT d.{q('community_id')} FROM {source} d WHERE d.{q('id')} = {table}.{q('distribution_id')})"
        f" WHERE {q('community_id')} IS NULL"
    )


def community(null):
    return models.ForeignKey(
        null=null, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="registry.community"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_resident_roster_digest"),
        ("supplies", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="delivery", name="community", field=community(True)),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(model_name="delivery", name="community", field=community(False)),
    ]
