"""Background jobs of the supplies app (run through ``fangzhou.lib.jobs.job_enqueue``; ids in, safe to repeat)."""

from __future__ import annotations

from fangzhou.lib.jobs import job
from fangzhou.supplies.services import route_plan_run as _run


@job
def route_plan_run(*, plan_id: int) -> int:
    """Solve one queued route plan."""
    return _run(plan_id=plan_id).pk
