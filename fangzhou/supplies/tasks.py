"""Background jobs of the supplies app (run through ``fangzhou.lib.jobs.job_enqueue``; ids in, safe to repeat)."""

from __future__ import annotations

from django.utils import timezone

from fangzhou.lib.jobs import job
from fangzhou.supplies.models import Distribution
from fangzhou.supplies.services import deliveries_sweep
from fangzhou.supplies.services import route_plan_run as _run


@job
def route_plan_run(*, plan_id: int) -> int:
    """Solve one queued route plan."""
    return _run(plan_id=plan_id).pk


@job
def deliveries_sweep_all() -> dict[str, int]:
    """End of the day in every community (the schedule's ``delivery-sweep``): each open distribution's
    undelivered doors become work orders, once per door."""
    total = {"distributions": 0, "orders": 0, "created": 0}
    for distribution in Distribution.objects.filter(closed_at__isnull=True).select_related("community"):
        on = timezone.localtime(timezone=distribution.community.tzinfo).date()
        report = deliveries_sweep(distribution=distribution, actor=None, on=on)
        total["distributions"] += 1
        total["orders"] += report.orders
        total["created"] += report.created
    return total
