"""A resident's roster digest is cleared by the database when what the roster import compared changes.

``Resident.roster_digest`` is the digest of the cells the last roster import read for the person
(registry/roster/importer.py). A re-import skips a row with the same cells only while the resident
is still as that import left it: these triggers clear the digest whenever anything the import
compares changes, whoever changes it (a page, the API, the admin, a plain ``QuerySet.update``):

- the resident's own fields, its household or community, or its ``updated_at`` (every ORM
  ``save()`` writes that: a stale instance saved with an old digest is cleared too). The import
  writes its digests in statements of their own, after its other writes, which set nothing else;
- its household's room or building; its building's number, compound or grid; its compound's
  name; its grid's name.

PostgreSQL: a BEFORE UPDATE row trigger on residents (the digest is set in the row being written),
AFTER UPDATE row triggers on the places (only a place whose columns really changed, tens of rows).
SQLite: AFTER UPDATE row triggers. A digest already empty is left alone. Every digest written
before (the cells and the state as the import left it, checked again in SQL by each re-import) is
cleared: each resident is parsed in full once by its next import, which stores the new digest."""

from django.db import migrations

R = "registry_resident"
# What a resident's row holds that the import compares (and updated_at, which every save() writes).
RESIDENT_COLUMNS = (
    "community_id",
    "household_id",
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "phone_kind",
    "resident_type",
    "special",
    "note",
    "updated_at",
)
IN_HOUSEHOLDS = f"UPDATE {R} SET roster_digest = '' WHERE roster_digest <> '' AND household_id IN "
# (name, table, the columns watched, the residents whose digests go)
PLACES = [
    ("household", "registry_household", ("room", "building_id"), f"UPDATE {R} SET roster_digest = '' "
     "WHERE roster_digest <> '' AND household_id = NEW.id"),
    ("building", "registry_building", ("number", "compound_id", "grid_id"),
     IN_HOUSEHOLDS + "(SELECT id FROM registry_household WHERE building_id = NEW.id)"),
    ("compound", "registry_compound", ("name",),
     IN_HOUSEHOLDS + "(SELECT h.id FROM registry_household h JOIN registry_building b ON b.id = h.building_id "
     "WHERE b.compound_id = NEW.id)"),
    ("grid", "registry_grid", ("name",),
     IN_HOUSEHOLDS + "(SELECT h.id FROM registry_household h JOIN registry_building b ON b.id = h.building_id "
     "WHERE b.grid_id = NEW.id)"),
]


def _changed(columns, distinct):
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    watched = ", ".join(RESIDENT_COLUMNS)
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION registry_digest_resident() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN NEW.roster_digest := ''; RETURN NEW; END $$"
        )
        schema_editor.execute(
            f"CREATE TRIGGER registry_digest_resident BEFORE UPDATE OF {watched} ON {R} FOR EACH ROW "
            f"WHEN (NEW.roster_digest <> '' AND ({_changed(RESIDENT_COLUMNS, 'IS DISTINCT FROM')})) "
            "EXECUTE FUNCTION registry_digest_resident()"
        )
        for name, table, columns, clear in PLACES:
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION registry_digest_{name}() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN {clear}; RETURN NULL; END $$"
            )
            schema_editor.execute(
                f"CREATE TRIGGER registry_digest_{name} AFTER UPDATE OF {', '.join(columns)} ON {table} "
                f"FOR EACH ROW WHEN ({_changed(columns, 'IS DISTINCT FROM')}) "
                f"EXECUTE FUNCTION registry_digest_{name}()"
            )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER registry_digest_resident AFTER UPDATE OF {watched} ON {R} "
            f"WHEN NEW.roster_digest <> '' AND ({_changed(RESIDENT_COLUMNS, 'IS NOT')}) BEGIN "
            f"UPDATE {R} SET roster_digest = '' WHERE id = NEW.id; END"
        )
        for name, table, columns, clear in PLACES:
            schema_editor.execute(
                f"CREATE TRIGGER registry_digest_{name} AFTER UPDATE OF {', '.join(columns)} ON {table} "
                f"WHEN {_changed(columns, 'IS NOT')} BEGIN {clear}; END"
            )
    else:  # pragma: no cover - the two databases the project runs on
        raise NotImplementedError(vendor)
    schema_editor.execute(f"UPDATE {R} SET roster_digest = '' WHERE roster_digest <> ''")


def uninstall(apps, schema_editor):
    names = ["resident", *(name for name, *_ in PLACES)]
    tables = {"resident": R, **{name: table for name, table, *_ in PLACES}}
    for name in names:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS registry_digest_{name} ON {tables[name]}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS registry_digest_{name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS registry_digest_{name}")
    # The digests written under the triggers hold the cells alone: the old import would trust them.
    schema_editor.execute(f"UPDATE {R} SET roster_digest = '' WHERE roster_digest <> ''")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0010_communitycount"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
