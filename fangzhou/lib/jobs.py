"""Background work behind one small interface.

``job_enqueue("fangzhou.supplies.tasks.plan_routes", plan_id=3)`` runs the function after the
current transaction commits: in-process for the embedded default (``FANGZHOU_JOBS=inline``), or on
a Celery worker with Redis (``FANGZHOU_JOBS=celery``, ``CELERY_BROKER_URL``). Jobs take ids, not
objects, and must be safe to run twice.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)


@functools.cache
def celery_app() -> Any:
    """The Celery application (one per process), used to send jobs and, in ``fangzhou.celery``, to run them."""
    from celery import Celery

    app = Celery("fangzhou", broker=settings.CELERY_BROKER_URL)
    app.conf.task_acks_late = True
    app.conf.worker_prefetch_multiplier = 1
    return app


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.rpartition(".")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return function


def run_job(path: str, kwargs: dict[str, Any]) -> Any:
    return _resolve(path)(**kwargs)


def job_enqueue(job: str, /, **kwargs: Any) -> None:
    """Run ``job(**kwargs)`` after commit, in-process or on Celery."""
    for value in kwargs.values():
        if not isinstance(value, str | int | float | bool | type(None) | list | dict):
            raise TypeError("jobs take ids and plain values, not objects")
    mode = settings.FANGZHOU_JOBS
    if mode == "celery":
        app = celery_app()
        queue: str = settings.FANGZHOU_CELERY_QUEUE
        transaction.on_commit(lambda: app.send_task("fangzhou.run_job", args=[job, kwargs], queue=queue))
    else:
        transaction.on_commit(lambda: run_job(job, kwargs))
