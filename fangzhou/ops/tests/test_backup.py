"""Backup → restore round trips on the database the suite runs on (SQLite or PostgreSQL)."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from fangzhou.cli import main
from fangzhou.ops.backup import BackupError, _pg_connect, backup_create, backup_restore
from fangzhou.registry.tests.factories import World

ON_POSTGRES = connection.vendor == "postgresql"
SAMPLED = ("accounts_user", "accounts_auditlog", "registry_building", "registry_household", "registry_resident")
PHOTO = b"\xff\xd8\xff\xe0 a delivery photo"


def source_rows(table: str) -> list[tuple[Any, ...]]:
    query = f'SELECT * FROM "{table}" ORDER BY 1'  # noqa: S608 - fixed names
    if ON_POSTGRES:
        with _pg_connect(connection.settings_dict) as raw, raw.cursor() as cursor:
            cursor.execute(query)
            return list(cursor.fetchall())
    connection.ensure_connection()
    return list(connection.connection.execute(query).fetchall())


def target_rows(target: dict[str, Any], table: str) -> list[tuple[Any, ...]]:
    query = f'SELECT * FROM "{table}" ORDER BY 1'  # noqa: S608 - fixed names
    if ON_POSTGRES:
        with _pg_connect(target) as raw, raw.cursor() as cursor:
            cursor.execute(query)
            return list(cursor.fetchall())
    # the same converters as Django's own connection, so dates compare as dates
    with closing(sqlite3.connect(target["NAME"], detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES)) as raw:
        return list(raw.execute(query).fetchall())


def source_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from introspection
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A second, empty database of the same engine: a fresh PostgreSQL database, or a new SQLite file."""
    if not ON_POSTGRES:
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "restored.sqlite3")}
        return
    from psycopg import sql

    name = f"{connection.settings_dict['NAME']}_restore"
    admin = {**connection.settings_dict, "NAME": "postgres"}

    def run(statement: sql.Composable) -> None:
        with _pg_connect(admin) as raw:
            raw.autocommit = True
            raw.execute(statement)

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    run(drop)
    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {**connection.settings_dict, "NAME": name}
    finally:
        run(drop)


def rewrite_manifest(archive: Path, out: Path, **changes: Any) -> None:
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            handle = src.extractfile(member)
            data = handle.read() if handle else b""
            if member.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


@pytest.mark.django_db(transaction=True)  # pg_dump reads from another connection: the world must be committed
def test_round_trip_keeps_every_row_and_every_upload(
    world: World, tmp_path: Path, empty_database: dict[str, Any]
) -> None:
    media = tmp_path / "media"
    (media / "deliveries" / "2026" / "12").mkdir(parents=True)
    (media / "deliveries" / "2026" / "12" / "door-101.jpg").write_bytes(PHOTO)
    archive = tmp_path / "backups" / "fz.tar.gz"

    manifest = backup_create(output=archive, media_root=media).manifest

    assert manifest["engine"] == ("postgresql" if ON_POSTGRES else "sqlite")
    assert manifest["tables"] == source_counts()
    assert manifest["tables"]["registry_resident"] >= 5 and manifest["files"] == 1
    assert manifest["schema"]["registry"].startswith("00") and "accounts" in manifest["schema"]
    assert archive.stat().st_mode & 0o077 == 0  # personal data: readable by the operator only

    restored_media = tmp_path / "restored-media"
    newer = tmp_path / "newer.tar.gz"
    rewrite_manifest(archive, newer, schema={**manifest["schema"], "registry": "9999_from_a_newer_release"})
    with pytest.raises(BackupError, match=r"newer than this release \(registry\.9999_from_a_newer_release\)"):
        backup_restore(archive_path=newer, database=empty_database, media_root=restored_media)

    result = backup_restore(archive_path=archive, database=empty_database, media_root=restored_media)

    assert result.rows == manifest["rows"] and result.files == 1
    for table in SAMPLED:
        original = source_rows(table)
        assert original, table
        assert target_rows(empty_database, table) == original, table
    assert (restored_media / "deliveries" / "2026" / "12" / "door-101.jpg").read_bytes() == PHOTO

    for database in (empty_database, connection.settings_dict):  # restored once; the live one
        with pytest.raises(BackupError, match="already has"):
            backup_restore(archive_path=archive, database=database, media_root=restored_media)
    assert source_counts() == manifest["tables"]  # the live database was not touched


@pytest.mark.django_db(transaction=True)  # the restore looks at the live database from a second connection
def test_the_commands(settings: Any, tmp_path: Path, capsys: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    archive = tmp_path / "fz.tar.gz"
    assert main(["backup", "-o", str(archive), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file"] == str(archive) and out["rows"] > 0 and "registry" in out["schema"]
    assert main(["restore", str(archive)]) == 2  # into the database it came from: not empty
    assert "restore into a new, empty database" in capsys.readouterr().err
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert main(["restore", str(tmp_path / "junk.tar.gz")]) == 2
    assert "not a Fangzhou backup" in capsys.readouterr().err
