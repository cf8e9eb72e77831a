"""The scheduling core and the walking order, on tiny hand-made cases."""

from __future__ import annotations

import itertools

import pytest

from fangzhou.testing.schedule import Building, Site, schedule_round, window_minutes


def test_window_is_enough_for_everyone_at_the_desks() -> None:
    assert window_minutes(100, desks=2, per_desk_per_minute=2.0, step=10) == 30  # 25 min → 30
    assert window_minutes(1, desks=1, per_desk_per_minute=2.0, step=10) == 10
    with pytest.raises(ValueError):
        window_minutes(10, desks=0, per_desk_per_minute=2.0, step=10)


def test_buildings_never_overlap_at_a_site_and_go_to_the_nearest_site() -> None:
    sites = [Site(1, 0, 0, desks=2, opens=7 * 60, closes=9 * 60), Site(2, 100, 0, desks=1, opens=7 * 60, closes=9 * 60)]
    buildings = [Building(10, 5, 0, 80), Building(11, 10, 0, 40), Building(12, 95, 0, 30), Building(13, None, None, 0)]
    plan = schedule_round(sites, buildings)
    by_building = {s.building_id: s for s in plan.slots}
    assert by_building[12].site_id == 2 and by_building[10].site_id == 1 and by_building[11].site_id == 1
    assert 13 not in by_building and plan.unscheduled == []  # nobody to sample: no slot
    at_site_1 = sorted((s for s in plan.slots if s.site_id == 1), key=lambda s: s.start)
    for a, b in itertools.pairwise(at_site_1):
        assert a.end <= b.start  # one building at a time
    assert at_site_1[0].start == 7 * 60 and at_site_1[0].building_id == 10  # the nearest first
    for slot in plan.slots:
        site = next(s for s in sites if s.id == slot.site_id)
        assert (slot.end - slot.start) * site.desks * 2.0 >= slot.people  # queue fits the window


def test_overflow_goes_to_the_next_site_then_unscheduled() -> None:
    sites = [Site(1, 0, 0, desks=1, opens=0, closes=30), Site(2, 50, 0, desks=1, opens=0, closes=30)]
    buildings = [Building(1, 0, 0, 60), Building(2, 1, 0, 60), Building(3, 2, 0, 60)]
    plan = schedule_round(sites, buildings)
    assert {s.building_id: s.site_id for s in plan.slots} == {1: 1, 2: 2}
    assert plan.unscheduled == [3]
    assert schedule_round([], buildings).unscheduled == [1, 2, 3]
