"""The one schedule of periodic work, for every community.

Each entry names a registered ``@job`` (``fangzhou/lib/jobs.py``) that loops over the communities
itself. Celery beat runs it in production (``fangzhou scheduler``, beat's entries are built from
this list), an in-process thread in the embedded default (``fangzhou serve``, ``fangzhou demo``);
either way a run is claimed in ``ops.JobRun`` first, so two schedulers firing the same slot run it
once (``fangzhou.ops.scheduler``).

Another app adds its periodic job with one line here (the job lives in that app's ``tasks.py``):

    Periodic("notices", "fangzhou.notices.tasks.notices_dispatch_due", every=dt.timedelta(minutes=1)),
    Periodic("notices-clock", "fangzhou.notices.tasks.notices_time_events", every=dt.timedelta(minutes=15)),
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    """A job run every ``every``, or once a day at ``at`` (the server's ``TIME_ZONE``)."""

    name: str
    job: str
    every: dt.timedelta | None = None
    at: dt.time | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"schedule entry {self.name!r}: give exactly one of every= and at=")


SCHEDULE: tuple[Periodic, ...] = (
    Periodic("escalate", "fangzhou.workorders.tasks.orders_escalate", every=dt.timedelta(minutes=5)),
    Periodic("escorts", "fangzhou.care.tasks.escorts_ensure", every=dt.timedelta(minutes=15)),
    Periodic("checkins-close", "fangzhou.care.tasks.checkins_close_all", at=dt.time(22, 30)),
    Periodic("delivery-sweep", "fangzhou.supplies.tasks.deliveries_sweep_all", at=dt.time(22, 30)),
    Periodic("backup", "fangzhou.ops.tasks.backup_nightly", at=dt.time(3, 15)),
    Periodic("retention", "fangzhou.ops.tasks.retention_run", at=dt.time(3, 30)),
    Periodic("federation", "fangzhou.reports.tasks.federation_pull", every=dt.timedelta(minutes=15)),
    Periodic("notices", "fangzhou.notices.tasks.notices_dispatch_due", every=dt.timedelta(minutes=1)),
    Periodic("notices-clock", "fangzhou.notices.tasks.notices_time_events", every=dt.timedelta(minutes=15)),
    Periodic("vacuum", "fangzhou.ops.tasks.hot_tables_vacuum", every=dt.timedelta(minutes=10)),
)
