"""Backup and restore of one instance: its database and its uploaded files, in one archive.

The archive is a gzip'd tar holding ``manifest.json``, the database (PostgreSQL: ``pg_dump``'s
custom format; SQLite: a copy made with SQLite's online backup API, so the server keeps serving)
and every uploaded file under ``media/``. The manifest records the schema version (the latest
applied migration of each app) and the row count of every table *as dumped*: on PostgreSQL the
counts are taken in the very snapshot that ``pg_dump`` dumps (``pg_export_snapshot``), on SQLite
from the copy itself, so a restore can check that it got every row back.

A restore refuses a backup whose schema this release does not know (made by a newer release) and
refuses to write into a database that already has tables: it restores into a new, empty one.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from fangzhou.lib.errors import Refused

FORMAT = "fangzhou-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP_NAME = "database.dump"
SQLITE_NAME = "database.sqlite3"
MEDIA_PREFIX = "media/"

# Connection options that libpq (and so pg_dump / pg_restore) understands; others are Django's or psycopg's.
LIBPQ_KEYWORDS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "options",
        "application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "sslmode",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "require_auth",
        "gssencmode",
        "krbsrvname",
        "service",
        "target_session_attrs",
    }
)


class BackupError(Refused):
    pass


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "bytes": self.path.stat().st_size, **self.manifest}


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    rows: int
    files: int

    def as_dict(self) -> dict[str, Any]:
        return {"restored_rows": self.rows, "restored_files": self.files, **self.manifest}


# --- the database, engine by engine -----------------------------------------------------------


def _is_postgres(database: Mapping[str, Any]) -> bool:
    return str(database["ENGINE"]).endswith("postgresql")


def pg_connection_args(database: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """A libpq conninfo string and the environment for pg_dump / pg_restore (the password in PGPASSWORD)."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, str] = {"dbname": str(database["NAME"])}
    for key, setting in (("user", "USER"), ("host", "HOST"), ("port", "PORT")):
        if database.get(setting):
            params[key] = str(database[setting])
    for key, value in (database.get("OPTIONS") or {}).items():
        if key in LIBPQ_KEYWORDS and value not in (None, ""):
            params[key] = str(value)
    env = dict(os.environ)
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    return make_conninfo(**params), env


@contextmanager
def _pg_connect(database: Mapping[str, Any]) -> Iterator[Any]:
    import psycopg

    conninfo, _env = pg_connection_args(database)
    try:
        connection = psycopg.connect(conninfo, password=database.get("PASSWORD") or None)
    except psycopg.OperationalError as exc:
        raise BackupError("无法连接数据库", f"cannot connect to the database: {exc}") from exc
    try:
        yield connection
    finally:
        connection.close()


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"找不到 {name}", f"{name} not found: install PostgreSQL's client (apt-get install postgresql-client)"
        )
    return path


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tool = Path(argv[0]).name
        raise BackupError(f"{tool} 失败", f"{tool} failed: {result.stderr.strip()[-2000:]}")


def _pg_counts(cursor: Any) -> dict[str, int]:
    from psycopg import sql

    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    tables = [row[0] for row in cursor.fetchall()]
    counts: dict[str, int] = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _pg_dump(database: Mapping[str, Any], target: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Dump the database; return its schema version and row counts, both from the dumped snapshot."""
    import psycopg

    pg_dump = _pg_tool("pg_dump")
    conninfo, env = pg_connection_args(database)
    with _pg_connect(database) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            # pg_dump reads the snapshot this transaction holds open: what it dumps is what we count.
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    f"--dbname={conninfo}",
                ],
                env,
            )
            counts = _pg_counts(cursor)
            schema = _schema_from_rows(cursor, "django_migrations" in counts)
        connection.rollback()
    return schema, counts


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]) for table in tables}  # noqa: S608 - names from sqlite_master


def _sqlite_backup(using: str, target: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Copy the live database with SQLite's online backup API (readers and writers carry on)."""
    connection = connections[using]
    connection.ensure_connection()
    source: sqlite3.Connection = connection.connection
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        counts = _sqlite_counts(copy)
        schema = _schema_from_rows(copy.cursor(), "django_migrations" in counts)
    finally:
        copy.close()
    return schema, counts


def _schema_from_rows(cursor: Any, has_table: bool) -> dict[str, str]:
    """The latest applied migration of each app (migration names sort in the order they apply)."""
    if not has_table:
        raise BackupError("数据库尚未建立", "the database has no schema yet: run `fangzhou migrate` first")
    cursor.execute("SELECT app, name FROM django_migrations")
    latest: dict[str, str] = {}
    for app, name in cursor.fetchall():
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


# --- backup -----------------------------------------------------------------------------------


def _media_files(media_root: Path) -> list[Path]:
    if not media_root.is_dir():
        return []
    return sorted(p for p in media_root.rglob("*") if p.is_file() and not p.is_symlink())


def backup_create(*, output: Path, media_root: Path, using: str = "default") -> BackupReport:
    """Write one archive with the database of ``using`` and every file under ``media_root``."""
    database = connections[using].settings_dict
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fangzhou-backup-", dir=output.parent) as tmp:
        if _is_postgres(database):
            engine, member = "postgresql", PG_DUMP_NAME
            schema, counts = _pg_dump(database, Path(tmp) / member)
        else:
            engine, member = "sqlite", SQLITE_NAME
            schema, counts = _sqlite_backup(using, Path(tmp) / member)
        files = _media_files(media_root)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
            "engine": engine,
            "database": member,
            "schema": schema,
            "tables": counts,
            "rows": sum(counts.values()),
            "files": len(files),
        }
        partial = Path(tmp) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(dt.datetime.now(tz=dt.UTC).timestamp())
            archive.addfile(info, io.BytesIO(data))
            archive.add(Path(tmp) / member, arcname=member)
            for path in files:
                archive.add(path, arcname=MEDIA_PREFIX + path.relative_to(media_root).as_posix())
        partial.chmod(0o600)  # it holds personal data
        partial.replace(output)  # never a half-written archive under the real name
    return BackupReport(output, manifest)


# --- restore ----------------------------------------------------------------------------------


def read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.getmember(MANIFEST)
        handle = archive.extractfile(member)
        manifest: dict[str, Any] = json.loads(handle.read()) if handle else {}
    except (KeyError, ValueError) as exc:
        raise BackupError("不是方舟的备份文件", "not a Fangzhou backup: no readable manifest.json") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError("不是方舟的备份文件", "not a Fangzhou backup")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise BackupError("备份格式比本版本新", "the backup's format is newer than this release: upgrade first")
    return manifest


def schema_newer_than_code(schema: Mapping[str, str]) -> list[str]:
    """The backup's migrations this release does not have (the backup came from a newer release)."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    return [f"{app}.{name}" for app, name in sorted(schema.items()) if (app, name) not in known]


def _target_tables(database: Mapping[str, Any]) -> list[str]:
    if _is_postgres(database):
        with _pg_connect(database) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            return [row[0] for row in cursor.fetchall()]
    name = str(database["NAME"])
    if not name.startswith("file:") and not Path(name).exists():
        return []
    try:
        with closing(_sqlite_open(name)) as connection:
            return [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.Error as exc:
        raise BackupError("无法打开目标数据库", f"cannot open the target database: {exc}") from exc


def _sqlite_open(name: str) -> sqlite3.Connection:
    if name in {"", ":memory:"}:
        raise BackupError(
            "不能恢复到内存数据库", "cannot restore into an in-memory database: set DATABASE_URL to a file"
        )
    if name.startswith("file:"):
        return sqlite3.connect(name, uri=True)
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(name)


def _safe_member(archive: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    member = archive.getmember(name)
    if not member.isfile():
        raise BackupError("备份文件已损坏", f"damaged backup: {name} is not a file")
    return member


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    handle = archive.extractfile(member)
    if handle is None:
        raise BackupError("备份文件已损坏", f"damaged backup: {member.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        shutil.copyfileobj(handle, out)


def _restore_media(archive: tarfile.TarFile, media_root: Path) -> int:
    root = media_root.resolve()
    count = 0
    for member in archive.getmembers():
        if not member.name.startswith(MEDIA_PREFIX) or not member.isfile():
            continue
        relative = PurePosixPath(member.name[len(MEDIA_PREFIX) :])
        target = (root / relative).resolve()
        if relative.is_absolute() or ".." in relative.parts or not target.is_relative_to(root):
            raise BackupError("备份文件已损坏", f"damaged backup: unsafe path {member.name}")
        _extract(archive, member, target)
        count += 1
    return count


def backup_restore(*, archive_path: Path, database: Mapping[str, Any], media_root: Path) -> RestoreReport:
    """Restore an archive into ``database`` (a Django database setting), which must have no tables yet."""
    if not archive_path.is_file():
        raise BackupError(f"找不到文件 {archive_path}", f"file not found: {archive_path}")
    try:
        archive = tarfile.open(archive_path, "r:*")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise BackupError("不是方舟的备份文件", f"not a Fangzhou backup: {exc}") from exc
    with archive:
        manifest = read_manifest(archive)
        newer = schema_newer_than_code(manifest["schema"])
        if newer:
            raise BackupError(
                "备份来自更新的版本，请先升级",
                f"the backup's schema is newer than this release ({', '.join(newer)}): "
                "install the release that made it, then restore",
            )
        engine = "postgresql" if _is_postgres(database) else "sqlite"
        if manifest["engine"] != engine:
            raise BackupError(
                "数据库类型不同", f"this is a {manifest['engine']} backup; the target database is {engine}"
            )
        existing = _target_tables(database)
        if existing:
            raise BackupError(
                "目标数据库不是空的",
                f"the target database already has {len(existing)} table(s): restore into a new, empty database",
            )
        member = _safe_member(archive, manifest["database"])
        with tempfile.TemporaryDirectory(prefix="fangzhou-restore-") as tmp:
            extracted = Path(tmp) / Path(member.name).name
            _extract(archive, member, extracted)
            if engine == "postgresql":
                conninfo, env = pg_connection_args(database)
                _run(
                    [
                        _pg_tool("pg_restore"),
                        "--no-owner",
                        "--no-privileges",
                        "--exit-on-error",
                        "--single-transaction",
                        f"--dbname={conninfo}",
                        str(extracted),
                    ],
                    env,
                )
                with _pg_connect(database) as connection, connection.cursor() as cursor:
                    counts = _pg_counts(cursor)
            else:
                with (
                    closing(sqlite3.connect(extracted)) as source,
                    closing(_sqlite_open(str(database["NAME"]))) as copy,
                ):
                    source.backup(copy)
                    counts = _sqlite_counts(copy)
        if counts != manifest["tables"]:
            differ = sorted(
                t for t in set(counts) | set(manifest["tables"]) if counts.get(t) != manifest["tables"].get(t)
            )
            raise BackupError(
                "恢复的行数与备份不符", f"restored row counts differ from the backup's in: {', '.join(differ)}"
            )
        files = _restore_media(archive, media_root)
    return RestoreReport(manifest, sum(counts.values()), files)
