"""Boundaries of the zone rules that a mutation test found unpinned: each fails if a bound is off by one."""

from __future__ import annotations

import datetime as dt

import pytest

from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import World
from fangzhou.zones.core import RULE_SETS, Override, classify
from fangzhou.zones.selectors import sealed_building_ids, zone_report
from fangzhou.zones.services import zone_override_create, zone_override_end

D = dt.date(2022, 4, 10)
SH04 = RULE_SETS["shanghai-2022-04"]
N9 = RULE_SETS["national-9"]


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


# --------------------------------------------------------------------------- the core


def test_an_override_is_in_force_from_its_first_to_its_last_day_inclusive() -> None:
    # The case on D seals the place until day 6; the override says controlled on days 2..4.
    o = Override(status="controlled", reason="街道决定", by="wang", since=day(2), until=day(4))
    got = {n: classify([D], day(n), SH04, override=o) for n in range(1, 6)}
    assert [(n, s.status, s.overridden) for n, s in got.items()] == [
        (1, "sealed", False),  # the day before it starts
        (2, "controlled", True),  # its first day
        (3, "controlled", True),
        (4, "controlled", True),  # its last day: still in force
        (5, "sealed", False),  # the day after: the rules again
    ]
    # On its last day the page announces the change for the day after, not for that day.
    assert (got[4].next_change_on, got[4].next_status) == (day(5), "sealed")


def test_a_round_dated_the_day_of_the_last_case_counts_for_the_clean_round_gate() -> None:
    # "the latest round dated before the downgrade, and not before the latest case"
    assert classify([D], day(7), N9, rounds={D: True}).status == "medium"
    assert classify([D], day(10), N9, rounds={D: True}).status == "low"
    assert classify([D], day(6), N9, rounds={D: True}).status == "high"  # the window still runs
    # a positive round that day holds the downgrade; a clean round the day before says nothing
    assert classify([D], day(7), N9, rounds={D: False}).status == "high"
    assert classify([D], day(7), N9, rounds={day(-1): True}).status == "high"
    # with two cases, a round on the day of the first one does not count after the second
    assert classify([day(-3), D], day(7), N9, rounds={day(-3): True}).status == "high"
    assert classify([day(-3), D], day(7), N9, rounds={day(-3): True, D: True}).status == "medium"


# --------------------------------------------------------------------------- through the selectors


@pytest.mark.django_db
def test_a_compound_override_holds_on_its_last_day_and_ends_the_day_after(world: World) -> None:
    case_confirm(resident=world.resident("张伟"), report_date=D, source="pooled_pcr", actor=None)
    compound = world.b3.compound
    override = zone_override_create(
        community=world.community,
        actor=world.secretary,
        status="controlled",
        reason="街道通知提前解封",
        since=day(2),
        until=day(4),
        compound=compound,
    )

    def compound_state(n: int) -> tuple[str, bool]:
        report = zone_report(world.community, day(n))
        place = next(p for p in report.compounds if p.id == compound.pk)
        return place.state.status, place.state.overridden

    assert [compound_state(n) for n in (1, 2, 4, 5)] == [
        ("sealed", False),
        ("controlled", True),
        ("controlled", True),
        ("sealed", False),
    ]
    assert world.b3.pk not in sealed_building_ids(world.community, day(4))
    assert world.b3.pk in sealed_building_ids(world.community, day(5))

    # Ended early on day 3: in force on day 2, no longer on the day it was ended.
    zone_override_end(override_id=override.pk, on=day(3), actor=world.secretary)
    assert compound_state(2) == ("controlled", True)
    assert compound_state(3) == ("sealed", False)
