"""The linear zone report (one grouped read of last case dates, the core classifying each
compound and micro-zone from its last case) gives exactly what the per-compound scan gave."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangzhou.cases.models import Case
from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building, Compound, Resident
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.zones.core import (
    RULE_SETS,
    CaseHistory,
    DayClassifier,
    RuleSet,
    classify_compound_with_blocks,
    floor_timeline,
)
from fangzhou.zones.selectors import TIMELINE_DAYS, ZoneReport, microzones_active, zone_report, zone_reports
from fangzhou.zones.services import microzone_dissolve, microzone_draw, zone_override_create, zone_rules_set

D = dt.date


# --------------------------------------------------------------------------------------------------
# The core: a place's state needs only its last case; a timeline only the recent dates


@pytest.mark.parametrize("seed", range(40))
def test_day_classifier_equals_the_full_history(seed: int) -> None:
    rng = random.Random(seed)
    base = D(2022, 3, 1)
    dates = [base + dt.timedelta(days=rng.randrange(120)) for _ in range(rng.randrange(0, 8))]
    rounds = None
    if seed % 2:
        rounds = {base + dt.timedelta(days=rng.randrange(130)): rng.random() < 0.6 for _ in range(rng.randrange(6))}
    for rules in RULE_SETS.values():
        for on in (base + dt.timedelta(days=k) for k in range(0, 140, 7)):
            full = CaseHistory(dates, rounds)
            classifier = DayClassifier(on, rules, rounds)
            assert classifier.state(full.last_case_on(on)) == full.classify(on, rules)
            start = on - dt.timedelta(days=TIMELINE_DAYS)
            since = DayClassifier.timeline_needs_from(start, rules)
            older = [d for d in dates if d < since]
            kept = [d for d in dates if since <= d <= on] + ([max(older)] if older else [])
            assert classifier.history(kept).timeline(start, on, rules) == full.timeline(start, on, rules)


def test_day_classifier_refuses_a_case_after_the_day() -> None:
    with pytest.raises(ValueError):
        DayClassifier(D(2022, 4, 1)).state(D(2022, 4, 2))


# --------------------------------------------------------------------------------------------------
# The selector, against the scan it replaces (kept here as the reference)


def reference(
    world: World, on: dt.date, rules: RuleSet, rounds: dict[dt.date, bool] | None = None
) -> dict[str, object]:
    """The per-compound scan zone_report did before: every case date of a compound, every building
    scanned for every compound."""
    community = world.community
    cases: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    per_building: Counter[int] = Counter()
    for day, building_id, compound_id in Case.objects.filter(community=community, report_date__lte=on).values_list(
        "report_date", "building_id", "building__compound_id"
    ):
        cases[compound_id].append((day, str(building_id)))
        per_building[building_id] += 1
    blocks: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for mz in microzones_active(community, on).prefetch_related("buildings"):
        blocks[mz.compound_id][f"z{mz.pk}"] = [str(b.pk) for b in mz.buildings.all()]
    start = on - dt.timedelta(days=TIMELINE_DAYS)
    places: dict[str, tuple[str, int, list[tuple[dt.date, str]]]] = {}
    buildings: list[tuple[int, str, int]] = []
    for compound in Compound.objects.filter(community=community).order_by("id"):
        cz = classify_compound_with_blocks(
            cases.get(compound.pk, []), blocks.get(compound.pk, {}), on, rules, rounds=rounds
        )
        owner = cz.block_of_building
        proper = [d for d, b in cases.get(compound.pk, []) if b not in owner]
        block_lines = {}
        for key in blocks.get(compound.pk, {}):
            dates = [d for d, b in cases.get(compound.pk, []) if owner.get(b) == key]
            block_lines[key] = CaseHistory(dates, rounds).timeline(start, on, rules)
            places[key] = (cz.blocks[key].status, len(dates), block_lines[key])
        # the compound proper is held at its blocks' floor on every day of its timeline too
        own_line = CaseHistory(proper, rounds).timeline(start, on, rules)
        places[f"c{compound.pk}"] = (cz.compound.status, len(proper), floor_timeline(own_line, block_lines, rules))
        states = {f"c{compound.pk}": cz.compound.status, **{k: v.status for k, v in cz.blocks.items()}}
        for b in Building.objects.filter(compound=compound).order_by("sort_key", "number"):
            buildings.append((b.pk, states[owner.get(str(b.pk)) or f"c{compound.pk}"], per_building.get(b.pk, 0)))
    return {"places": places, "buildings": buildings}


def observed(report: ZoneReport) -> dict[str, object]:
    return {
        "places": {p.key: (p.state.rule_status, p.cases, p.timeline) for p in [*report.compounds, *report.microzones]},
        "buildings": [(b.id, b.state.rule_status, b.cases) for b in report.buildings],
    }


@pytest.fixture
def history(world: World) -> World:
    """Two compounds, seven buildings, cases over 110 days, two blocks (one dissolved later), an
    override."""
    born = dt.date(1975, 6, 1)
    rows = [
        [compound, str(b), str(100 + r), f"住户{chr(0x4E00 + i)}", make_id("310107", born, i, i % 2 == 0), "", "", ""]
        for i, (compound, b, r) in enumerate(
            (c, b, r)
            for c, bs in (("阳光小区", (3, 5, 6, 7)), ("月亮小区", (1, 2, 8)))
            for b in bs
            for r in range(1, 5)
        )
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="h.xlsx")
    rng = random.Random(3)
    people = list(Resident.objects.filter(community=world.community).order_by("id"))
    base = D(2022, 1, 10)
    for person in people:
        for day in {base + dt.timedelta(days=rng.randrange(110)) for _ in range(rng.randrange(3))}:
            case_confirm(resident=person, report_date=day, source="staff", actor=None)
    sun = Compound.objects.get(community=world.community, name="阳光小区")
    b = {x.number: x for x in Building.objects.filter(compound=sun)}
    microzone_draw(
        compound=sun,
        name="大块",
        building_ids=[b["5"].pk, b["7"].pk],
        drawn_on=D(2022, 3, 1),
        actor=None,
        accept_cut_off=True,
    )
    small = microzone_draw(
        compound=sun, name="小块", building_ids=[b["6"].pk], drawn_on=D(2022, 3, 20), actor=None, accept_cut_off=True
    )
    microzone_dissolve(microzone_id=small.microzone.pk, on=D(2022, 4, 15), actor=None)
    moon = Compound.objects.get(community=world.community, name="月亮小区")
    zone_override_create(
        community=world.community,
        compound=moon,
        status="sealed",
        reason="上级要求",
        until=D(2022, 4, 10),
        actor=world.secretary,
        since=D(2022, 3, 25),
    )
    return world


@pytest.mark.django_db
@pytest.mark.parametrize("rule", sorted(RULE_SETS))
def test_the_linear_report_gives_what_the_scan_gave(history: World, rule: str) -> None:
    zone_rules_set(community=history.community, rule_set=rule, actor=None)
    rules = RULE_SETS[rule]
    for on in (D(2022, 1, 5), D(2022, 2, 20), D(2022, 3, 21), D(2022, 4, 1), D(2022, 4, 30), D(2022, 7, 1)):
        report = zone_report(history.community, on)
        assert report.rules == rules
        # counted without the per-building list, as the daily report and the overview count them
        counts = zone_report(history.community, on).buildings_by_status()
        assert observed(report) == reference(history, on, rules), (rule, on)
        listed = Counter(b.state.status for b in report.buildings)
        assert counts == {s: listed.get(s, 0) for s in rules.statuses}, (rule, on)
    # Several communities at once give each one's report, and the places-only form the same places.
    on = D(2022, 4, 1)
    both = zone_reports([history.community, history.other], on)
    light = zone_reports([history.community, history.other], on, buildings=False)
    assert observed(both[history.community.pk]) == reference(history, on, rules)
    assert observed(light[history.community.pk])["places"] == reference(history, on, rules)["places"]
    assert light[history.community.pk].buildings == []
    # and the same counts per status without the per-building counts (the daily report's read)
    assert light[history.community.pk].buildings_by_status() == both[history.community.pk].buildings_by_status()
    assert [p.state for p in both[history.other.pk].compounds] == [
        p.state for p in zone_report(history.other, on).compounds
    ]
    # The override shows on the compound it was made for, over the rules.
    moon = next(p for p in both[history.community.pk].compounds if p.name == "月亮小区")
    assert moon.state.overridden and moon.state.status == rules.statuses[0]


@pytest.mark.django_db
def test_the_gate_holds_as_the_scan_held(history: World) -> None:
    """national-9 with the clean-round gate and no closed round: every downgrade is held."""
    zone_rules_set(community=history.community, rule_set="national-9", actor=None, clean_round_gate=True)
    rules = RULE_SETS["national-9"]
    for on in (D(2022, 3, 21), D(2022, 4, 30), D(2022, 7, 1)):
        report = zone_report(history.community, on)
        assert report.gated
        assert observed(report) == reference(history, on, rules, rounds={}), on


@pytest.mark.django_db
def test_one_building_is_its_row_of_the_list(history: World) -> None:
    """``ZoneReport.building(pk)`` (the public building page) reads one building's row: the same
    row as the whole list's, for a building in a micro-zone and one outside; None for a building
    of another community."""
    for on in (D(2022, 3, 21), D(2022, 4, 1), D(2022, 4, 30)):
        listed = zone_report(history.community, on).buildings
        for b in listed:
            assert zone_report(history.community, on).building(b.id) == b, on
        assert zone_report(history.community, on).building(history.other_building.pk) is None


@pytest.mark.django_db
def test_a_dropped_report_is_freed_without_the_collector(history: World) -> None:
    """No reference cycle between a report, its places and its loaders: a report dropped after
    its buildings and timelines were read is freed at once (the garbage collector off)."""
    import gc
    import weakref

    gc.collect()
    gc.disable()
    try:
        report = zone_report(history.community, D(2022, 4, 1))
        assert report.buildings and report.compounds[0].timeline
        gone = weakref.ref(report)
        place = weakref.ref(report.compounds[0])
        del report
        assert gone() is None and place() is None
    finally:
        gc.enable()


@pytest.mark.django_db
def test_places_with_blocks_and_an_override_in_two_statements(history: World) -> None:
    """The compounds (with the zone settings), then the micro-zones with their members and the
    overrides together: two round trips for the places however many blocks and overrides are active."""
    on = D(2022, 4, 1)
    with CaptureQueriesContext(connection) as queries:
        report = zone_report(history.community, on)
        keys = {p.key for p in [*report.compounds, *report.microzones]}
        moon = next(p for p in report.compounds if p.name == "月亮小区")
    assert len(queries) == 2, [q["sql"] for q in queries.captured_queries]
    assert len(report.microzones) == 2 and len(keys) == 4
    assert moon.state.overridden and moon.override_id is not None
