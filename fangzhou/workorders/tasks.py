"""Background jobs of the work-order queue (ids in, safe to repeat)."""

from __future__ import annotations

from fangzhou.lib.jobs import job
from fangzhou.workorders.services import work_orders_escalate


@job
def orders_escalate() -> dict[str, int]:
    """Past-due orders of every community up to the group lead, then the committee (the schedule's ``escalate``)."""
    return work_orders_escalate()
