"""Samples, antigen submissions and antigen reports carry their community (the partitioning key).

Three steps per table: the column, nullable; one set-based UPDATE filling it from the row's round
(samples) or building (antigen submissions and reports); then NOT NULL. Reversible (the column goes)."""

import django.db.models.deletion
from django.db import migrations, models

# table -> the subquery giving a row's community; ``{t}`` is the table itself, ``{q}`` quotes a name.
BACKFILL = {
    "Sample": "SELECT r.{community} FROM {round} r WHERE r.{id} = {t}.{round_id}",
    "AntigenSubmission": "SELECT b.{community} FROM {building} b WHERE b.{id} = {t}.{building_id}",
    "AntigenReport": (
        "SELECT b.{community} FROM {household} h INNER JOIN {building} b ON b.{id} = h.{building_id}"
        " WHERE h.{id} = {t}.{household_id}"
    ),
}


def backfill(apps, schema_editor):
    q = schema_editor.quote_name
    names = {
        "round": q(apps.get_model("testing", "Round")._meta.db_table),
        "building": q(apps.get_model("registry", "Building")._meta.db_table),
        "household": q(apps.get_model("registry", "Household")._meta.db_table),
        **{n: q(n) for n in ("community_id", "id", "round_id", "building_id", "household_id")},
    }
    names["community"] = names.pop("community_id")
    for model_name, source in BACKFILL.items():
        table = q(apps.get_model("testing", model_name)._meta.db_table)
        subquery = source.format(t=table, **names)
        column = q("community_id")
        schema_editor.execute(f"UPDATE {table} SET {column} = ({subquery}) WHERE {column} IS NULL")


MODELS = ("sample", "antigensubmission", "antigenreport")


def community(null):
    return models.ForeignKey(
        db_index=False,
        null=null,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to="registry.community",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_resident_roster_digest"),
        ("testing", "0002_antigen_recorded_by"),
    ]

    operations = [
        *(migrations.AddField(model_name=m, name="community", field=community(True)) for m in MODELS),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        *(migrations.AlterField(model_name=m, name="community", field=community(False)) for m in MODELS),
        migrations.AddIndex(
            model_name="sample",
            index=models.Index(fields=["community", "sampled_at"], name="sample_community_sampled_at"),
        ),
        migrations.AddIndex(
            model_name="antigensubmission",
            index=models.Index(fields=["community", "day"], name="antigen_sub_community_day"),
        ),
        migrations.AddIndex(
            model_name="antigenreport",
            index=models.Index(fields=["community", "day"], name="antigen_community_day"),
        ),
    ]
