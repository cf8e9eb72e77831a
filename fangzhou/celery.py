"""Celery app for deployments at scale: ``celery -A fangzhou.celery worker``."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")

app = Celery("fangzhou", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.task_acks_late = True
app.conf.worker_prefetch_multiplier = 1


@app.task(name="fangzhou.run_job")  # type: ignore[untyped-decorator]
def run_job_task(path: str, kwargs: dict[str, Any]) -> Any:
    import django

    django.setup()
    from fangzhou.jobs import run_job

    return run_job(path, kwargs)
