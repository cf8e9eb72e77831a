"""Zone status of a community on a date, derived from the case facts (never stored).

``zone_report`` loads the facts (cases with their report date and building, the active
micro sealed zones, manual overrides) and calls the pure core for every compound, block
and building.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import weakref
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router
from django.db.models import Case as DbCase
from django.db.models import Count, F, Field, Max, Model, Q, QuerySet, When

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q
from fangzhou.cases.models import Case
from fangzhou.registry.addressing import building_label
from fangzhou.registry.models import Building, Community, Compound
from fangzhou.zones.core import (
    DEFAULT_RULE_SET,
    RULE_SETS,
    DayClassifier,
    Override,
    RuleSet,
    ZoneState,
    apply_override,
    floor_state,
    floor_timeline,
    nested_blocks,
    smallest_block_per_building,
)
from fangzhou.zones.models import MicroZone, ZoneOverride, ZoneSettings

# Colours by severity (0 = lowest): green, amber, red. Readable in sunlight.
# Each reads at WCAG AA (4.5:1) with its text colour (registry templatetag ``ink``): dark on the first two,
# white on the last two (#c0392b: 5.6:1; it was #e0493b, 4.04:1).
SEVERITY_COLOURS = ("#8fd18b", "#f6b94f", "#c0392b", "#8b0000")
TIMELINE_DAYS = 60


class UnknownRuleSet(ValueError):
    def __init__(self, name: str) -> None:
        names = ", ".join(RULE_SETS)
        super().__init__(f"未知的规则「{name}」，可选：{names} / unknown rule set {name!r}; choose one of {names}")


def rule_set_named(name: str | None) -> RuleSet:
    if not name:
        return DEFAULT_RULE_SET
    if name not in RULE_SETS:
        raise UnknownRuleSet(name)
    return RULE_SETS[name]


def rule_set_for(community: Community) -> RuleSet:
    row = ZoneSettings.objects.filter(community=community).first()
    return RULE_SETS.get(row.rule_set, DEFAULT_RULE_SET) if row else DEFAULT_RULE_SET


def microzones_active(community: Community, on: dt.date) -> QuerySet[MicroZone]:
    return microzones_active_in([community.pk], on)


def microzones_active_in(community_ids: Sequence[int], on: dt.date) -> QuerySet[MicroZone]:
    return MicroZone.objects.filter(community_id__in=community_ids, drawn_on__lte=on).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=on)
    )


def _map_status(status: str, rules: RuleSet) -> str | None:
    """An override made under another rule set, mapped by severity (sealed ~ high ...)."""
    if status in rules.statuses:
        return status
    for other in RULE_SETS.values():
        if status in other.statuses and len(other.statuses) == len(rules.statuses):
            return rules.statuses[other.index(status)]
    return None


# A community has tens of thousands of compounds: no list of its own for each (a compound's
# ``building_ids`` is the shared empty tuple; a micro-zone's are its members).
@dataclass
class PlaceZone:
    key: str
    id: int
    name: str
    compound: str
    state: ZoneState
    cases: int = 0
    building_ids: Sequence[int] = ()
    override_id: int | None = None
    # The timeline is drawn on one page only: it is loaded for the whole report on first use.
    _timeline: list[tuple[dt.date, str]] | None = field(default=None, repr=False, compare=False)
    # A weak reference: the report keeps its loader alive, and nothing the loader holds leads back
    # to the report, so a report is freed as soon as it is dropped (no cycle for the garbage
    # collector to find among tens of thousands of places).
    _load_timelines: weakref.ref[_TimelineLoader] | None = field(default=None, repr=False, compare=False)

    @property
    def timeline(self) -> list[tuple[dt.date, str]]:
        """Change points of the last ``TIMELINE_DAYS`` days up to the report's day."""
        if self._timeline is None and self._load_timelines is not None:
            load = self._load_timelines()
            if load is None:
                raise RuntimeError("PlaceZone.timeline: keep the ZoneReport this place came from while reading it")
            load()
        return self._timeline or []

    @property
    def countdown(self) -> int | None:
        if self.state.next_change_on is None:
            return None
        return (self.state.next_change_on - self.state.on).days


class BuildingZone(NamedTuple):
    """One building's zone on the report's day (a plain row: a community has thousands)."""

    id: int
    compound_id: int
    compound: str
    label: str
    number: str
    zone: str | None  # micro-zone name or None (the compound proper)
    zone_key: str
    state: ZoneState
    cases: int
    x: float | None
    y: float | None
    width: float
    depth: float
    footprint: Sequence[Sequence[float]]  # () when none (one shared empty value, not a list per building)

    @property
    def full_label(self) -> str:
        return building_label(self.compound, self.number)


@dataclass
class ZoneReport:
    community: Community
    on: dt.date
    rules: RuleSet
    compounds: list[PlaceZone]
    microzones: list[PlaceZone]
    gated: bool = False
    # Buildings per place key ("c<compound>" or "z<micro-zone>"): enough for the counts per status.
    building_counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # The per-building list is drawn on some pages only: it is read for the whole batch on first use.
    _buildings: list[BuildingZone] | None = field(default=None, repr=False, compare=False)
    _building_loader: _BuildingLoader | None = field(default=None, repr=False, compare=False)
    _timeline_loader: _TimelineLoader | None = field(default=None, repr=False, compare=False)
    _places: dict[str, PlaceZone] | None = field(default=None, repr=False, compare=False)

    @property
    def buildings(self) -> list[BuildingZone]:
        """Every building with its zone (empty for a report read with ``buildings=False``)."""
        if self._buildings is None and self._building_loader is not None:
            self._building_loader()
        return self._buildings or []

    def building(self, pk: int) -> BuildingZone | None:
        """One building's row of :attr:`buildings` (None if it is not in the report), without
        reading the whole list when it has not been read."""
        if self._buildings is None and self._building_loader is not None:
            return self._building_loader.one(pk)
        return next((b for b in self.buildings if b.id == pk), None)

    def buildings_by_status(self) -> dict[str, int]:
        """How many buildings are in each status of the rule set (every status, 0 if none),
        without making the per-building list."""
        states = {p.key: p.state.status for p in [*self.compounds, *self.microzones]}
        out = dict.fromkeys(self.rules.statuses, 0)
        for key, n in self.building_counts.items():
            status = states[key]
            out[status] = out.get(status, 0) + n
        return out

    def label(self, status: str, lang: str = "zh") -> str:
        return self.rules.label(status, lang)

    def colour(self, status: str) -> str:
        return SEVERITY_COLOURS[min(self.rules.severity(status), len(SEVERITY_COLOURS) - 1)]

    def place(self, key: str) -> PlaceZone | None:
        if self._places is None:  # an index, not a scan: the site plan asks once per building
            self._places = {p.key: p for p in [*self.compounds, *self.microzones]}
        return self._places.get(key)

    def holding_block(self, state: ZoneState) -> PlaceZone | None:
        """The micro sealed block whose floor holds ``state`` at its status (None if none)."""
        if state.floor_from is None or state.overridden:
            return None
        return self.place(state.floor_from)

    def held_by(self, state: ZoneState) -> str:
        """The name of :meth:`holding_block` ("" if none)."""
        block = self.holding_block(state)
        return block.name if block is not None else ""

    def days_without_case(self) -> int | None:
        lasts = [p.state.last_case_on for p in self.compounds if p.state.last_case_on]
        lasts += [p.state.last_case_on for p in self.microzones if p.state.last_case_on]
        return (self.on - max(lasts)).days if lasts else None


def zone_report(community: Community, on: dt.date, rules: RuleSet | None = None) -> ZoneReport:
    """Status of every compound, micro-zone and building of ``community`` on ``on``."""
    return zone_reports([community], on, rules=rules)[community.pk]


def _rounds_by_community(ids: list[int], on: dt.date) -> dict[int, dict[dt.date, bool]] | None:
    """Closed mass rounds up to ``on`` per community (date -> all tubes resulted negative) for the
    clean-round gate; None (gate not applied) if the testing app is not installed."""
    try:
        model = apps.get_model("testing", "Round")
    except LookupError:
        return None
    rows = (
        model.objects.filter(community_id__in=ids, date__lte=on, status="closed")
        .annotate(bad=Count("tubes", filter=~Q(tubes__lab_result__result="negative")))
        .values_list("community_id", "date", "bad")
    )
    out: dict[int, dict[dt.date, bool]] = defaultdict(dict)
    for community_id, day, bad in rows:
        out[community_id][day] = out[community_id].get(day, True) and bad == 0
    return out


def zone_reports(
    communities: Sequence[Community],
    on: dt.date,
    *,
    rules: RuleSet | None = None,
    buildings: bool = True,
    settings: Mapping[int, tuple[str | None, bool]] | None = None,
) -> dict[int, ZoneReport]:
    """:func:`zone_report` for many communities at once, in a fixed number of queries.

    Two statements whatever the size: every compound with its last case date up to ``on``, its
    number of cases and of buildings, summed in the database (``_COMPOUNDS``: one row per building
    instead in the compounds with an active micro-zone; with the zone settings unless the caller
    passes them: ``settings``, community id -> rule set name, clean-round gate); the active
    micro-zones with their members and the active overrides (``_MICRO_AND_OVERRIDES``). The pure
    core classifies each compound and micro-zone from its last case date (:class:`DayClassifier`),
    so the Python work is linear in compounds, not buildings. The per-building list
    (``ZoneReport.buildings``) is read on first use, for the whole batch, in one more statement
    (the buildings alone: each one's number of cases came on the compound rows, so the cases are
    aggregated once); ``ZoneReport.building(pk)`` reads one building's row;
    ``ZoneReport.buildings_by_status()`` counts without either. With ``buildings=False`` there is
    no per-building list and the compound rows carry no per-building counts (the subdistrict table
    needs only the compounds and micro-zones, the daily report their counts per status).
    Timelines are read on first use.
    """
    ids = [c.pk for c in communities]
    if not ids:
        return {}
    alias = router.db_for_read(Compound)
    day = connections[alias].ops.adapt_datefield_value(on)
    as_date = _DateReader()
    compound_rows = _rows(alias, _COMPOUND_STATEMENTS[settings is None, buildings], ids, day)
    settings_rows: Mapping[int, tuple[str | None, bool]] = (
        settings
        if settings is not None
        else {row[1]: (row[8], bool(row[9])) for row in compound_rows if row[9] is not None}
    )
    rules_of: dict[int, RuleSet] = {}
    gated_ids: list[int] = []
    for cid in ids:
        saved, gate = settings_rows.get(cid, (None, False))
        rules_of[cid] = rules or (RULE_SETS.get(saved, DEFAULT_RULE_SET) if saved else DEFAULT_RULE_SET)
        if gate and rules_of[cid].downgrade_needs_clean_round:
            gated_ids.append(cid)
    rounds = _rounds_by_community(gated_ids, on) if gated_ids else {}
    if rounds is None:  # no testing app: the gate cannot apply
        rounds, gated_ids = {}, []

    # The micro-zones and the overrides. In the compounds a micro-zone is drawn in, each building
    # came with its last case date and number of cases (one row each in ``_COMPOUNDS``): these
    # compounds are classified building by building.
    blocks_of: dict[int, dict[str, list[str]]] = defaultdict(dict)
    zone_names: dict[str, str] = {}
    zone_ids: dict[str, int] = {}
    overrides: dict[str, Override] = {}
    override_ids: dict[str, int] = {}
    for kind, row_id, compound_id, name, place_id, status, reason, since, until, display_name, username, *_ in _rows(
        alias, _MICRO_AND_OVERRIDES, ids, day
    ):
        if kind == 0:  # a micro-zone, with one of its buildings (None: none drawn)
            key = f"z{row_id}"
            zone_names[key], zone_ids[key] = name, row_id
            members = blocks_of[compound_id].setdefault(key, [])
            if place_id is not None:
                members.append(str(place_id))
            continue
        key = f"c{compound_id}" if compound_id else f"z{place_id}"  # an override of a compound or a micro-zone
        by = (display_name or username) if username is not None else "—"  # str(User), "—" if no one
        overrides[key] = Override(status, reason, by, as_date(until), as_date(since))
        override_ids[key] = row_id
    micro_buildings: dict[int, list[tuple[str, dt.date | None, int]]] = defaultdict(list)
    for row in compound_rows:
        if row[3] is not None:
            micro_buildings[row[0]].append((str(row[3]), None if row[5] is None else as_date(row[5]), row[6] or 0))

    reports: dict[int, ZoneReport] = {}
    classifiers: dict[int, DayClassifier] = {}
    for c in communities:
        cid = c.pk
        reports[cid] = ZoneReport(c, on, rules_of[cid], [], [], gated=cid in gated_ids)
        classifiers[cid] = DayClassifier(on, rules_of[cid], rounds.get(cid, {}) if cid in gated_ids else None)
    timelines = _TimelineLoader(ids, on, reports, classifiers)
    for report in reports.values():
        report._timeline_loader = timelines
    loader = weakref.ref(timelines)
    owners = timelines.owners

    def overridden(key: str, state: ZoneState, rules: RuleSet) -> tuple[ZoneState, int | None]:
        o = overrides.get(key)
        if o is None:
            return state, None
        status = _map_status(o.status, rules)
        if status is None:
            return state, None
        return apply_override(state, replace(o, status=status), on, rules), override_ids[key]

    # The states of a community by the driver's value of the last case date (a few hundred
    # distinct dates for any number of compounds).
    memo: dict[int, dict[Any, ZoneState]] = {cid: {} for cid in ids}
    classified: set[int] = set()  # the compounds with a micro-zone have one row per building
    for compound_id, community_id, name, _, n_buildings, raw_last, n_cases, *_ in compound_rows:
        report = reports[community_id]
        rules_here = report.rules
        classifier = classifiers[community_id]
        key = f"c{compound_id}"
        counts = report.building_counts
        blocks = blocks_of.get(compound_id)
        if not blocks:
            known = memo[community_id]
            state = known.get(raw_last)
            if state is None:
                state = known[raw_last] = classifier.state(None if raw_last is None else as_date(raw_last))
            oid = None
            if key in overrides:
                state, oid = overridden(key, state, rules_here)
            report.compounds.append(PlaceZone(key, compound_id, name, name, state, n_cases or 0, (), oid, None, loader))
            if n_buildings:
                counts[key] = n_buildings
            continue
        if compound_id in classified:
            continue
        classified.add(compound_id)
        # A compound with micro-zones: each building's cases go to its smallest block, or to the
        # compound proper; a block is held at the floor of the blocks inside it, the compound
        # proper at the floor of every block.
        owner = owners[compound_id] = smallest_block_per_building(blocks)
        proper_last: dt.date | None = None
        proper_count = 0
        block_last: dict[str, dt.date] = {}
        block_count: dict[str, int] = {}
        for b, last, n in micro_buildings.get(compound_id, ()):
            zone = owner.get(b)
            zkey = key if zone is None else zone
            counts[zkey] = counts.get(zkey, 0) + 1
            if last is None:
                continue
            if zone is None:
                proper_count += n
                if proper_last is None or last > proper_last:
                    proper_last = last
            else:
                block_count[zone] = block_count.get(zone, 0) + n
                if zone not in block_last or last > block_last[zone]:
                    block_last[zone] = last
        zone_state: dict[str, ZoneState] = {}
        inside = nested_blocks(blocks)
        block_oid: dict[str, int | None] = {}
        for bkey in sorted(blocks, key=lambda k: len(inside[k])):  # the smallest blocks first
            block_own = classifier.state(block_last.get(bkey))
            held_at = floor_state(block_own, {k: zone_state[k] for k in inside[bkey]}, rules_here)
            zone_state[bkey], block_oid[bkey] = overridden(bkey, held_at, rules_here)
        for bkey, members in blocks.items():
            report.microzones.append(
                PlaceZone(
                    bkey,
                    zone_ids[bkey],
                    zone_names[bkey],
                    name,
                    zone_state[bkey],
                    block_count.get(bkey, 0),
                    tuple(int(m) for m in members),
                    block_oid[bkey],
                    None,
                    loader,
                )
            )
        state = floor_state(classifier.state(proper_last), zone_state, rules_here)
        state, oid = overridden(key, state, rules_here)
        report.compounds.append(PlaceZone(key, compound_id, name, name, state, proper_count, (), oid, None, loader))
    if buildings:
        # Each building's number of cases ("id:n,id:n", the buildings with a case), read with the
        # compounds and kept as one string for the building list (parsed only if a page draws it).
        case_counts = ",".join([row[7] for row in compound_rows if row[7]])
        load = _BuildingLoader(alias, ids, reports, owners, zone_names, case_counts)
        for report in reports.values():
            report._building_loader = load
    return reports


# The statements of a report, written once with the models' own table and column names
# (``_statement``): ``{Model}`` is a table, ``{Model.field}`` a column, ``{ids}`` the communities'
# ids and ``{on}`` the report's day (``{one}`` a building's id). Plain cursors: none of the ORM's
# compiling or per-value converters (a date is a ``date`` on PostgreSQL, an ISO string on SQLite:
# ``_DateReader``; a boolean an integer on SQLite).

# Per compound: its number of buildings, and the last case date and the number of cases of its
# buildings up to the day (summed per building, then per compound); for a report that may draw its
# building list, each building's number of cases as text ("id:n,id:n", the buildings with a case:
# the list's counts, so the cases are aggregated once per report).
_COMPOUNDS = """
SELECT p.{Compound.id}, p.{Compound.community}, p.{Compound.name}, agg.one, agg.nb, agg.last_on, agg.n,
    agg.per{settings_columns}
FROM {Compound} p
LEFT JOIN (
    SELECT b.{Building.compound} AS compound_id,
        CASE WHEN mc.compound_id IS NULL THEN NULL ELSE b.{Building.id} END AS one,
        COUNT(*) AS nb, MAX(k.last_on) AS last_on, SUM(k.n) AS n,
        {per_building} AS per
    FROM {Building} b
    LEFT JOIN (
        SELECT DISTINCT a.{MicroZone.compound} AS compound_id
        FROM {MicroZone} a
        WHERE a.{MicroZone.community} IN ({ids}) AND a.{MicroZone.drawn_on} <= {on}
            AND (a.{MicroZone.dissolved_on} IS NULL OR a.{MicroZone.dissolved_on} > {on})
    ) mc ON mc.compound_id = b.{Building.compound}
    LEFT JOIN (
        SELECT c.{Case.building} AS building_id, MAX(c.{Case.report_date}) AS last_on, COUNT(*) AS n
        FROM {Case} c
        WHERE c.{Case.community} IN ({ids}) AND c.{Case.report_date} <= {on}
        GROUP BY c.{Case.building}
    ) k ON k.building_id = b.{Building.id}
    WHERE b.{Building.community} IN ({ids})
    GROUP BY b.{Building.compound}, CASE WHEN mc.compound_id IS NULL THEN NULL ELSE b.{Building.id} END
) agg ON agg.compound_id = p.{Compound.id}{settings_join}
WHERE p.{Compound.community} IN ({ids})
ORDER BY p.{Compound.id}
"""
# The community's zone settings ride along on each compound row (one query fewer per page): a
# community without compounds has nothing to classify, so its default rule set is enough.
_SETTINGS_PARTS = {
    True: (
        ", zs.{ZoneSettings.rule_set}, zs.{ZoneSettings.clean_round_gate}",
        "\nLEFT JOIN {ZoneSettings} zs ON zs.{ZoneSettings.community} = p.{Compound.community}",
    ),
    False: ("", ""),
}
_PER_BUILDING = {True: "STRING_AGG(CAST(b.{Building.id} AS TEXT) || ':' || CAST(k.n AS TEXT), ',')", False: "NULL"}
# (with the zone settings, with each building's number of cases) -> the statement
_COMPOUND_STATEMENTS = {
    (read_settings, per_building): _COMPOUNDS.replace("{settings_columns}", _SETTINGS_PARTS[read_settings][0])
    .replace("{settings_join}", _SETTINGS_PARTS[read_settings][1])
    .replace("{per_building}", _PER_BUILDING[per_building])
    for read_settings in (True, False)
    for per_building in (True, False)
}

# In one statement (one round trip fewer on every page that classifies): each active micro-zone
# with each of its buildings (kind 0: in the zones' order, members by building order), then the
# overrides active on the day (kind 1: oldest first, so a later one for the same place wins) with
# the name of who made them (``str(User)``: the display name, else the user name). A column one
# kind does not use is NULL in its rows (a micro-zone's creation time, an override's name and
# building), so one ORDER BY keeps each kind in its own order.
_MICRO_AND_OVERRIDES = """
SELECT 0 AS kind, m.{MicroZone.id} AS id, m.{MicroZone.compound} AS compound_id, m.{MicroZone.name} AS name,
    mb.{Members.building} AS place_id, NULL AS status, NULL AS reason, NULL AS since, NULL AS until,
    NULL AS display_name, NULL AS username,
    NULL AS s_created, bb.{Building.sort_key} AS s_sort, bb.{Building.number} AS s_number
FROM {MicroZone} m
LEFT JOIN {Members} mb ON mb.{Members.microzone} = m.{MicroZone.id}
LEFT JOIN {Building} bb ON bb.{Building.id} = mb.{Members.building}
WHERE m.{MicroZone.community} IN ({ids}) AND m.{MicroZone.drawn_on} <= {on}
    AND (m.{MicroZone.dissolved_on} IS NULL OR m.{MicroZone.dissolved_on} > {on})
UNION ALL
SELECT 1, o.{ZoneOverride.id}, o.{ZoneOverride.compound}, NULL, o.{ZoneOverride.microzone}, o.{ZoneOverride.status},
    o.{ZoneOverride.reason}, o.{ZoneOverride.since}, o.{ZoneOverride.until}, u.{User.display_name}, u.{User.username},
    o.{ZoneOverride.created_at}, NULL, NULL
FROM {ZoneOverride} o
LEFT JOIN {User} u ON u.{User.id} = o.{ZoneOverride.created_by}
WHERE o.{ZoneOverride.community} IN ({ids}) AND o.{ZoneOverride.since} <= {on} AND o.{ZoneOverride.until} >= {on}
    AND (o.{ZoneOverride.ended_on} IS NULL OR o.{ZoneOverride.ended_on} > {on})
ORDER BY kind, s_created, compound_id, name, id, s_sort, s_number
"""
# The per-building list: every building in its compound's order (the buildings alone: their
# numbers of cases came with the compounds), an empty footprint as NULL (no string per building).
_BUILDINGS = """
SELECT b.{Building.id}, b.{Building.compound}, b.{Building.number}, b.{Building.x}, b.{Building.y},
    b.{Building.width}, b.{Building.depth}, NULLIF(CAST(b.{Building.footprint} AS TEXT), '[]')
FROM {Building} b
WHERE b.{Building.community} IN ({ids})
ORDER BY b.{Building.compound}, b.{Building.sort_key}, b.{Building.number}
"""
# One building's row of that list.
_ONE_BUILDING = """
SELECT b.{Building.id}, b.{Building.compound}, b.{Building.number}, b.{Building.x}, b.{Building.y},
    b.{Building.width}, b.{Building.depth}, NULLIF(CAST(b.{Building.footprint} AS TEXT), '[]')
FROM {Building} b
WHERE b.{Building.id} = {one} AND b.{Building.community} IN ({ids})
"""

_MODELS: dict[str, type[Model]] = {
    "Building": Building,
    "Case": Case,
    "Compound": Compound,
    "Members": MicroZone.buildings.through,
    "MicroZone": MicroZone,
    "User": User,
    "ZoneOverride": ZoneOverride,
    "ZoneSettings": ZoneSettings,
}
_NAME = re.compile(r"\{(\w+)(?:\.(\w+))?\}")


@functools.cache
def _statement(alias: str, template: str, n_ids: int) -> tuple[str, tuple[str, ...]]:
    """``template`` with the tables' and columns' quoted names, and the order of its parameters
    (``STRING_AGG`` is SQLite's ``GROUP_CONCAT``)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    if connection.vendor == "sqlite":
        template = template.replace("STRING_AGG(", "GROUP_CONCAT(")
    order: list[str] = []

    def name(match: re.Match[str]) -> str:
        head, attr = match.group(1), match.group(2)
        if head in ("ids", "on", "one"):
            order.append(head)
            return ", ".join(["%s"] * n_ids) if head == "ids" else "%s"
        model = _MODELS[head]
        if attr is None:
            return quote(model._meta.db_table)
        column = model._meta.get_field(attr)
        assert isinstance(column, Field)
        return quote(str(column.column))

    return _NAME.sub(name, template), tuple(order)


def _params(order: tuple[str, ...], ids: list[int], day: Any, one: int | None) -> list[Any]:
    params: list[Any] = []
    for part in order:
        if part == "ids":
            params.extend(ids)
        else:
            params.append(day if part == "on" else one)
    return params


def _rows(alias: str, template: str, ids: list[int], day: Any, one: int | None = None) -> list[tuple[Any, ...]]:
    sql, order = _statement(alias, template, len(ids))
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, _params(order, ids, day, one))
        return list(cursor.fetchall())


def _stream(alias: str, template: str, ids: list[int], day: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a large result a chunk at a time: each row is garbage once used, so the
    garbage collector does not count tens of thousands of live rows (read to the end)."""
    sql, order = _statement(alias, template, len(ids))
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, _params(order, ids, day, None))
        while chunk := cursor.fetchmany(_CHUNK):
            yield from chunk


_CHUNK = 2000


class _DateReader:
    """A date from the driver: a ``date`` on PostgreSQL, an ISO string on SQLite (each distinct
    string parsed once: a report has a few hundred distinct case dates)."""

    def __init__(self) -> None:
        self.seen: dict[str, dt.date] = {}

    def __call__(self, value: dt.date | str) -> dt.date:
        if isinstance(value, dt.date):
            return value
        found = self.seen.get(value)
        if found is None:
            found = self.seen[value] = dt.date.fromisoformat(value)
        return found


_make_building = BuildingZone._make


def _case_counts(text: str) -> dict[int, int]:
    """Building id -> number of cases, from the compounds' "id:n,id:n" (one split for the batch)."""
    if not text:
        return {}
    numbers = iter(json.loads(f"[{text.replace(':', ',')}]"))  # the parser's C speed, not int() per value
    return dict(zip(numbers, numbers, strict=False))  # consecutive pairs


def _case_count(text: str, building_id: int) -> int:
    """One building's number of cases in the compounds' "id:n,id:n" (0 if it has none)."""
    found = re.search(rf"(?:^|,){building_id}:(\d+)", text)
    return int(found.group(1)) if found else 0


class _BuildingLoader:
    """Reads the per-building list of every report of a batch, once, on first use (one
    statement: the buildings alone, their numbers of cases came with the compounds), or one
    building's row (``one``): each building takes the state of its smallest micro-zone, or of
    its compound."""

    def __init__(
        self,
        alias: str,
        ids: list[int],
        reports: dict[int, ZoneReport],
        owners: dict[int, dict[str, str]],
        zone_names: dict[str, str],
        case_counts: str,
    ) -> None:
        self.alias = alias
        self.ids = ids
        self.case_counts = case_counts
        self.reports: Mapping[int, ZoneReport] = weakref.WeakValueDictionary(reports)  # no cycle: see PlaceZone
        self.owners = owners
        self.zone_names = zone_names
        self.done = False

    def _places(self) -> tuple[dict[int, PlaceZone], dict[int, int], dict[str, ZoneState]]:
        """Each compound's place and community, each micro-zone's state (no new object per compound)."""
        compounds: dict[int, PlaceZone] = {}
        community_of: dict[int, int] = {}
        states: dict[str, ZoneState] = {}
        for cid, report in self.reports.items():
            places = {p.id: p for p in report.compounds}
            compounds.update(places)
            community_of.update(dict.fromkeys(places, cid))
            for p in report.microzones:
                states[p.key] = p.state
        return compounds, community_of, states

    def _building(
        self, row: tuple[Any, ...], n: int, compound: PlaceZone, states: dict[str, ZoneState]
    ) -> BuildingZone:
        building_id, compound_id, number, x, y, width, depth, footprint = row
        key, state = compound.key, compound.state
        zone: str | None = None
        owner = self.owners.get(compound_id)
        if owner:
            zkey = owner.get(str(building_id), key)
            if zkey != key:
                zone, key, state = self.zone_names[zkey], zkey, states[zkey]
        return _make_building(
            (
                building_id,
                compound_id,
                compound.name,
                f"{number}号楼",
                number,
                zone,
                key,
                state,
                n,
                x,
                y,
                width,
                depth,
                (json.loads(footprint) or ()) if footprint else (),
            )
        )

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        compounds, community_of, states = self._places()
        lists: dict[int, list[BuildingZone]] = {}
        for cid, report in self.reports.items():
            lists[cid] = report._buildings = []
        owners, make, new, loads = self.owners, self._building, tuple.__new__, json.loads
        cases = _case_counts(self.case_counts).get
        for row in _stream(self.alias, _BUILDINGS, self.ids, None):
            building_id, compound_id, number, x, y, width, depth, footprint = row
            compound = compounds.get(compound_id)
            if compound is None:
                continue
            out = lists[community_of[compound_id]]
            if compound_id in owners:  # a compound with micro-zones: the building's own zone
                out.append(make(row, cases(building_id, 0), compound, states))
                continue
            # the compound proper (inlined: tens of thousands of rows)
            out.append(
                new(
                    BuildingZone,
                    (
                        building_id,
                        compound_id,
                        compound.name,
                        f"{number}号楼",
                        number,
                        None,
                        compound.key,
                        compound.state,
                        cases(building_id, 0),
                        x,
                        y,
                        width,
                        depth,
                        (loads(footprint) or ()) if footprint else (),
                    ),
                )
            )

    def one(self, building_id: int) -> BuildingZone | None:
        compounds, _, states = self._places()
        for row in _rows(self.alias, _ONE_BUILDING, self.ids, None, building_id):
            compound = compounds.get(row[1])
            if compound is not None:
                return self._building(row, _case_count(self.case_counts, building_id), compound, states)
        return None


class _TimelineLoader:
    """Reads the case dates the timelines of a batch of reports need, once, on first use: per
    building, every case date since :meth:`DayClassifier.timeline_needs_from` and the latest one
    before it (one grouped query), then draws every place's timeline."""

    def __init__(
        self, ids: list[int], on: dt.date, reports: dict[int, ZoneReport], classifiers: dict[int, DayClassifier]
    ) -> None:
        self.ids = ids
        self.on = on
        self.reports: Mapping[int, ZoneReport] = weakref.WeakValueDictionary(reports)  # no cycle: see PlaceZone
        self.classifiers = classifiers
        self.owners: dict[int, dict[str, str]] = {}  # compound -> building -> its block
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        start = self.on - dt.timedelta(days=TIMELINE_DAYS)
        since = min((DayClassifier.timeline_needs_from(start, r.rules) for r in self.reports.values()), default=start)
        recent = DbCase(When(report_date__gte=since, then=F("report_date")), default=None)
        dates: dict[tuple[int, str | None], list[dt.date]] = defaultdict(list)
        for row in (
            Case.objects.filter(community_id__in=self.ids, report_date__lte=self.on)
            .annotate(recent=recent)
            .values("building__compound_id", "building_id", "recent")
            .annotate(last=Max("report_date"))
            .order_by()
        ):
            compound_id = row["building__compound_id"]
            zone = self.owners.get(compound_id, {}).get(str(row["building_id"]))
            dates[(compound_id, zone)].append(row["last"])
        compound_of_block = {zone: compound for compound, owner in self.owners.items() for zone in owner.values()}
        for report in self.reports.values():
            classifier = self.classifiers[report.community.pk]
            own: dict[str, list[tuple[dt.date, str]]] = {}
            for p in [*report.compounds, *report.microzones]:
                place = (p.id, None) if p.key.startswith("c") else (compound_of_block.get(p.key, 0), p.key)
                own[p.key] = classifier.history(dates.get(place, [])).timeline(start, self.on, report.rules)
            # as on the day itself: a compound (and an enclosing block) is held at its blocks' floor
            blocks_in: dict[str, dict[str, list[str]]] = defaultdict(dict)
            for z in report.microzones:
                blocks_in[f"c{compound_of_block.get(z.key, 0)}"][z.key] = [str(b) for b in z.building_ids]
            for p in report.compounds:
                blocks = blocks_in.get(p.key, {})
                p._timeline = floor_timeline(own[p.key], {k: own[k] for k in blocks}, report.rules)
            for z in report.microzones:
                blocks = blocks_in[f"c{compound_of_block.get(z.key, 0)}"]
                inner = nested_blocks(blocks)[z.key]
                z._timeline = floor_timeline(own[z.key], {k: own[k] for k in inner}, report.rules)


def visible_building_ids(user: User | AnonymousUser, community: Community) -> set[int]:
    return set(Building.objects.filter(building_q(user), community=community).values_list("pk", flat=True))


def _d(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def sealed_building_ids(community: Community, on: dt.date) -> set[int]:
    """Ids of the community's buildings in the most severe zone (sealed, 封控区 / high risk) on ``on``.

    The one answer every other app uses (door-to-door sampling, the volunteers' health gate,
    contactless delivery, escort paperwork)."""
    return set(sealed_buildings(community, on))


def sealed_buildings(community: Community, on: dt.date) -> dict[int, BuildingZone]:
    """The sealed buildings of :func:`sealed_building_ids` with their zone row, to say why: the
    building's micro sealed zone (``zone``) or its whole compound (``zone`` None)."""
    report = zone_report(community, on)
    return {b.id: b for b in report.buildings if b.state.status == report.rules.most_severe}


def building_is_sealed(building: Building, on: dt.date) -> bool:
    """Whether ``building`` is sealed on ``on`` (the rule of :func:`sealed_building_ids`), from its
    own row of the zone report: the community's other buildings are not read."""
    report = zone_report(building.community, on)
    row = report.building(building.pk)
    return row is not None and row.state.status == report.rules.most_severe


def zone_report_json(report: ZoneReport, *, case_buildings: set[int] | None = None) -> dict[str, Any]:
    """The shape of ``fangzhou zones status --json``. ``case_buildings`` limits per-building case
    counts to the buildings the reader may see (None: all)."""

    def place(p: PlaceZone) -> dict[str, Any]:
        return {
            "name": p.name,
            "status": p.state.status,
            "last_case_on": _d(p.state.last_case_on),
            "next_change_on": _d(p.state.next_change_on),
            "next_status": p.state.next_status,
            "held_by": report.held_by(p.state) or None,
        }

    return {
        "compounds": [place(p) for p in report.compounds],
        "microzones": [{**place(p), "compound": p.compound} for p in report.microzones],
        "buildings": [
            {
                "compound": b.compound,
                "building": b.label,
                "status": b.state.status,
                "zone": b.zone,
                "last_case_on": _d(b.state.last_case_on),
                "next_change_on": _d(b.state.next_change_on),
                "next_status": b.state.next_status,
                "days_without_case": b.state.days_without_case,
                "overridden": b.state.overridden,
                "held_by": report.held_by(b.state) or None,
                "cases": b.cases if case_buildings is None or b.id in case_buildings else None,
            }
            for b in report.buildings
        ],
    }
