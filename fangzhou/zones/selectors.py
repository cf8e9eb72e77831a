"""Zone status of a community on a date, derived from the case facts (never stored).

``zone_report`` loads the facts (cases with their report date and building, the active
micro sealed zones, manual overrides) and calls the pure core for every compound, block
and building.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q
from fangzhou.cases.models import Case
from fangzhou.registry.models import Building, Community, Compound
from fangzhou.zones.core import (
    DEFAULT_RULE_SET,
    RULE_SETS,
    CaseHistory,
    Override,
    RuleSet,
    ZoneState,
    apply_override,
    classify_compound_with_blocks,
)
from fangzhou.zones.models import MicroZone, ZoneOverride, ZoneSettings

# Colours by severity (0 = lowest): green, amber, red. Readable in sunlight.
SEVERITY_COLOURS = ("#8fd18b", "#f6b94f", "#e0493b", "#8b0000")
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
    return MicroZone.objects.filter(community=community, drawn_on__lte=on).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=on)
    )


def _rounds(community: Community, on: dt.date) -> dict[dt.date, bool] | None:
    """Closed mass rounds up to ``on`` (date -> all tubes resulted negative) for the clean-round
    gate; None (gate not applied) if the testing app has no rounds."""
    try:
        model = apps.get_model("testing", "Round")
    except LookupError:
        return None
    rows = (
        model.objects.filter(community=community, date__lte=on, status="closed")
        .annotate(
            bad=Count("tubes", filter=~Q(tubes__lab_result__result="negative")),
        )
        .values_list("date", "bad")
    )
    out: dict[dt.date, bool] = {}
    for day, bad in rows:
        out[day] = out.get(day, True) and bad == 0
    return out


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
    timeline: list[tuple[dt.date, str]] = field(default_factory=list)
    override_id: int | None = None

    @property
    def countdown(self) -> int | None:
        if self.state.next_change_on is None:
            return None
        return (self.state.next_change_on - self.state.on).days


@dataclass
class BuildingZone:
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
    footprint: list[list[float]]


@dataclass
class ZoneReport:
    community: Community
    on: dt.date
    rules: RuleSet
    compounds: list[PlaceZone]
    microzones: list[PlaceZone]
    buildings: list[BuildingZone]
    gated: bool = False

    def label(self, status: str, lang: str = "zh") -> str:
        return self.rules.label(status, lang)

    def colour(self, status: str) -> str:
        return SEVERITY_COLOURS[min(self.rules.severity(status), len(SEVERITY_COLOURS) - 1)]

    def place(self, key: str) -> PlaceZone | None:
        return next((p for p in [*self.compounds, *self.microzones] if p.key == key), None)

    def days_without_case(self) -> int | None:
        lasts = [p.state.last_case_on for p in self.compounds if p.state.last_case_on]
        lasts += [p.state.last_case_on for p in self.microzones if p.state.last_case_on]
        return (self.on - max(lasts)).days if lasts else None


def zone_report(community: Community, on: dt.date, rules: RuleSet | None = None) -> ZoneReport:
    """Status of every compound, micro-zone and building of ``community`` on ``on``."""
    rules = rules or rule_set_for(community)
    compounds = list(Compound.objects.filter(community=community).order_by("id"))
    buildings = list(
        Building.objects.filter(community=community)
        .select_related("compound")
        .order_by("compound_id", "sort_key", "number")
    )
    cases_by_compound: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    per_building: Counter[int] = Counter()
    for report_date, building_id, compound_id in Case.objects.filter(
        community=community, report_date__lte=on
    ).values_list("report_date", "building_id", "building__compound_id"):
        cases_by_compound[compound_id].append((report_date, str(building_id)))
        per_building[building_id] += 1
    zones = list(microzones_active(community, on).prefetch_related("buildings"))
    blocks_by_compound: dict[int, dict[str, list[str]]] = defaultdict(dict)
    zone_by_key: dict[str, MicroZone] = {}
    for mz in zones:
        key = f"z{mz.pk}"
        zone_by_key[key] = mz
        blocks_by_compound[mz.compound_id][key] = [str(b.pk) for b in mz.buildings.all()]
    overrides: dict[str, ZoneOverride] = {}
    for o in (
        ZoneOverride.objects.filter(community=community, since__lte=on, until__gte=on)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=on))
        .order_by("created_at", "id")
    ):
        overrides[f"c{o.compound_id}" if o.compound_id else f"z{o.microzone_id}"] = o
    gate = ZoneSettings.objects.filter(community=community, clean_round_gate=True).exists()
    rounds = _rounds(community, on) if rules.downgrade_needs_clean_round and gate else None

    def overridden(key: str, state: ZoneState) -> tuple[ZoneState, int | None]:
        o = overrides.get(key)
        if o is None:
            return state, None
        status = _map_status(o.status, rules)
        if status is None:
            return state, None
        by = str(o.created_by) if o.created_by else "—"
        return apply_override(state, Override(status, o.reason, by, o.until, o.since), on, rules), o.pk

    start = on - dt.timedelta(days=TIMELINE_DAYS)
    report = ZoneReport(community, on, rules, [], [], [], gated=rounds is not None)
    states: dict[str, ZoneState] = {}
    for compound in compounds:
        blocks = blocks_by_compound.get(compound.pk, {})
        cz = classify_compound_with_blocks(cases_by_compound.get(compound.pk, []), blocks, on, rules, rounds=rounds)
        owner = cz.block_of_building
        proper_dates = [d for d, b in cases_by_compound.get(compound.pk, []) if b not in owner]
        key = f"c{compound.pk}"
        state, oid = overridden(key, cz.compound)
        states[key] = state
        report.compounds.append(
            PlaceZone(
                key=key,
                id=compound.pk,
                name=compound.name,
                compound=compound.name,
                state=state,
                cases=len(proper_dates),
                timeline=CaseHistory(proper_dates, rounds).timeline(start, on, rules),
                override_id=oid,
            )
        )
        for bkey, members in blocks.items():
            mz = zone_by_key[bkey]
            dates = [d for d, b in cases_by_compound.get(compound.pk, []) if owner.get(b) == bkey]
            bstate, boid = overridden(bkey, cz.blocks[bkey])
            states[bkey] = bstate
            report.microzones.append(
                PlaceZone(
                    key=bkey,
                    id=mz.pk,
                    name=mz.name,
                    compound=compound.name,
                    state=bstate,
                    cases=len(dates),
                    building_ids=[int(m) for m in members],
                    timeline=CaseHistory(dates, rounds).timeline(start, on, rules),
                    override_id=boid,
                )
            )
        for b in (b for b in buildings if b.compound_id == compound.pk):
            zkey = owner.get(str(b.pk)) or key
            report.buildings.append(
                BuildingZone(
                    id=b.pk,
                    compound_id=compound.pk,
                    compound=compound.name,
                    label=b.label,
                    number=b.number,
                    zone=zone_by_key[zkey].name if zkey in zone_by_key else None,
                    zone_key=zkey,
                    state=states[zkey],
                    cases=per_building.get(b.pk, 0),
                    x=b.x,
                    y=b.y,
                    width=b.width,
                    depth=b.depth,
                    footprint=b.footprint or [],
                )
            )
    return report


def visible_building_ids(user: User | AnonymousUser, community: Community) -> set[int]:
    return set(Building.objects.filter(building_q(user), community=community).values_list("pk", flat=True))


def _d(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def sealed_building_ids(community: Community, on: dt.date) -> set[int]:
    """Ids of the community's buildings in the most severe zone (sealed, 封控区 / high risk) on ``on``.

    The one answer every other app uses (door-to-door sampling, the volunteers' health gate,
    contactless delivery, escort paperwork)."""
    report = zone_report(community, on)
    return {b.id for b in report.buildings if b.state.status == report.rules.most_severe}


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
                "cases": b.cases if case_buildings is None or b.id in case_buildings else None,
            }
            for b in report.buildings
        ],
    }
