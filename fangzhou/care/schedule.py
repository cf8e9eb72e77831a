"""Treatment sessions from a weekly schedule, as pure Python (no Django): which sessions fall in a
window, and which are due for an escort order given the lead time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class WeeklySchedule:
    """Sessions on ISO ``weekdays`` (1 = Monday … 7 = Sunday) at ``at`` local time, between the
    optional first and last day (both included)."""

    weekdays: frozenset[int]
    at: dt.time
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.weekdays or any(d < 1 or d > 7 for d in self.weekdays):
            raise ValueError("weekdays must be ISO days 1..7, at least one")


def parse_weekdays(text: str | Iterable[int]) -> frozenset[int]:
    """'1,3,5' or [1, 3, 5] → frozenset({1, 3, 5}); raises ValueError on anything else."""
    values = [int(p) for p in text.replace("，", ",").split(",") if p.strip()] if isinstance(text, str) else list(text)
    days = frozenset(values)
    if not days or any(d < 1 or d > 7 for d in days):
        raise ValueError("weekdays must be ISO days 1..7")
    return days


def sessions_between(schedule: WeeklySchedule, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Session start times ``t`` with ``start < t <= end``, in order. ``start``/``end`` carry the
    time zone of the sessions (aware or naive, the same for both)."""
    day = start.date()
    while day <= end.date():
        if (
            day.isoweekday() in schedule.weekdays
            and (schedule.starts_on is None or day >= schedule.starts_on)
            and (schedule.ends_on is None or day <= schedule.ends_on)
        ):
            moment = dt.datetime.combine(day, schedule.at, tzinfo=start.tzinfo)
            if start < moment <= end:
                yield moment
        day += dt.timedelta(days=1)


def sessions_due(schedule: WeeklySchedule, now: dt.datetime, lead: dt.timedelta) -> list[dt.datetime]:
    """Sessions that start within ``lead`` from ``now``: each needs its escort order by now."""
    return list(sessions_between(schedule, now, now + lead))
