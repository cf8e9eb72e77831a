"""Subcommands `fangzhou backup` and `fangzhou restore`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_backup(args: argparse.Namespace) -> int:
    from django.conf import settings

    from fangzhou.lib.cli import EXIT_OK, CommandError, emit
    from fangzhou.ops.backup import BackupError, backup_create

    try:
        report = backup_create(output=Path(args.output), media_root=Path(settings.MEDIA_ROOT))
    except BackupError as exc:
        raise CommandError(exc.reason) from exc
    manifest = report.manifest
    emit(
        args,
        report.as_dict(),
        f"Wrote {report.path}: {manifest['engine']} database, {manifest['rows']} rows in "
        f"{len(manifest['tables'])} tables, {manifest['files']} uploaded file(s)",
    )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from fangzhou.lib.cli import EXIT_OK, CommandError, emit
    from fangzhou.ops.backup import BackupError, backup_restore

    connections.close_all()
    try:
        report = backup_restore(
            archive_path=Path(args.file), database=settings.DATABASES["default"], media_root=Path(settings.MEDIA_ROOT)
        )
    except BackupError as exc:
        raise CommandError(exc.reason) from exc
    connections.close_all()
    # A backup from an older release is brought up to this release's schema.
    call_command("migrate", interactive=False, verbosity=0)
    manifest = report.manifest
    emit(
        args,
        report.as_dict(),
        f"Restored the backup of {manifest['created_at']}: {report.rows} rows, {report.files} uploaded file(s); "
        "the database is up to date.",
    )
    return EXIT_OK


def register(sub: Any, add: Any) -> None:
    p = add("backup", cmd_backup, "back up the database and the uploaded files into one archive")
    p.add_argument("-o", "--output", required=True, help="the archive to write (.tar.gz)")
    p = add("restore", cmd_restore, "restore an archive into a new, empty database")
    p.add_argument("file")
