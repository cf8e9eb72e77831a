"""Residents and households counted per community, kept by triggers (models.CommunityCount).

PostgreSQL: statement-level triggers with transition tables for inserts and deletes (one COPY of a
roster's 50,000 residents is one grouped upsert, not 50,000), row-level ones for moves (an UPDATE
that sets a resident's ``community_id``, a household's ``building_id`` or a building's
``community_id`` to another value; every other UPDATE, such as the
roster's digests, fires nothing). SQLite: row-level triggers. Subtractions only ever UPDATE an
existing row, so a table emptied in any order (SQLite's flush deletes table by table) leaves no
stray rows; a community's delete removes its row. Filled from a fresh count."""

from django.db import migrations, models

T = "registry_communitycount"

# Also the repair's statement (registry.services.community_counts_repair).
FILL = f"""
INSERT INTO {T} (community_id, residents, households)
SELECT c.id,
  (SELECT COUNT(*) FROM registry_resident r WHERE r.community_id = c.id),
  (SELECT COUNT(*) FROM registry_household h JOIN registry_building b ON b.id = h.building_id
   WHERE b.community_id = c.id)
FROM registry_community c
"""

PG_FUNCTIONS = {
    "resident_ins": f"""
        INSERT INTO {T} (community_id, residents, households)
        SELECT community_id, COUNT(*), 0 FROM new_rows GROUP BY community_id ORDER BY community_id
        ON CONFLICT (community_id) DO UPDATE SET residents = {T}.residents + EXCLUDED.residents;""",
    "resident_del": f"""
        UPDATE {T} c SET residents = c.residents - d.n
        FROM (SELECT community_id, COUNT(*) AS n FROM old_rows GROUP BY community_id) d
        WHERE c.community_id = d.community_id;""",
    "resident_move": f"""
        UPDATE {T} SET residents = residents - 1 WHERE community_id = OLD.community_id;
        INSERT INTO {T} (community_id, residents, households) VALUES (NEW.community_id, 1, 0)
        ON CONFLICT (community_id) DO UPDATE SET residents = {T}.residents + 1;""",
    "household_ins": f"""
        INSERT INTO {T} (community_id, residents, households)
        SELECT b.community_id, 0, COUNT(*) FROM new_rows h JOIN registry_building b ON b.id = h.building_id
        GROUP BY b.community_id ORDER BY b.community_id
        ON CONFLICT (community_id) DO UPDATE SET households = {T}.households + EXCLUDED.households;""",
    "household_del": f"""
        UPDATE {T} c SET households = c.households - d.n
        FROM (SELECT b.community_id, COUNT(*) AS n FROM old_rows h JOIN registry_building b ON b.id = h.building_id
              GROUP BY b.community_id) d
        WHERE c.community_id = d.community_id;""",
    "household_move": f"""
        INSERT INTO {T} (community_id, residents, households)
        SELECT nb.community_id, 0, 1 FROM registry_building nb, registry_building ob
        WHERE nb.id = NEW.building_id AND ob.id = OLD.building_id AND nb.community_id <> ob.community_id
        ON CONFLICT (community_id) DO UPDATE SET households = {T}.households + 1;
        UPDATE {T} c SET households = c.households - 1 FROM registry_building nb, registry_building ob
        WHERE nb.id = NEW.building_id AND ob.id = OLD.building_id AND nb.community_id <> ob.community_id
          AND c.community_id = ob.community_id;""",
    "building_move": f"""
        INSERT INTO {T} (community_id, residents, households)
        SELECT NEW.community_id, 0, COUNT(*) FROM registry_household WHERE building_id = NEW.id
        ON CONFLICT (community_id) DO UPDATE SET households = {T}.households + EXCLUDED.households;
        UPDATE {T} SET households = households - (SELECT COUNT(*) FROM registry_household WHERE building_id = NEW.id)
        WHERE community_id = OLD.community_id;""",
    "community_del": f"""
        DELETE FROM {T} c USING old_rows o WHERE c.community_id = o.id;""",
}

NEW_ROWS = "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
OLD_ROWS = "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
PG_TRIGGERS = [  # (table, event, how, function)
    ("registry_resident", "AFTER INSERT", NEW_ROWS, "resident_ins"),
    ("registry_resident", "AFTER DELETE", OLD_ROWS, "resident_del"),
    (
        "registry_resident",
        "AFTER UPDATE OF community_id",
        "FOR EACH ROW WHEN (OLD.community_id IS DISTINCT FROM NEW.community_id)",
        "resident_move",
    ),
    ("registry_household", "AFTER INSERT", NEW_ROWS, "household_ins"),
    ("registry_household", "AFTER DELETE", OLD_ROWS, "household_del"),
    (
        "registry_household",
        "AFTER UPDATE OF building_id",
        "FOR EACH ROW WHEN (OLD.building_id IS DISTINCT FROM NEW.building_id)",
        "household_move",
    ),
    (
        "registry_building",
        "AFTER UPDATE OF community_id",
        "FOR EACH ROW WHEN (OLD.community_id IS DISTINCT FROM NEW.community_id)",
        "building_move",
    ),
    ("registry_community", "AFTER DELETE", OLD_ROWS, "community_del"),
]

SQLITE_TRIGGERS = {
    "resident_ins": f"""AFTER INSERT ON registry_resident BEGIN
        INSERT INTO {T} (community_id, residents, households) VALUES (NEW.community_id, 1, 0)
        ON CONFLICT (community_id) DO UPDATE SET residents = residents + 1; END""",
    "resident_del": f"""AFTER DELETE ON registry_resident BEGIN
        UPDATE {T} SET residents = residents - 1 WHERE community_id = OLD.community_id; END""",
    "resident_move": f"""AFTER UPDATE OF community_id ON registry_resident
        WHEN OLD.community_id IS NOT NEW.community_id BEGIN
        UPDATE {T} SET residents = residents - 1 WHERE community_id = OLD.community_id;
        INSERT INTO {T} (community_id, residents, households) VALUES (NEW.community_id, 1, 0)
        ON CONFLICT (community_id) DO UPDATE SET residents = residents + 1; END""",
    "household_ins": f"""AFTER INSERT ON registry_household BEGIN
        INSERT INTO {T} (community_id, residents, households)
        SELECT community_id, 0, 1 FROM registry_building WHERE id = NEW.building_id
        ON CONFLICT (community_id) DO UPDATE SET households = households + 1; END""",
    "household_del": f"""AFTER DELETE ON registry_household BEGIN
        UPDATE {T} SET households = households - 1
        WHERE community_id = (SELECT community_id FROM registry_building WHERE id = OLD.building_id); END""",
    "household_move": f"""AFTER UPDATE OF building_id ON registry_household
        WHEN OLD.building_id IS NOT NEW.building_id
         AND (SELECT community_id FROM registry_building WHERE id = OLD.building_id)
             IS NOT (SELECT community_id FROM registry_building WHERE id = NEW.building_id) BEGIN
        UPDATE {T} SET households = households - 1
        WHERE community_id = (SELECT community_id FROM registry_building WHERE id = OLD.building_id);
        INSERT INTO {T} (community_id, residents, households)
        SELECT community_id, 0, 1 FROM registry_building WHERE id = NEW.building_id
        ON CONFLICT (community_id) DO UPDATE SET households = households + 1; END""",
    "building_move": f"""AFTER UPDATE OF community_id ON registry_building
        WHEN OLD.community_id IS NOT NEW.community_id BEGIN
        UPDATE {T} SET households = households - (SELECT COUNT(*) FROM registry_household WHERE building_id = NEW.id)
        WHERE community_id = OLD.community_id;
        INSERT INTO {T} (community_id, residents, households)
        SELECT NEW.community_id, 0, COUNT(*) FROM registry_household WHERE building_id = NEW.id
        ON CONFLICT (community_id) DO UPDATE SET households = households + excluded.households; END""",
    "community_del": f"""AFTER DELETE ON registry_community BEGIN
        DELETE FROM {T} WHERE community_id = OLD.id; END""",
}


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION registry_count_{name}() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN {body} RETURN NULL; END $$"
            )
        for table, when, how, short in PG_TRIGGERS:
            schema_editor.execute(
                f"CREATE TRIGGER registry_count_{short} {when} ON {table} {how} "
                f"EXECUTE FUNCTION registry_count_{short}()"
            )
    elif vendor == "sqlite":
        for short, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER registry_count_{short} {body}")
    else:  # pragma: no cover - the two databases the project runs on
        raise NotImplementedError(vendor)
    schema_editor.execute(FILL)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table, _when, _how, short in PG_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS registry_count_{short} ON {table}")
        for name in PG_FUNCTIONS:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS registry_count_{name}()")
    else:
        for short in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS registry_count_{short}")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_resident_roster_digest"),
    ]

    operations = [
        migrations.CreateModel(
            name="CommunityCount",
            fields=[
                (
                    "community",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="counts",
                        serialize=False,
                        to="registry.community",
                    ),
                ),
                ("residents", models.IntegerField(default=0)),
                ("households", models.IntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
