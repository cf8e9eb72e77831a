"""Jobs of the notices room (``fangzhou.lib.jobs``): sending a notice, and what is due."""

from __future__ import annotations

from typing import Any

from fangzhou.lib.jobs import job
from fangzhou.notices.services import notices_dispatch


@job
def notices_dispatch_notice(*, notice_id: int) -> dict[str, Any]:
    """Send one notice's queued deliveries (queued by its fan-out)."""
    report = notices_dispatch(notice_id=notice_id)
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}


@job
def notices_dispatch_notices(*, notice_ids: list[int]) -> dict[str, Any]:
    """Send the queued deliveries of many notices written at once (``notices_send_many``)."""
    report = notices_dispatch(notice_ids=notice_ids)
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}


@job
def notices_dispatch_due() -> dict[str, Any]:
    """Send every delivery that is due: retries whose backoff ended, notices held by quiet hours or
    the rate cap. Run it every minute from the in-app schedule (or Celery beat)."""
    report = notices_dispatch()
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed, "quiet": report.quiet}


@job
def notices_time_events() -> dict[str, int]:
    """What is told on the clock, for every community: today's sampling times, zone changes since
    yesterday, home monitoring that ended (each notice once: the schedule may run this often)."""
    from django.utils import timezone

    from fangzhou.notices.events import monitoring_ends_tell, sampling_times_tell, zone_changes_tell
    from fangzhou.registry.models import Community

    told = {"sampling": 0, "zones": 0, "monitoring": 0}
    now = timezone.now()
    for community in Community.objects.order_by("pk"):
        today = timezone.localdate(now, community.tzinfo)
        told["sampling"] += sampling_times_tell(community, now)
        told["zones"] += zone_changes_tell(community, today)
        told["monitoring"] += monitoring_ends_tell(community, today)
    return told
