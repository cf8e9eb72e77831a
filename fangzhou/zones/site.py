"""Adapter between the database and the pure access core: a compound's road graph, its
buildings and open spaces as a :class:`fangzhou.zones.access.SitePlan`, and the check run
when a micro sealed zone is drawn or changed."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fangzhou.registry.addressing import building_label
from fangzhou.registry.models import Building, Compound
from fangzhou.zones.access import (
    VEHICLE_CLASSES,
    AccessReport,
    Node,
    OpenSpaceChoice,
    SealedBlock,
    SitePlan,
    Target,
    _inside_polygon,  # the core's own geometry
    check_access,
    nearest_open_space,
)
from fangzhou.zones.access import (
    OpenSpace as CoreOpenSpace,
)
from fangzhou.zones.access import (
    Road as CoreRoad,
)
from fangzhou.zones.models import Gate, MicroZone, OpenSpace, Road, RoadNode

Point = tuple[float, float]
# A building's own short path to the nearest road: wide enough for every vehicle class.
SPUR_WIDTH_M = 4.5


def building_corners(b: Building) -> list[Point]:
    if b.footprint:
        return [(float(p[0]), float(p[1])) for p in b.footprint]
    assert b.x is not None and b.y is not None
    hw, hd = b.width / 2, b.depth / 2
    return [(b.x - hw, b.y - hd), (b.x + hw, b.y - hd), (b.x + hw, b.y + hd), (b.x - hw, b.y + hd)]


def convex_hull(points: Iterable[Point]) -> list[Point]:
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


@dataclass
class CompoundSite:
    compound: Compound
    plan: SitePlan | None
    buildings: dict[int, Building]
    nodes: dict[str, Point]
    roads: list[tuple[str, str, float]]
    gates: dict[str, str]  # node key -> gate name
    spaces: list[OpenSpace]

    def block(self, key: str, building_ids: Iterable[int]) -> SealedBlock:
        """A sealed block: the convex hull of its buildings' footprints (roads inside it close)."""
        corners = [c for bid in building_ids for c in building_corners(self.buildings[bid])]
        hull = convex_hull(corners)
        nodes = frozenset(f"b{bid}" for bid in building_ids)
        return SealedBlock(key, nodes=nodes, polygon=tuple(hull) if len(hull) >= 3 else ())


def compound_site(compound: Compound) -> CompoundSite:
    buildings = {b.pk: b for b in Building.objects.filter(compound=compound, x__isnull=False, y__isnull=False)}
    road_nodes = {n.pk: n for n in RoadNode.objects.filter(compound=compound)}
    nodes: dict[str, Point] = {f"n{n.pk}": (n.x, n.y) for n in road_nodes.values()}
    roads = [(f"n{r.a_id}", f"n{r.b_id}", r.width_m) for r in Road.objects.filter(compound=compound)]
    gates = {f"n{g.node_id}": g.name for g in Gate.objects.filter(compound=compound)}
    spaces = list(OpenSpace.objects.filter(compound=compound))
    site = CompoundSite(compound, None, buildings, nodes, roads, gates, spaces)
    if not roads or not gates:
        return site
    core_nodes = [Node(k, x, y) for k, (x, y) in nodes.items()]
    core_roads = [CoreRoad(a, b, w) for a, b, w in roads]
    targets: list[Target] = []
    road_points = list(nodes.items())

    def nearest(p: Point) -> str:
        return min(road_points, key=lambda kv: (math.dist(p, kv[1]), kv[0]))[0]

    for bid, b in buildings.items():
        assert b.x is not None and b.y is not None
        key = f"b{bid}"
        core_nodes.append(Node(key, b.x, b.y))
        core_roads.append(CoreRoad(key, nearest((b.x, b.y)), SPUR_WIDTH_M))
        targets.append(Target(key, key, "building", building_label(compound.name, b.number)))
    for s in spaces:
        if s.kind == OpenSpace.Kind.OPEN_SPACE:
            continue
        key = f"o{s.pk}"
        core_nodes.append(Node(key, s.x, s.y))
        core_roads.append(CoreRoad(key, nearest((s.x, s.y)), SPUR_WIDTH_M))
        targets.append(Target(key, key, s.kind, s.name))
    site.plan = SitePlan(tuple(core_nodes), tuple(core_roads), frozenset(gates), tuple(targets))
    return site


@dataclass
class CutOff:
    key: str
    label: str
    vehicles: list[str]


@dataclass
class AccessOutcome:
    """What the committee sees before saving a block."""

    checked: bool  # False when the compound has no roads and gates on its plan
    ok: bool
    cut_off: list[CutOff] = field(default_factory=list)
    closed_gates: list[str] = field(default_factory=list)
    routes: list[tuple[str, str, list[Point]]] = field(default_factory=list)  # (vehicle, mode, points)
    handovers: list[tuple[str, Point]] = field(default_factory=list)
    proposal: OpenSpaceChoice | None = None
    polygon: list[Point] = field(default_factory=list)
    report: AccessReport | None = None

    @property
    def cut_off_keys(self) -> set[str]:
        return {c.key for c in self.cut_off}


def _label(site: CompoundSite, key: str) -> str:
    if key.startswith("b") and int(key[1:]) in site.buildings:
        return building_label(site.compound.name, site.buildings[int(key[1:])].number)
    for s in site.spaces:
        if key == f"o{s.pk}":
            return s.name
    return key


def access_check_block(
    compound: Compound, building_ids: Sequence[int], *, exclude: MicroZone | None = None, key: str = "new"
) -> AccessOutcome:
    """Check a drawn block together with the compound's other active blocks."""
    site = compound_site(compound)
    missing = [b for b in building_ids if b not in site.buildings]
    if missing or not building_ids:
        raise ValueError("buildings not on this compound's plan")
    block = site.block(key, building_ids)
    polygon = list(block.polygon)
    if site.plan is None:
        return AccessOutcome(checked=False, ok=True, polygon=polygon)
    plan = site.plan
    others = [
        site.block(f"z{mz.pk}", [b for b in mz.buildings.values_list("pk", flat=True) if b in site.buildings])
        for mz in MicroZone.objects.filter(compound=compound, dissolved_on__isnull=True).exclude(
            pk=exclude.pk if exclude else 0
        )
        if mz.buildings.filter(pk__in=list(site.buildings)).exists()
    ]
    report = check_access(plan, [block, *others])
    cut = report.cut_off_targets()
    outcome = AccessOutcome(checked=True, ok=report.ok, report=report, polygon=polygon)
    outcome.cut_off = [CutOff(k, _label(site, k), list(v)) for k, v in sorted(cut.items())]
    for node_key, name in site.gates.items():
        if block.polygon and _inside_polygon(site.nodes[node_key], block.polygon):
            outcome.closed_gates.append(name)
    if outcome.closed_gates:
        outcome.ok = False
    inside = {f"b{b}" for b in building_ids}
    for r in report.routes:
        if r.reachable and r.target in inside and r.vehicle in {"ambulance", "supply_van"}:
            outcome.routes.append((r.vehicle, r.mode, [plan.point(n) for n in r.nodes]))
            if r.handover_node:
                outcome.handovers.append((r.target, plan.point(r.handover_node)))
    spaces = [
        CoreOpenSpace(f"o{s.pk}", s.x, s.y, None, s.name)
        for s in site.spaces
        if s.kind in {OpenSpace.Kind.OPEN_SPACE, OpenSpace.Kind.SAMPLING_SITE}
    ]
    outcome.proposal = nearest_open_space(block, spaces, plan, others)
    return outcome


__all__ = ["VEHICLE_CLASSES", "AccessOutcome", "CompoundSite", "access_check_block", "compound_site"]
