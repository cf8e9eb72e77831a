"""Celery worker entry point for deployments at scale: ``celery -A fangzhou.celery worker``."""

from __future__ import annotations

import os
from typing import Any

from fangzhou.lib.jobs import celery_app

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")

app = celery_app()


@app.task(name="fangzhou.run_job")  # type: ignore[untyped-decorator]
def run_job_task(path: str, kwargs: dict[str, Any]) -> Any:
    """Run a registered job by name; any other name is refused and logged (``fangzhou.lib.jobs``)."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from fangzhou.lib.jobs import run_job

    return run_job(path, kwargs)


@app.task(name="fangzhou.run_scheduled")  # type: ignore[untyped-decorator]
def run_scheduled_task(name: str) -> Any:
    """Run one entry of the schedule (sent by beat); a slot another scheduler took is skipped."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from fangzhou.ops.scheduler import entry_named, run_entry

    fired = run_entry(entry_named(name))
    return {"slot": fired.slot, "ran": fired.ran, "outcome": fired.outcome}
