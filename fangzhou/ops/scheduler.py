"""Running the schedule (``fangzhou.ops.schedule``): slots, the claim, beat's entries, the thread.

A run is claimed by inserting its unique ``JobRun(job, slot)`` row in its own transaction before
the job starts; whoever loses the insert skips the slot. The job's own writes are idempotent as
well (each service is), so a crash between claim and finish costs at most that one slot.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from fangzhou.lib.jobs import run_job
from fangzhou.ops.models import JobRun
from fangzhou.ops.schedule import SCHEDULE, Periodic

log = logging.getLogger(__name__)


def schedule() -> tuple[Periodic, ...]:
    """The schedule, with ``FANGZHOU_SCHEDULE_EVERY_S`` overrides (``{"escalate": 2}``: every 2 s)."""
    overrides: dict[str, int] = settings.FANGZHOU_SCHEDULE_EVERY_S
    return tuple(
        Periodic(p.name, p.job, every=dt.timedelta(seconds=overrides[p.name])) if p.name in overrides else p
        for p in SCHEDULE
    )


def entry_named(name: str) -> Periodic:
    for entry in schedule():
        if entry.name == name:
            return entry
    raise LookupError(f"no scheduled job {name!r}")


def current_slot(entry: Periodic, now: dt.datetime) -> str | None:
    """The slot due at ``now``: the interval's start, or today's date once the daily time has passed."""
    if entry.every is not None:
        seconds = max(int(entry.every.total_seconds()), 1)
        start = int(now.timestamp()) // seconds * seconds
        return dt.datetime.fromtimestamp(start, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert entry.at is not None
    local = timezone.localtime(now)
    return local.date().isoformat() if local.time() >= entry.at else None


@dataclass(frozen=True)
class Fired:
    name: str
    slot: str | None
    ran: bool
    outcome: str = ""


def _claim(entry: Periodic, slot: str, now: dt.datetime) -> JobRun | None:
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=entry.name, slot=slot, started_at=now)
    except IntegrityError:
        return None


def run_entry(entry: Periodic, *, now: dt.datetime | None = None) -> Fired:
    """Run ``entry`` for its current slot unless another scheduler already claimed it."""
    now = now or timezone.now()
    slot = current_slot(entry, now)
    if slot is None:
        return Fired(entry.name, None, ran=False)
    run = _claim(entry, slot, now)
    if run is None:
        return Fired(entry.name, slot, ran=False)
    try:
        result = run_job(entry.job, {})
    except Exception as exc:
        log.exception("scheduled job %s failed", entry.name)
        run.outcome, run.detail = JobRun.Outcome.FAILED, {"error": type(exc).__name__}
    else:
        run.outcome, run.detail = JobRun.Outcome.OK, {"result": result if _plain(result) else None}
    run.finished_at = timezone.now()
    run.save(update_fields=["outcome", "detail", "finished_at"])
    return Fired(entry.name, slot, ran=True, outcome=run.outcome)


def _plain(value: Any) -> bool:
    return isinstance(value, int | float | str | bool | type(None) | dict | list)


def run_due(*, now: dt.datetime | None = None) -> list[Fired]:
    """One tick of the in-process scheduler: every entry whose slot is free runs now."""
    return [run_entry(entry, now=now) for entry in schedule()]


def schedule_status() -> list[dict[str, Any]]:
    """Each entry with its timing and its last run (``fangzhou schedule --json``)."""
    rows = []
    for entry in schedule():
        last = JobRun.objects.filter(job=entry.name).order_by("-started_at", "-id").first()
        rows.append(
            {
                "name": entry.name,
                "job": entry.job,
                "every_s": int(entry.every.total_seconds()) if entry.every else None,
                "at": entry.at.strftime("%H:%M") if entry.at else None,
                "last_run": None
                if last is None
                else {
                    "slot": last.slot,
                    "started_at": last.started_at.isoformat(),
                    "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                    "outcome": last.outcome,
                    "detail": last.detail,
                },
            }
        )
    return rows


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery beat's entries, built from the schedule: each sends ``fangzhou.run_scheduled(name)``."""
    from celery.schedules import crontab

    entries: dict[str, dict[str, Any]] = {}
    for entry in schedule():
        when: Any = entry.every if entry.every is not None else crontab(hour=entry.at.hour, minute=entry.at.minute)  # type: ignore[union-attr]
        entries[entry.name] = {
            "task": "fangzhou.run_scheduled",
            "schedule": when,
            "args": [entry.name],
            "options": {"queue": settings.FANGZHOU_CELERY_QUEUE},
        }
    return entries


class SchedulerThread(threading.Thread):
    """The embedded default's scheduler: a daemon thread ticking every ``FANGZHOU_SCHEDULER_TICK_S``."""

    def __init__(self, tick_s: float) -> None:
        super().__init__(name="fangzhou-scheduler", daemon=True)
        self.tick_s = tick_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                run_due()
            except Exception:
                log.exception("scheduler tick failed")
            finally:
                close_old_connections()
            self.stopped.wait(self.tick_s)


_thread: SchedulerThread | None = None
_lock = threading.Lock()


def start_scheduler_thread() -> SchedulerThread | None:
    """Start this process's scheduler thread once, when the schedule runs in-process
    (``FANGZHOU_SCHEDULER=thread``, the default while ``FANGZHOU_JOBS=inline``)."""
    global _thread
    if settings.FANGZHOU_SCHEDULER != "thread":
        return None
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = SchedulerThread(settings.FANGZHOU_SCHEDULER_TICK_S)
            _thread.start()
        return _thread
