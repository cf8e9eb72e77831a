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
