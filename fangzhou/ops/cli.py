"""Subcommands `fangzhou backup`, `restore`, `schedule`, `scheduler`, `retention` and `emergency`."""

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


def cmd_schedule(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import EXIT_OK, emit
    from fangzhou.ops.scheduler import schedule_status

    rows = schedule_status()
    lines = []
    for row in rows:
        when = f"every {row['every_s']} s" if row["every_s"] else f"daily at {row['at']}"
        last = row["last_run"]
        ran = "never run" if last is None else f"last {last['started_at']} ({last['outcome']})"
        lines.append(f"{row['name']:<16} {when:<18} {ran}  {row['job']}")
    emit(args, {"jobs": rows}, "\n".join(lines))
    return EXIT_OK


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The scheduler in the foreground: Celery beat with Celery jobs, else the in-process loop."""
    from django.conf import settings

    from fangzhou.lib.cli import EXIT_OK
    from fangzhou.ops.scheduler import SchedulerThread, beat_schedule

    if settings.FANGZHOU_JOBS == "celery":
        from fangzhou.lib.jobs import celery_app

        app = celery_app()
        app.conf.beat_schedule = beat_schedule()
        app.conf.timezone = settings.TIME_ZONE
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        app.Beat(schedule=str(settings.DATA_DIR / "celerybeat-schedule"), loglevel="INFO").run()
    else:
        SchedulerThread(settings.FANGZHOU_SCHEDULER_TICK_S).run()
    return EXIT_OK


def cmd_retention(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import EXIT_OK, emit
    from fangzhou.ops.retention import retention_run
    from fangzhou.registry.cli import community_from_code

    community = community_from_code(args.community) if args.community else None
    reports = retention_run(dry_run=args.dry_run, community=community)
    verb = "would" if args.dry_run else "did"
    lines = []
    for r in reports:
        if r.ended_on is None:
            lines.append(f"{r.community}: no end of the emergency set (fangzhou emergency end); nothing is due")
            continue
        lines.append(f"{r.community}: emergency ended {r.ended_on}")
        for kind, k in r.kinds.items():
            state = f"{verb} {k['action']} {k['rows']} row(s)" if k["due"] else "not due yet"
            lines.append(f"  {kind:<18} {k['days']:>4} days, due {k['due_on']}: {state}")
    emit(args, {"dry_run": args.dry_run, "communities": [r.as_dict() for r in reports]}, "\n".join(lines))
    return EXIT_OK


def cmd_emergency_end(args: argparse.Namespace) -> int:
    import datetime as dt

    from fangzhou.lib.cli import EXIT_OK, CommandError, emit
    from fangzhou.ops.retention import EmergencyEndError, community_today, emergency_end_set
    from fangzhou.registry.cli import community_from_code

    community = community_from_code(args.community)
    ended_on: dt.date | None = None
    if not args.clear:
        try:
            ended_on = dt.date.fromisoformat(args.on) if args.on else community_today(community)
        except ValueError as exc:
            raise CommandError(f"日期应为 YYYY-MM-DD：{args.on} / the date must be YYYY-MM-DD: {args.on}") from exc
    try:
        emergency_end_set(community=community, ended_on=ended_on, actor=None, after_retention=args.after_retention)
    except EmergencyEndError as exc:
        hint = " (--after-retention)" if "retention" in exc.en else ""
        raise CommandError(exc.reason + hint) from exc
    emit(
        args,
        {"community": community.code, "ended_on": ended_on.isoformat() if ended_on else None},
        f"{community.code}: the emergency ended on {ended_on}" if ended_on else f"{community.code}: end withdrawn",
    )
    return EXIT_OK


def register(sub: Any, add: Any) -> None:
    p = add("backup", cmd_backup, "back up the database and the uploaded files into one archive")
    p.add_argument("-o", "--output", required=True, help="the archive to write (.tar.gz)")
    p = add("restore", cmd_restore, "restore an archive into a new, empty database")
    p.add_argument("file")
    add("schedule", cmd_schedule, "the periodic jobs and each one's last run")
    add("scheduler", cmd_scheduler, "run the schedule in the foreground (Celery beat with FANGZHOU_JOBS=celery)")
    p = add("retention", cmd_retention, "delete or de-identify personal data past its retention (audited)")
    p.add_argument("--dry-run", action="store_true", help="print what would go; change nothing")
    p.add_argument("--community", default="", help="only this community (code)")
    emergency = sub.add_parser("emergency", help="a community's emergency").add_subparsers(dest="action", required=True)
    p = add("end", cmd_emergency_end, "set the day the emergency ended (retention counts from it)", emergency)
    p.add_argument("--community", required=True)
    p.add_argument("--on", default="", help="YYYY-MM-DD (default today)")
    p.add_argument("--clear", action="store_true", help="withdraw the end (the emergency goes on)")
    p.add_argument(
        "--after-retention",
        action="store_true",
        help="change or withdraw the end although retention already ran from it (what went stays gone)",
    )
