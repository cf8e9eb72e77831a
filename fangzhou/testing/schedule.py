"""Scheduling core for a mass PCR round (错峰): each building a time window at a sampling site.

Pure Python, no Django import. The rule, greedy and easy to check by hand:

- a building goes to the nearest site that still has time left before it closes;
- at a site, buildings come one after another, never two at once ("buildings stay apart"): each
  gets its own window, long enough for all its residents at the site's throughput
  (``desks * per_desk_per_minute``), rounded up to ``step`` minutes, so the queue never outgrows
  what the desks can sample in that window ("queues stay short");
- buildings are placed largest first, so the big ones get the near sites; at each site the windows
  are then ordered by distance (the nearest building first) so the walk to the site is short when
  the queue is longest;
- a building that fits at no site is returned in ``unscheduled`` (add a site, a desk or hours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    x: float
    y: float
    desks: int
    opens: int  # minutes after midnight
    closes: int


@dataclass(frozen=True, slots=True)
class Building:
    id: int
    x: float | None
    y: float | None
    people: int


@dataclass(frozen=True, slots=True)
class Slot:
    building_id: int
    site_id: int
    start: int  # minutes after midnight
    end: int
    people: int


@dataclass
class Schedule:
    slots: list[Slot] = field(default_factory=list)
    unscheduled: list[int] = field(default_factory=list)


def window_minutes(people: int, desks: int, per_desk_per_minute: float, step: int) -> int:
    """Minutes a building needs at a site, rounded up to ``step`` (at least one step)."""
    if desks < 1 or per_desk_per_minute <= 0 or step < 1:
        raise ValueError("need desks >= 1, per_desk_per_minute > 0, step >= 1")
    raw = people / (desks * per_desk_per_minute)
    return max(step, math.ceil(raw / step) * step)


def _distance(site: Site, building: Building) -> float:
    if building.x is None or building.y is None:
        return 0.0
    return math.hypot(site.x - building.x, site.y - building.y)


def schedule_round(
    sites: list[Site],
    buildings: list[Building],
    *,
    per_desk_per_minute: float = 2.0,
    step: int = 10,
) -> Schedule:
    """Give each building a window at a site; see the module docstring for the rule."""
    result = Schedule()
    if not sites:
        result.unscheduled = [b.id for b in buildings]
        return result
    used = {s.id: 0 for s in sites}  # minutes already given at each site
    chosen: dict[int, list[tuple[Building, int]]] = {s.id: [] for s in sites}
    for building in sorted(buildings, key=lambda b: (-b.people, b.id)):
        if building.people <= 0:
            continue
        for site in sorted(sites, key=lambda s: (_distance(s, building), s.id)):
            need = window_minutes(building.people, site.desks, per_desk_per_minute, step)
            if used[site.id] + need <= site.closes - site.opens:
                used[site.id] += need
                chosen[site.id].append((building, need))
                break
        else:
            result.unscheduled.append(building.id)
    for site in sites:
        start = site.opens
        for building, need in sorted(chosen[site.id], key=lambda item: (_distance(site, item[0]), item[0].id)):
            result.slots.append(Slot(building.id, site.id, start, start + need, building.people))
            start += need
    result.slots.sort(key=lambda s: (s.start, s.site_id))
    return result
