"""Background jobs of the care app (ids in, safe to repeat)."""

from __future__ import annotations

from fangzhou.care.services import care_escorts_ensure
from fangzhou.lib.jobs import job
from fangzhou.registry.models import Community


@job
def escorts_ensure(*, community_id: int | None = None) -> int:
    """Create the escort orders due now; run it on a schedule (e.g. every 15 minutes)."""
    community = Community.objects.get(pk=community_id) if community_id is not None else None
    return care_escorts_ensure(community=community).created
