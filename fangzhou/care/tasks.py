"""Background jobs of the care app (ids in, safe to repeat)."""

from __future__ import annotations

from django.utils import timezone

from fangzhou.care.services import care_checkins_close, care_escorts_ensure
from fangzhou.lib.jobs import job
from fangzhou.registry.models import Community


@job
def escorts_ensure(*, community_id: int | None = None) -> int:
    """Create the escort orders due now; run it on a schedule (e.g. every 15 minutes)."""
    community = Community.objects.get(pk=community_id) if community_id is not None else None
    return care_escorts_ensure(community=community).created


@job
def checkins_close_all() -> dict[str, int]:
    """End of the check-in day in every community (the schedule's ``checkins-close``); each
    community's day on its own clock. Safe to repeat: one order per person per day."""
    total = {"communities": 0, "missed": 0, "created": 0}
    for community in Community.objects.order_by("pk"):
        on = timezone.localtime(timezone=community.tzinfo).date()
        report = care_checkins_close(community=community, actor=None, on=on)
        total["communities"] += 1
        total["missed"] += report.missed
        total["created"] += report.created
    return total
