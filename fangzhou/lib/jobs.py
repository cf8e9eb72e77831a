"""Background work behind one small interface.

``job_enqueue("fangzhou.supplies.tasks.route_plan_run", plan_id=3)`` runs the function after the
current transaction commits: in-process for the embedded default (``FANGZHOU_JOBS=inline``), or on
a Celery worker with Redis (``FANGZHOU_JOBS=celery``, ``CELERY_BROKER_URL``). Jobs take ids, not
objects, and must be safe to run twice.

Only registered jobs run. An app marks its job functions with ``@job`` in its ``tasks.py``; every
installed app's ``tasks`` module is imported (Django's ``autodiscover_modules``) before the first
job is enqueued or run. A message naming anything else — ``os.system``, a service, a typo — is
refused and logged, never imported: the broker is not trusted to choose code.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

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


_REGISTRY: dict[str, Callable[..., Any]] = {}
F = TypeVar("F", bound=Callable[..., Any])


class UnknownJob(LookupError):
    """A job name nobody registered: refused, never imported."""


def job(function: F) -> F:
    """Register a job function under its dotted path (``fangzhou.supplies.tasks.route_plan_run``)."""
    _REGISTRY[f"{function.__module__}.{function.__qualname__}"] = function
    return function


@functools.cache
def _discover() -> None:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")


def jobs_registered() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def _lookup(name: str) -> Callable[..., Any]:
    _discover()
    function = _REGISTRY.get(name)
    if function is None:
        log.error("refused a job that is not registered: %r", name[:200])
        raise UnknownJob(f"job {name[:200]!r} is not registered")
    return function


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Run one registered job (the Celery task and the inline mode both come here)."""
    return _lookup(name)(**kwargs)


def job_enqueue(job: str, /, **kwargs: Any) -> None:
    """Run ``job(**kwargs)`` after commit, in-process or on Celery; ``UnknownJob`` if unregistered."""
    _lookup(job)
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
