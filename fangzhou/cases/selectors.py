"""Reads for cases that other apps rely on."""

from __future__ import annotations

import datetime as dt

from fangzhou.cases.models import Case
from fangzhou.registry.models import Community


def residents_exempt_from_testing(community: Community, on: dt.date) -> set[int]:
    """Residents who are not expected at a mass round on ``on``: confirmed cases (in isolation,
    or within their post-discharge monitoring). The cases work refines this with discharge dates."""
    return set(
        Case.objects.filter(community=community, report_date__lte=on).values_list("resident_id", flat=True)
    )
