"""Zone status of a community on a date, derived from the case facts (never stored).

``zone_report`` loads the facts (cases with their report date and building, the active
micro sealed zones, manual overrides) and calls the pure core for every compound, block
and building.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.db.models import BooleanField, CharField, Count, F, Max, Q, QuerySet, TextField, Value, When
from django.db.models import Case as DbCase
from django.db.models.functions import Cast

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


@dataclass
class PlaceZone:
    key: str
    id: int
    name: str
    compound: str
    state: ZoneState
    cases: int = 0
    building_ids: list[int] = field(default_factory=list)
    override_id: int | None = None
    # The timeline is drawn on one page only: it is loaded for the whole report on first use.
    _timeline: list[tuple[dt.date, str]] | None = field(default=None, repr=False, compare=False)
    _load_timelines: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def timeline(self) -> list[tuple[dt.date, str]]:
        """Change points of the last ``TIMELINE_DAYS`` days up to the report's day."""
        if self._timeline is None and self._load_timelines is not None:
            self._load_timelines()
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
    # The per-building list is drawn on some pages only: it is made for the whole batch on first use.
    _buildings: list[BuildingZone] | None = field(default=None, repr=False, compare=False)
    _load_buildings: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def buildings(self) -> list[BuildingZone]:
        """Every building with its zone (empty for a report read with ``buildings=False``)."""
        if self._buildings is None and self._load_buildings is not None:
            self._load_buildings()
        return self._buildings or []

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
        return next((p for p in [*self.compounds, *self.microzones] if p.key == key), None)

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

    One set-based read gives, per building, the last case date up to ``on`` and the number of
    cases; the pure core classifies each compound and micro-zone from its last case date
    (:class:`DayClassifier`), so the work is linear in compounds and buildings. With
    ``buildings=False`` the per-building list is left empty (the subdistrict table needs only the
    compounds and micro-zones). ``settings`` (community id -> rule set name, clean-round gate)
    spares the settings query when the caller has read them with its own row (the daily report).
    Timelines are read on first use, for the whole batch at once; the per-building list is made
    on first use from the rows already read (``ZoneReport.buildings_by_status`` never makes it).
    """
    ids = [c.pk for c in communities]
    # The community's zone settings ride along on each compound row (one query fewer per page):
    # a community without compounds has nothing to classify, so its default rule set is enough.
    # A join (one-to-one with the community), not a subquery per row: 50,000 building rows made
    # 100,000 sub-plan runs. Not read at all when the caller has them (``settings``).
    with_settings = Compound.objects.filter(community_id__in=ids)
    if settings is None:
        with_settings = with_settings.annotate(
            zs_rule=F("community__zone_settings__rule_set"), zs_gate=F("community__zone_settings__clean_round_gate")
        )
    else:
        with_settings = with_settings.annotate(zs_rule=Value(None, CharField()), zs_gate=Value(None, BooleanField()))
    compound_rows: list[tuple[Any, ...]]
    if buildings:
        compound_rows = _plain_rows(
            with_settings.order_by("id", "buildings__sort_key", "buildings__number")
            .annotate(footprint_text=Cast("buildings__footprint", TextField()))
            .values_list(
                "id",
                "community_id",
                "name",
                "buildings__id",
                "buildings__number",
                "buildings__x",
                "buildings__y",
                "buildings__width",
                "buildings__depth",
                "footprint_text",
                "zs_rule",
                "zs_gate",
            )
        )
    else:
        compound_rows = _plain_rows(
            with_settings.order_by("id").values_list("id", "community_id", "name", "zs_rule", "zs_gate")
        )
    settings_rows: Mapping[int, tuple[str | None, bool]] = (
        settings
        if settings is not None
        else {row[1]: (row[-2], bool(row[-1])) for row in compound_rows if row[-1] is not None}
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

    blocks_of: dict[int, dict[str, list[str]]] = defaultdict(dict)
    zone_names: dict[str, str] = {}
    zone_ids: dict[str, int] = {}
    for mz_id, compound_id, name, building_id in (
        microzones_active_in(ids, on)
        .order_by("compound_id", "name", "id", "buildings__sort_key", "buildings__number")
        .values_list("id", "compound_id", "name", "buildings__id")
    ):
        key = f"z{mz_id}"
        zone_names[key], zone_ids[key] = name, mz_id
        members = blocks_of[compound_id].setdefault(key, [])
        if building_id is not None:
            members.append(str(building_id))
    # Per compound: (last case date up to ``on``, number of cases); per building only in the
    # compounds with a micro-zone, whose buildings may be classified apart.
    cases = Case.objects.filter(community_id__in=ids, report_date__lte=on)
    per_compound: dict[int, dict[str, tuple[dt.date, int]]] = defaultdict(dict)
    totals: dict[int, tuple[dt.date, int]] = {}
    building_cases: dict[int, int] = {}
    as_date = _DateReader()

    def add(compound_id: int, building_id: int, raw_last: dt.date | str, n: int) -> None:
        last = as_date(raw_last)
        if compound_id in blocks_of:
            per_compound[compound_id][str(building_id)] = (last, n)
            return
        total = totals.get(compound_id)
        totals[compound_id] = (last, n) if total is None else (max(last, total[0]), total[1] + n)

    if buildings:
        compound_of: dict[int, int] = {row[3]: row[0] for row in compound_rows if row[3] is not None}
        for building_id, last, n in _plain_rows(
            cases.values_list("building_id").annotate(last=Max("report_date"), n=Count("id")).order_by()
        ):
            found = compound_of.get(building_id)
            if found is not None:
                add(found, building_id, last, n)
                building_cases[building_id] = n
    else:
        for compound_id, building_id, last, n in _plain_rows(
            cases.values_list("building__compound_id", "building_id")
            .annotate(last=Max("report_date"), n=Count("id"))
            .order_by()
        ):
            add(compound_id, building_id, last, n)
    overrides: dict[str, ZoneOverride] = {}
    for o in (
        ZoneOverride.objects.filter(community_id__in=ids, since__lte=on, until__gte=on)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=on))
        .select_related("created_by")
        .order_by("created_at", "id")
    ):
        overrides[f"c{o.compound_id}" if o.compound_id else f"z{o.microzone_id}"] = o

    reports: dict[int, ZoneReport] = {}
    classifiers: dict[int, DayClassifier] = {}
    for c in communities:
        cid = c.pk
        reports[cid] = ZoneReport(c, on, rules_of[cid], [], [], gated=cid in gated_ids)
        classifiers[cid] = DayClassifier(on, rules_of[cid], rounds.get(cid, {}) if cid in gated_ids else None)
    loader = _TimelineLoader(ids, on, reports, classifiers)
    owners = loader.owners

    def overridden(key: str, state: ZoneState, rules: RuleSet) -> tuple[ZoneState, int | None]:
        o = overrides.get(key)
        if o is None:
            return state, None
        status = _map_status(o.status, rules)
        if status is None:
            return state, None
        by = str(o.created_by) if o.created_by else "—"
        return apply_override(state, Override(status, o.reason, by, o.until, o.since), on, rules), o.pk

    no_cases: dict[str, tuple[dt.date, int]] = {}
    seen = -1
    owner: dict[str, str] = {}
    zone_state: dict[str, ZoneState] = {}
    key = ""
    state: ZoneState | None = None
    report: ZoneReport | None = None
    for row in compound_rows:
        compound_id = row[0]
        name = row[2]
        if compound_id != seen:  # the first row of a compound: classify it and its blocks
            seen = compound_id
            report = reports[row[1]]
            classifier = classifiers[row[1]]
            blocks = blocks_of.get(compound_id)
            lasts = per_compound.get(compound_id, no_cases)
            key = f"c{compound_id}"
            proper_last: dt.date | None = None
            proper_count = 0
            if blocks:
                owner = owners[compound_id] = smallest_block_per_building(blocks)
                block_last: dict[str, dt.date] = {}
                block_count: dict[str, int] = {}
                for b, (last, n) in lasts.items():
                    zone = owner.get(b)
                    if zone is None:
                        proper_count += n
                        if proper_last is None or last > proper_last:
                            proper_last = last
                    else:
                        block_count[zone] = block_count.get(zone, 0) + n
                        if zone not in block_last or last > block_last[zone]:
                            block_last[zone] = last
            else:
                owner = {}
                total = totals.get(compound_id)
                if total is not None:
                    proper_last, proper_count = total
            zone_state = {}
            if blocks:
                # the smallest blocks first: a block is held at the floor of the blocks inside it
                inside = nested_blocks(blocks)
                block_oid: dict[str, int | None] = {}
                for bkey in sorted(blocks, key=lambda k: len(inside[k])):
                    block_own = classifier.state(block_last.get(bkey))
                    held_at = floor_state(block_own, {k: zone_state[k] for k in inside[bkey]}, report.rules)
                    zone_state[bkey], block_oid[bkey] = overridden(bkey, held_at, report.rules)
                for bkey, members in blocks.items():
                    report.microzones.append(
                        PlaceZone(
                            bkey,
                            zone_ids[bkey],
                            zone_names[bkey],
                            name,
                            zone_state[bkey],
                            block_count.get(bkey, 0),
                            [int(m) for m in members],
                            block_oid[bkey],
                            None,
                            loader,
                        )
                    )
            # the compound proper: its own cases, held at the floor of every block inside it
            state = floor_state(classifier.state(proper_last), zone_state, report.rules)
            oid = None
            if key in overrides:
                state, oid = overridden(key, state, report.rules)
            report.compounds.append(PlaceZone(key, compound_id, name, name, state, proper_count, [], oid, None, loader))
        if not buildings:
            continue
        building_id = row[3]
        if building_id is None or report is None:
            continue
        zkey = owner.get(str(building_id), key) if owner else key
        counts = report.building_counts
        counts[zkey] = counts.get(zkey, 0) + 1
    if buildings:
        load = _BuildingLoader(compound_rows, reports, loader.owners, zone_names, building_cases)
        for report in reports.values():
            report._load_buildings = load
    return reports


def _plain_rows(qs: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` query as the driver gives them, through a plain cursor:
    none of the ORM's per-value converters, which cost most of the time on 50,000 rows. The
    caller converts what differs between databases (a date is a string on SQLite: ``_DateReader``;
    a boolean an integer)."""
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


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


class _BuildingLoader:
    """Makes every report's per-building list of a batch, once, on first use, from the rows the
    report was classified from (no further query): each building takes the state of its
    smallest micro-zone, or of its compound."""

    def __init__(
        self,
        rows: list[tuple[Any, ...]],
        reports: dict[int, ZoneReport],
        owners: dict[int, dict[str, str]],
        zone_names: dict[str, str],
        building_cases: dict[int, int],
    ) -> None:
        self.rows = rows
        self.reports = reports
        self.owners = owners
        self.zone_names = zone_names
        self.building_cases = building_cases
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        states: dict[str, ZoneState] = {}
        lists: dict[int, list[BuildingZone]] = {}
        for report in self.reports.values():
            lists[report.community.pk] = report._buildings = []
            for p in [*report.compounds, *report.microzones]:
                states[p.key] = p.state
        no_owner: dict[str, str] = {}
        names, cases = self.zone_names, self.building_cases
        for row in self.rows:
            building_id = row[3]
            if building_id is None:
                continue
            compound_id = row[0]
            key = f"c{compound_id}"
            owner = self.owners.get(compound_id, no_owner)
            zkey = owner.get(str(building_id), key) if owner else key
            footprint = row[9]
            lists[row[1]].append(
                BuildingZone(
                    building_id,
                    compound_id,
                    row[2],
                    f"{row[4]}号楼",
                    row[4],
                    names.get(zkey) if zkey != key else None,
                    zkey,
                    states[zkey],
                    cases.get(building_id, 0),
                    row[5],
                    row[6],
                    row[7],
                    row[8],
                    (json.loads(footprint) or ()) if footprint and footprint != "[]" else (),
                )
            )


class _TimelineLoader:
    """Reads the case dates the timelines of a batch of reports need, once, on first use: per
    building, every case date since :meth:`DayClassifier.timeline_needs_from` and the latest one
    before it (one grouped query), then draws every place's timeline."""

    def __init__(
        self, ids: list[int], on: dt.date, reports: dict[int, ZoneReport], classifiers: dict[int, DayClassifier]
    ) -> None:
        self.ids = ids
        self.on = on
        self.reports = reports
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
    return building.pk in sealed_building_ids(Community.objects.get(pk=building.community_id), on)


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
