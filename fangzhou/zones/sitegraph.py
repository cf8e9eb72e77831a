"""Adapters from the site plan and the zones app to the routing core and the delivery pages.

* :func:`community_road_graph` builds the :class:`~fangzhou.zones.routing.RoadGraph` of a
  community: from the zones app's roads and gates (``zones.RoadNode``/``Road``/``Gate``) where a
  compound has them, with the public streets outside the gates joining the compounds
  (:func:`_public_streets`), otherwise from the building coordinates (a street in front of each row of
  buildings, lanes at both ends of the rows, a gate at the top-left corner of each compound, and
  a perimeter road joining the gates).
* :func:`building_is_sealed` asks the zones app (``zones.selectors.zone_report``) whether a building is
  sealed (the most severe status of the rule set) on a date. The zones
  app is read lazily: if its selectors are not there yet, active micro sealed zones are used; if
  even those are missing, no building counts as sealed.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fangzhou.registry.models import Building, Community, Household
from fangzhou.zones import routing
from fangzhou.zones.models import Gate, Road, RoadNode
from fangzhou.zones.routing import RoadGraph

log = logging.getLogger(__name__)

ROW_TOLERANCE_M = 8.0
STREET_OFFSET_M = 4.0
LANE_OFFSET_M = 8.0
# The public streets outside the gates are not drawn on the site plan: a walk between two gates is
# taken as the straight line times this detour factor (streets are seldom straight lines).
STREET_DETOUR = 1.3


@dataclass(frozen=True)
class SiteGraph:
    graph: RoadGraph
    # Start points: key → (label, node id).
    gates: dict[str, tuple[str, str]]
    # Building id → the node of its entrance.
    entrances: dict[int, str]
    source: str  # "zones" or "buildings"


def _placed(buildings: Iterable[Building]) -> list[Building]:
    return [b for b in buildings if b.x is not None and b.y is not None]


def _from_zones(community: Community, buildings: list[Building]) -> SiteGraph | None:
    nodes_qs = list(RoadNode.objects.filter(compound__community=community))
    if not nodes_qs:
        return None
    nodes = {f"n{n.pk}": (n.x, n.y) for n in nodes_qs}
    edges = [
        (f"n{r.a_id}", f"n{r.b_id}", math.dist(nodes[f"n{r.a_id}"], nodes[f"n{r.b_id}"]))
        for r in Road.objects.filter(compound__community=community)
        if f"n{r.a_id}" in nodes and f"n{r.b_id}" in nodes
    ]
    gate_rows = [
        g
        for g in Gate.objects.filter(compound__community=community).select_related("compound").order_by("pk")
        if f"n{g.node_id}" in nodes
    ]
    gates = {f"gate{g.pk}": (f"{g.compound.name} {g.name}", f"n{g.node_id}") for g in gate_rows}
    edges += _public_streets(nodes, [(g.compound_id, f"n{g.node_id}") for g in gate_rows])
    graph = RoadGraph(nodes=nodes, edges=edges)
    entrances: dict[int, str] = {}
    for b in buildings:
        assert b.x is not None and b.y is not None
        entrances[b.pk] = graph.nearest_node(b.x, b.y + b.depth / 2)
    if not gates:
        first = next(iter(nodes))
        gates["gate"] = ("Gate", first)
    return SiteGraph(graph, gates, entrances, "zones")


def _public_streets(
    nodes: dict[str, tuple[float, float]], gates: list[tuple[int, str]]
) -> list[tuple[str, str, float]]:
    """Street edges outside the compounds, so that one route can serve several compounds: the
    shortest tree joining every compound's gates (Prim's algorithm on straight-line distance), and
    each gate to the nearest gate of every other compound. Lengths are the straight line times
    :data:`STREET_DETOUR`. Two gates of the same compound are joined only through the tree."""
    points = sorted({node for _, node in gates})
    if len(points) < 2:
        return []
    compound_of = {node: compound for compound, node in gates}

    def length(a: str, b: str) -> float:
        return math.dist(nodes[a], nodes[b]) * STREET_DETOUR

    edges: dict[tuple[str, str], float] = {}
    # Prim: the gates are few (a handful per compound), so the quadratic form is fine.
    joined = {points[0]}
    best = {q: (length(points[0], q), points[0]) for q in points[1:]}
    while best:
        q = min(best, key=lambda k: best[k][0])
        dist, via = best.pop(q)
        edges[(q, via) if q < via else (via, q)] = dist
        joined.add(q)
        for r in best:
            d = length(q, r)
            if d < best[r][0]:
                best[r] = (d, q)
    for a in points:
        nearest: dict[int, tuple[float, str]] = {}
        for b in points:
            if compound_of[b] == compound_of[a]:
                continue
            d = length(a, b)
            if compound_of[b] not in nearest or d < nearest[compound_of[b]][0]:
                nearest[compound_of[b]] = (d, b)
        for d, b in nearest.values():
            edges[(a, b) if a < b else (b, a)] = d
    return [(a, b, d) for (a, b), d in edges.items()]


def _from_buildings(community: Community, buildings: list[Building]) -> SiteGraph:
    nodes: dict[str, tuple[float, float]] = {}
    edges: list[tuple[str, str, float]] = []
    gates: dict[str, tuple[str, str]] = {}
    entrances: dict[int, str] = {}

    def edge(a: str, b: str) -> None:
        edges.append((a, b, math.dist(nodes[a], nodes[b])))

    by_compound: dict[int, list[Building]] = defaultdict(list)
    for b in buildings:
        by_compound[b.compound_id].append(b)
    gate_nodes: list[str] = []
    for compound_id, members in sorted(by_compound.items()):
        fronts = sorted(members, key=lambda b: (b.y or 0) + b.depth / 2)
        rows: list[list[Building]] = []
        for b in fronts:
            front = (b.y or 0) + b.depth / 2
            if rows and abs(front - ((rows[-1][0].y or 0) + rows[-1][0].depth / 2)) <= ROW_TOLERANCE_M:
                rows[-1].append(b)
            else:
                rows.append([b])
        left = min((b.x or 0) - b.width / 2 for b in members) - LANE_OFFSET_M
        right = max((b.x or 0) + b.width / 2 for b in members) + LANE_OFFSET_M
        top = min((b.y or 0) - b.depth / 2 for b in members) - LANE_OFFSET_M
        west_prev = east_prev = ""
        for r, row in enumerate(rows):
            street_y = sum((b.y or 0) + b.depth / 2 for b in row) / len(row) + STREET_OFFSET_M
            west, east = f"c{compound_id}r{r}w", f"c{compound_id}r{r}e"
            nodes[west] = (left, street_y)
            nodes[east] = (right, street_y)
            previous = west
            for b in sorted(row, key=lambda b: b.x or 0):
                key = f"b{b.pk}"
                nodes[key] = (b.x or 0, street_y)
                entrances[b.pk] = key
                edge(previous, key)
                previous = key
            edge(previous, east)
            if west_prev:
                edge(west_prev, west)
                edge(east_prev, east)
            west_prev, east_prev = west, east
        gate = f"c{compound_id}gate"
        nodes[gate] = (left, top)
        edge(gate, f"c{compound_id}r0w")
        gates[gate] = (f"{members[0].compound.name} 大门 / gate", gate)
        gate_nodes.append(gate)
    # A perimeter road from gate to gate, nearest first, so the compounds are joined.
    for first, second in itertools.pairwise(gate_nodes):
        edge(first, second)
    return SiteGraph(RoadGraph(nodes=nodes, edges=edges), gates, entrances, "buildings")


def community_site_graph(community: Community) -> SiteGraph:
    """The road graph, start points and building entrances of a community's site plan."""
    buildings = _placed(Building.objects.filter(community=community).select_related("compound"))
    if not buildings:
        raise ValueError("no building of this community is on the site plan")
    return _from_zones(community, buildings) or _from_buildings(community, buildings)


def community_road_graph(community: Community) -> RoadGraph:
    """The community's road graph for the routing core (see the module docstring)."""
    return community_site_graph(community).graph


STAIRS_S_PER_FLOOR = 20


def floor_of(room: str) -> int:
    """The floor of a room number: 1102 → 11, 302 → 3, anything shorter → 1."""
    digits = "".join(ch for ch in room if ch.isdigit())
    if len(digits) >= 3:
        return max(int(digits[:-2]), 1)
    return 1


def walk_order(
    community: Community,
    stops: Sequence[Household | Building],
    *,
    start: str = "",
    time_limit_s: float = 1.0,
) -> list[Household | Building]:
    """One walk through ``stops`` (doors or buildings) from a gate and back, shortest first found in
    ``time_limit_s``: door-to-door sampling, a medicine trip. Returns the same objects, reordered."""
    if len(stops) <= 1:
        return list(stops)
    try:
        site = community_site_graph(community)
    except ValueError:  # no building is on the site plan yet: keep the given order
        return list(stops)
    keyed: dict[str, Household | Building] = {}
    points: list[routing.Stop] = []
    for i, item in enumerate(stops):
        building_id = item.building_id if isinstance(item, Household) else item.pk
        node = site.entrances.get(building_id)
        key = f"s{i}"
        keyed[key] = item
        if node is None:
            continue
        x, y = site.graph.nodes[node]
        floor = floor_of(item.room) if isinstance(item, Household) else 1
        points.append(routing.Stop(key=key, x=x, y=y, demand=0, service_s=STAIRS_S_PER_FLOOR * floor, node=node))
    start = start if start in site.gates else next(iter(site.gates))
    gate_node = site.gates[start][1]
    gx, gy = site.graph.nodes[gate_node]
    problem = routing.RoutingProblem(
        depot=routing.Stop(key="__start__", x=gx, y=gy, node=gate_node),
        stops=points,
        vehicles=1,
        capacity=None,
        graph=site.graph,
    )
    solution = routing.solve(problem, time_limit_s=time_limit_s)
    order = [key for route in solution.routes for key in route.stop_keys]
    seen = set(order)
    order += [key for key in keyed if key not in seen]  # unplaced stops keep their given order at the end
    return [keyed[key] for key in order]
