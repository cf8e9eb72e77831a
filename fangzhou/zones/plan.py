"""Server-rendered SVG of a site plan coloured by zone, with roads, gates, blocks and routes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fangzhou.zones.models import Gate, OpenSpace, Road
from fangzhou.zones.selectors import BuildingZone, ZoneReport

Point = tuple[float, float]
ROUTE_COLOURS = {"ambulance": "#c0392b", "supply_van": "#1f6feb"}


def _pts(points: Iterable[Point]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


@dataclass
class Shape:
    id: int
    label: str
    points: str
    cx: float
    cy: float
    fill: str
    title: str
    status: str
    count: int | None
    selected: bool = False
    flagged: bool = False
    linked: bool = True  # drawn as a link to the building's page (only where the viewer may open it)
    name: str = ""  # the building with its compound, for a list beside the plan


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    title: str = ""


@dataclass
class Marker:
    x: float
    y: float
    label: str
    kind: str


@dataclass
class Plan:
    view_box: str
    shapes: list[Shape]
    roads: list[Line] = field(default_factory=list)
    gates: list[Marker] = field(default_factory=list)
    spaces: list[Marker] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (points, name)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (points, colour)
    unplaced: int = 0


def _corners(b: BuildingZone) -> list[Point]:
    if b.footprint:
        return [(float(p[0]), float(p[1])) for p in b.footprint]
    assert b.x is not None and b.y is not None
    hw, hd = b.width / 2, b.depth / 2
    return [(b.x - hw, b.y - hd), (b.x + hw, b.y - hd), (b.x + hw, b.y + hd), (b.x - hw, b.y + hd)]


def zone_plan(
    report: ZoneReport,
    *,
    buildings: Sequence[BuildingZone] | None = None,
    counts_for: set[int] | None = None,
    selected: set[int] | None = None,
    flagged: set[int] | None = None,
    compound_ids: set[int] | None = None,
    links_for: set[int] | None = None,
    lang: str = "zh",
) -> Plan:
    """The report's buildings (or ``buildings``) as shapes coloured by zone. ``counts_for`` and
    ``links_for``: the buildings whose case count is shown and which link to their page (None:
    every one); a building outside them is still drawn with its zone."""
    chosen = list(buildings if buildings is not None else report.buildings)
    if compound_ids is not None:
        chosen = [b for b in chosen if b.compound_id in compound_ids]
    placed = [b for b in chosen if b.x is not None and b.y is not None]
    xs: list[float] = []
    ys: list[float] = []
    shapes = []
    for b in placed:
        corners = _corners(b)
        xs += [c[0] for c in corners]
        ys += [c[1] for c in corners]
        count = b.cases if counts_for is None or b.id in counts_for else None
        label = b.number + (f"·{count}" if count else "")
        title = f"{b.full_label}: {report.label(b.state.status, lang)}"
        if b.zone:
            title += f" ({b.zone})"
        if count:
            title += f", {count}"
        assert b.x is not None and b.y is not None
        shapes.append(
            Shape(
                id=b.id,
                label=label,
                name=b.full_label,
                points=_pts(corners),
                cx=b.x,
                cy=b.y,
                fill=report.colour(b.state.status),
                title=title,
                status=b.state.status,
                count=count,
                selected=bool(selected and b.id in selected),
                flagged=bool(flagged and b.id in flagged),
                linked=links_for is None or b.id in links_for,
            )
        )
    plan = Plan("0 0 100 100", shapes, unplaced=len(chosen) - len(placed))
    if compound_ids:
        for road in Road.objects.filter(compound_id__in=compound_ids).select_related("a", "b"):
            plan.roads.append(
                Line(road.a.x, road.a.y, road.b.x, road.b.y, road.width_m, f"{road.name} {road.width_m:g} m")
            )
            xs += [road.a.x, road.b.x]
            ys += [road.a.y, road.b.y]
        for gate in Gate.objects.filter(compound_id__in=compound_ids).select_related("node"):
            plan.gates.append(Marker(gate.node.x, gate.node.y, gate.name, "gate"))
        for space in OpenSpace.objects.filter(compound_id__in=compound_ids):
            plan.spaces.append(Marker(space.x, space.y, space.name, space.kind))
    if xs:
        pad = 12.0
        w, h = max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad
        plan.view_box = f"{min(xs) - pad:.0f} {min(ys) - pad:.0f} {w:.0f} {h:.0f}"
    return plan


def add_blocks(plan: Plan, blocks: Iterable[tuple[Sequence[Point], str]]) -> None:
    for polygon, name in blocks:
        if len(polygon) >= 3:
            plan.blocks.append((_pts(polygon), name))


def add_routes(plan: Plan, routes: Iterable[tuple[str, str, Sequence[Point]]]) -> None:
    for vehicle, _mode, points in routes:
        if len(points) >= 2:
            plan.routes.append((_pts(points), ROUTE_COLOURS.get(vehicle, "#555")))
