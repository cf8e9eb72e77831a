"""The operator's scheduled jobs (registered ``@job``s, run from ``fangzhou.ops.schedule``)."""

from __future__ import annotations

from typing import Any

from fangzhou.lib.jobs import job


@job
def retention_run() -> dict[str, Any]:
    """Every community's personal data past its retention, deleted or de-identified (audited)."""
    from fangzhou.ops.retention import retention_run as run

    reports = run(dry_run=False)
    return {r.community: {k: v["rows"] for k, v in r.kinds.items() if v["rows"]} for r in reports}


@job
def backup_nightly() -> dict[str, Any]:
    """The nightly archive in ``$FANGZHOU_DATA_DIR/backups``, kept ``FANGZHOU_BACKUP_KEEP_DAYS``.

    It holds personal data: copy it off the machine (docs/deploy.md)."""
    import time
    from pathlib import Path

    from django.conf import settings
    from django.utils import timezone

    from fangzhou.ops.backup import backup_create

    directory = Path(settings.DATA_DIR) / "backups"
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"fangzhou-{timezone.now():%Y%m%dT%H%M%SZ}.tar.gz"
    report = backup_create(output=output, media_root=Path(settings.MEDIA_ROOT))
    horizon = time.time() - settings.FANGZHOU_BACKUP_KEEP_DAYS * 86400
    removed = 0
    for old in directory.glob("fangzhou-*.tar.gz"):
        if old != output and old.stat().st_mtime < horizon:
            old.unlink()
            removed += 1
    return {"file": output.name, "rows": report.manifest["rows"], "removed": removed}


@job
def hot_tables_vacuum() -> dict[str, object]:
    """With PostgreSQL's autovacuum off: ``VACUUM (ANALYZE)`` of the tables written all day that
    autovacuum would have vacuumed by now (``lib.db.vacuum_due``); nothing while it runs."""
    from fangzhou.accounts.models import AuditLog
    from fangzhou.lib.db import vacuum_due
    from fangzhou.supplies.models import Delivery
    from fangzhou.testing.models import AntigenReport, AntigenSubmission, Sample
    from fangzhou.workorders.models import WorkOrder

    # The tables a lockdown day updates (a report corrected, a sample's result, an order's status,
    # a door's delivery) or fills fastest (the submissions and the audit log).
    return vacuum_due(AntigenReport, AntigenSubmission, AuditLog, Sample, WorkOrder, Delivery)
