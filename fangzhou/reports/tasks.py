"""Background jobs of the reports app (registered for the schedule)."""

from __future__ import annotations

from fangzhou.lib.jobs import job
from fangzhou.reports.federation import federation_pull as _pull


@job
def federation_pull() -> dict[str, str]:
    """Every federated peer's counts-only daily table, pulled over its API (the schedule's ``federation``)."""
    return _pull()
