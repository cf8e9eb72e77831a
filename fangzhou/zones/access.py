"""Vehicle access check for micro sealed zones (小封控区), as pure Python.

A compound's site plan is a road graph: nodes with coordinates in metres, roads between
nodes with a usable width, gates (nodes where vehicles enter) and targets (buildings,
sampling sites, garbage points) attached to nodes. Sealing a block of buildings must
keep roads open for ambulances (120), fire engines, supply vans and garbage trucks.
:func:`check_access` answers, for each target and vehicle class, whether the vehicle can
still get there from a gate and by which route (shortest by length, Dijkstra), and lists
what the sealing cuts off so that a caller can refuse to save such a plan.

Routing policy (the choice made here):

* A vehicle only uses roads at least as wide as its class needs
  (:data:`VEHICLE_CLASSES`; a road exactly as wide as needed is usable).
* A target outside every sealed block must be reached without passing through any
  sealed block: no node inside a block and no road running through a block's polygon.
  A road along a block's edge stays open.
* A target inside sealed block(s) is reached by the classes that may enter a sealed
  block (ambulance, fire engine): the route may pass through the target's own block(s)
  but through no other block. Classes that may not enter (supply van, garbage truck)
  serve such a target by *handover* at the block's edge: the route ends at a node outside
  every block that is joined by a road to the target's block, chosen as the one nearest
  to the target on foot (then the shorter drive); goods are carried in contactlessly.
* Every route is also computed with no block sealed (the *baseline*). A pair is
  **cut off** when it was reachable before sealing and is not reachable now. A pair that
  was not reachable even before (a lane too narrow for fire engines) is reported as
  unreachable but is not the plan's fault; see :attr:`AccessReport.cut_off` vs
  :attr:`AccessReport.unreachable`.

A sealed block is a set of node ids, a polygon, or both; with a polygon, nodes strictly
inside it belong to the block (nodes on its boundary do not). Attach buildings to their
own spur nodes rather than to road junctions, otherwise sealing a building also closes
the junction.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

__all__ = [
    "VEHICLE_CLASSES",
    "AccessReport",
    "Node",
    "OpenSpace",
    "OpenSpaceChoice",
    "Road",
    "Route",
    "SealedBlock",
    "SitePlan",
    "Target",
    "VehicleClass",
    "check_access",
    "nearest_open_space",
]

Point = tuple[float, float]
_EPS = 1e-9


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class VehicleClass:
    """A class of vehicle that must keep access to the compound."""

    key: str
    label_zh: str
    label_en: str
    min_width_m: float
    #: may drive into a sealed block to reach a target inside it
    may_enter_sealed: bool
    #: target kinds this class must reach
    serves: frozenset[str]


VEHICLE_CLASSES: dict[str, VehicleClass] = {
    v.key: v
    for v in (
        VehicleClass("ambulance", "救护车（120）", "Ambulance (120)", 3.5, True, frozenset({"building"})),
        VehicleClass("fire_engine", "消防车", "Fire engine", 4.0, True, frozenset({"building"})),
        VehicleClass("supply_van", "保供车辆", "Supply van", 3.0, False, frozenset({"building", "sampling_site"})),
        VehicleClass(
            "garbage_truck",
            "垃圾清运车",
            "Garbage truck",
            3.5,
            False,
            frozenset({"building", "garbage_point"}),
        ),
    )
}


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float


@dataclass(frozen=True)
class Road:
    """A two-way road between nodes ``a`` and ``b``; ``length_m`` defaults to the straight distance."""

    a: str
    b: str
    width_m: float
    length_m: float | None = None
    name: str = ""


@dataclass(frozen=True)
class Target:
    """Something vehicles must reach, attached to a node: ``kind`` is e.g. ``building``,
    ``sampling_site`` or ``garbage_point``."""

    key: str
    node: str
    kind: str = "building"
    label: str = ""


@dataclass(frozen=True)
class OpenSpace:
    """A candidate place for a sampling site (a square, a lawn, a car park)."""

    key: str
    x: float
    y: float
    node: str | None = None
    label: str = ""


@dataclass(frozen=True)
class SitePlan:
    """A compound's road graph. Validated on construction (``ValueError`` on bad ids)."""

    nodes: tuple[Node, ...]
    roads: tuple[Road, ...]
    gates: frozenset[str]
    targets: tuple[Target, ...]
    _by_id: dict[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Node] = {}
        for n in self.nodes:
            if n.id in by_id:
                raise ValueError(f"duplicate node {n.id!r}")
            by_id[n.id] = n
        for r in self.roads:
            if r.a not in by_id or r.b not in by_id:
                raise ValueError(f"road {r.a!r}-{r.b!r} uses an unknown node")
            if r.width_m <= 0 or (r.length_m is not None and r.length_m < 0):
                raise ValueError(f"road {r.a!r}-{r.b!r} needs a positive width and a non-negative length")
        for g in self.gates:
            if g not in by_id:
                raise ValueError(f"gate {g!r} is not a node")
        keys: set[str] = set()
        for t in self.targets:
            if t.node not in by_id:
                raise ValueError(f"target {t.key!r} is attached to unknown node {t.node!r}")
            if t.key in keys:
                raise ValueError(f"duplicate target {t.key!r}")
            keys.add(t.key)
        object.__setattr__(self, "_by_id", by_id)

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def has_node(self, node_id: str) -> bool:
        return node_id in self._by_id

    def point(self, node_id: str) -> Point:
        n = self._by_id[node_id]
        return (n.x, n.y)

    def road_length(self, road: Road) -> float:
        if road.length_m is not None:
            return road.length_m
        return math.dist(self.point(road.a), self.point(road.b))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SitePlan:
        """Build a plan from JSON-like data (``nodes``, ``roads``, ``gates``, ``targets``)."""
        return cls(
            nodes=tuple(Node(str(n["id"]), float(n["x"]), float(n["y"])) for n in data["nodes"]),
            roads=tuple(
                Road(
                    str(r["a"]),
                    str(r["b"]),
                    float(r["width_m"]),
                    None if r.get("length_m") is None else float(r["length_m"]),
                    str(r.get("name", "")),
                )
                for r in data["roads"]
            ),
            gates=frozenset(str(g) for g in data["gates"]),
            targets=tuple(
                Target(str(t["key"]), str(t["node"]), str(t.get("kind", "building")), str(t.get("label", "")))
                for t in data.get("targets", ())
            ),
        )


@dataclass(frozen=True)
class SealedBlock:
    """A sealed block: explicit node ids, a polygon (metres, any orientation), or both."""

    key: str
    nodes: frozenset[str] = frozenset()
    polygon: tuple[Point, ...] = ()

    def __post_init__(self) -> None:
        if self.polygon and len(self.polygon) < 3:
            raise ValueError(f"block {self.key!r}: a polygon needs at least 3 points")

    @classmethod
    def from_buildings(cls, key: str, plan: SitePlan, building_keys: Iterable[str]) -> SealedBlock:
        """A block made of the nodes the given targets are attached to."""
        by_key = {t.key: t for t in plan.targets}
        try:
            return cls(key, nodes=frozenset(by_key[b].node for b in building_keys))
        except KeyError as exc:
            raise ValueError(f"block {key!r}: unknown building {exc.args[0]!r}") from None

    def resolve(self, plan: SitePlan) -> frozenset[str]:
        """Node ids of ``plan`` inside this block."""
        for n in self.nodes:
            if not plan.has_node(n):
                raise ValueError(f"block {self.key!r}: unknown node {n!r}")
        inside = set(self.nodes)
        if self.polygon:
            inside.update(n.id for n in plan.nodes if _inside_polygon((n.x, n.y), self.polygon))
        return frozenset(inside)

    def contains_point(self, p: Point, plan: SitePlan) -> bool:
        """True if ``p`` is strictly inside the polygon (node-only blocks: never)."""
        return bool(self.polygon) and _inside_polygon(p, self.polygon)

    def centroid(self, plan: SitePlan) -> Point:
        """Area centroid of the polygon, else the mean of the block's node positions."""
        if self.polygon:
            return _polygon_centroid(self.polygon)
        pts = [plan.point(n) for n in self.resolve(plan)]
        if not pts:
            raise ValueError(f"block {self.key!r} is empty")
        return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Route:
    """Whether ``vehicle`` reaches ``target`` from a gate, and how.

    ``mode``: ``direct`` (target outside blocks), ``enter_block`` (emergency vehicle
    driving into the target's block), ``handover`` (vehicle stops at ``handover_node`` at
    the block's edge; ``walk_m`` is the distance carried on foot) or ``none``.
    ``reason`` is empty when reachable, else a code: ``too_narrow`` / ``not_connected``
    (unreachable even with no block sealed), ``sealed_block`` (cut off by the sealing),
    ``no_handover_point`` (no open handover point for a block target), ``no_open_gate``.
    """

    target: str
    vehicle: str
    reachable: bool
    mode: str
    gate: str | None
    nodes: tuple[str, ...]
    length_m: float | None
    inside_blocks: frozenset[str]
    baseline_reachable: bool
    baseline_length_m: float | None
    handover_node: str | None = None
    walk_m: float | None = None
    reason: str = ""

    @property
    def cut_off(self) -> bool:
        """Reachable before sealing, not reachable now."""
        return self.baseline_reachable and not self.reachable

    @property
    def detour_m(self) -> float | None:
        if self.length_m is None or self.baseline_length_m is None or self.mode != "direct":
            return None
        return self.length_m - self.baseline_length_m


@dataclass(frozen=True)
class AccessReport:
    """All checked (target, vehicle) pairs; ``ok`` is False when the sealing cuts something off."""

    routes: tuple[Route, ...]
    sealed_blocks: tuple[str, ...]
    #: target key -> keys of the sealed blocks containing it (empty if outside)
    target_blocks: Mapping[str, frozenset[str]]

    def route(self, target: str, vehicle: str) -> Route:
        for r in self.routes:
            if r.target == target and r.vehicle == vehicle:
                return r
        raise KeyError((target, vehicle))

    @property
    def cut_off(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.cut_off)

    @property
    def unreachable(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if not r.reachable)

    @property
    def ok(self) -> bool:
        return not any(r.cut_off for r in self.routes)

    def cut_off_targets(self) -> dict[str, tuple[str, ...]]:
        """Target key -> vehicle classes it is cut off from (sorted)."""
        out: dict[str, list[str]] = {}
        for r in self.routes:
            if r.cut_off:
                out.setdefault(r.target, []).append(r.vehicle)
        return {t: tuple(sorted(v)) for t, v in out.items()}


@dataclass(frozen=True)
class OpenSpaceChoice:
    open_space: OpenSpace
    distance_m: float
    #: ``building:<key>`` or ``centroid``
    measured_from: str


# --------------------------------------------------------------------------- geometry


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    if abs(_cross(a, b, p)) > _EPS * max(1.0, math.dist(a, b)):
        return False
    return (
        min(a[0], b[0]) - _EPS <= p[0] <= max(a[0], b[0]) + _EPS
        and min(a[1], b[1]) - _EPS <= p[1] <= max(a[1], b[1]) + _EPS
    )


def _inside_polygon(p: Point, poly: Sequence[Point]) -> bool:
    """Strictly inside (points on the boundary are outside)."""
    n = len(poly)
    for i in range(n):
        if _on_segment(p, poly[i], poly[(i + 1) % n]):
            return False
    x, y = p
    inside = False
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if xc > x:
                inside = not inside
    return inside


def _segment_enters_polygon(p: Point, q: Point, poly: Sequence[Point]) -> bool:
    """True if some part of segment p-q lies strictly inside the polygon."""
    rx, ry = q[0] - p[0], q[1] - p[1]
    rr = rx * rx + ry * ry
    if rr <= _EPS:
        return _inside_polygon(p, poly)
    ts = [0.0, 1.0]
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        sx, sy = b[0] - a[0], b[1] - a[1]
        apx, apy = a[0] - p[0], a[1] - p[1]
        denom = rx * sy - ry * sx
        if abs(denom) <= _EPS:
            if abs(apx * ry - apy * rx) <= _EPS * max(1.0, math.sqrt(rr)):  # collinear
                for c in (a, b):
                    t = ((c[0] - p[0]) * rx + (c[1] - p[1]) * ry) / rr
                    if 0.0 < t < 1.0:
                        ts.append(t)
            continue
        t = (apx * sy - apy * sx) / denom
        u = (apx * ry - apy * rx) / denom
        if -_EPS <= t <= 1 + _EPS and -_EPS <= u <= 1 + _EPS:
            ts.append(min(1.0, max(0.0, t)))
    ts.sort()
    for t0, t1 in pairwise(ts):
        if t1 - t0 <= _EPS:
            continue
        tm = (t0 + t1) / 2
        if _inside_polygon((p[0] + tm * rx, p[1] + tm * ry), poly):
            return True
    return False


def _polygon_centroid(poly: Sequence[Point]) -> Point:
    area2 = cx = cy = 0.0
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        c = x1 * y2 - x2 * y1
        area2 += c
        cx += (x1 + x2) * c
        cy += (y1 + y2) * c
    if abs(area2) <= _EPS:
        return (sum(p[0] for p in poly) / n, sum(p[1] for p in poly) / n)
    return (cx / (3 * area2), cy / (3 * area2))


# --------------------------------------------------------------------------- routing

_EMPTY: frozenset[str] = frozenset()


class _Graph:
    """The plan's roads with, for every node and road, the sealed blocks it lies in."""

    def __init__(self, plan: SitePlan, blocks: Sequence[SealedBlock]) -> None:
        self.plan = plan
        node_blocks: dict[str, set[str]] = {n.id: set() for n in plan.nodes}
        for blk in blocks:
            for nid in blk.resolve(plan):
                node_blocks[nid].add(blk.key)
        self.node_blocks: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in node_blocks.items()}
        # adjacency: node -> list of (neighbour, length, width, blocks of the road)
        self.adj: dict[str, list[tuple[str, float, float, frozenset[str]]]] = {n.id: [] for n in plan.nodes}
        for road in plan.roads:
            eb = set(self.node_blocks[road.a] | self.node_blocks[road.b])
            for blk in blocks:
                if (
                    blk.polygon
                    and blk.key not in eb
                    and _segment_enters_polygon(plan.point(road.a), plan.point(road.b), blk.polygon)
                ):
                    eb.add(blk.key)
            length = plan.road_length(road)
            edge_blocks = frozenset(eb)
            self.adj[road.a].append((road.b, length, road.width_m, edge_blocks))
            self.adj[road.b].append((road.a, length, road.width_m, edge_blocks))
        self._cache: dict[tuple[float, frozenset[str]], tuple[dict[str, float], dict[str, str | None]]] = {}

    def tree(
        self, min_width: float, allowed: frozenset[str], sources: Iterable[str] | None = None
    ) -> tuple[dict[str, float], dict[str, str | None]]:
        """Multi-source Dijkstra from the open gates (or ``sources``).

        Only nodes and roads whose blocks are a subset of ``allowed`` are used.
        Returns (distance, predecessor); a source's predecessor is ``None``.
        """
        key = (min_width, allowed)
        if sources is None and key in self._cache:
            return self._cache[key]
        starts = self.plan.gates if sources is None else sources
        dist: dict[str, float] = {}
        prev: dict[str, str | None] = {}
        heap: list[tuple[float, str, str | None]] = []
        for s in sorted(set(starts)):
            if self.node_blocks[s] <= allowed:
                heap.append((0.0, s, None))
        heapq.heapify(heap)
        while heap:
            d, u, p = heapq.heappop(heap)
            if u in dist:
                continue
            dist[u] = d
            prev[u] = p
            for v, length, width, eb in self.adj[u]:
                if v in dist or width + _EPS < min_width or not eb <= allowed:
                    continue
                heapq.heappush(heap, (d + length, v, u))
        if sources is None:
            self._cache[key] = (dist, prev)
        return dist, prev

    def handover_points(self, blocks: frozenset[str]) -> set[str]:
        """Nodes outside every block joined by a road to (or through) one of ``blocks``."""
        out: set[str] = set()
        for u, edges in self.adj.items():
            if self.node_blocks[u]:
                continue
            for _v, _length, _width, eb in edges:
                if eb and eb <= blocks:
                    out.add(u)
                    break
        return out


def _path(prev: Mapping[str, str | None], end: str) -> tuple[str, ...]:
    nodes = [end]
    cur = prev[end]
    while cur is not None:
        nodes.append(cur)
        cur = prev[cur]
    nodes.reverse()
    return tuple(nodes)


def check_access(
    plan: SitePlan,
    sealed_blocks: Iterable[SealedBlock] = (),
    *,
    vehicles: Iterable[VehicleClass] | None = None,
    targets: Iterable[str] | None = None,
) -> AccessReport:
    """Check every (target, vehicle class) pair the class serves; see the module docstring.

    ``vehicles`` defaults to :data:`VEHICLE_CLASSES`; ``targets`` (target keys) to all of
    the plan's targets. Raises ``ValueError`` if a block names an unknown node.
    """
    blocks = tuple(sealed_blocks)
    keys = [b.key for b in blocks]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate sealed block keys")
    graph = _Graph(plan, blocks)
    baseline = _Graph(plan, ())
    classes = tuple(VEHICLE_CLASSES.values()) if vehicles is None else tuple(vehicles)
    wanted = None if targets is None else set(targets)
    chosen = [t for t in plan.targets if wanted is None or t.key in wanted]
    if wanted is not None and len(chosen) != len(wanted):
        raise ValueError(f"unknown targets: {sorted(wanted - {t.key for t in chosen})}")

    routes: list[Route] = []
    for target in chosen:
        inside = graph.node_blocks[target.node]
        for vc in classes:
            if target.kind not in vc.serves:
                continue
            b_dist, _ = baseline.tree(vc.min_width_m, _EMPTY)
            base_ok = target.node in b_dist
            base_len = b_dist.get(target.node)
            common: dict[str, Any] = {
                "target": target.key,
                "vehicle": vc.key,
                "inside_blocks": inside,
                "baseline_reachable": base_ok,
                "baseline_length_m": base_len,
            }
            if not base_ok:
                anyway, _ = baseline.tree(0.0, _EMPTY)
                reason = "too_narrow" if target.node in anyway else "not_connected"
                routes.append(
                    Route(
                        reachable=False,
                        mode="none",
                        gate=None,
                        nodes=(),
                        length_m=None,
                        reason=reason,
                        **common,
                    )
                )
                continue
            if not inside or vc.may_enter_sealed:
                dist, prev = graph.tree(vc.min_width_m, inside)
                if target.node in dist:
                    path = _path(prev, target.node)
                    routes.append(
                        Route(
                            reachable=True,
                            mode="enter_block" if inside else "direct",
                            gate=path[0],
                            nodes=path,
                            length_m=dist[target.node],
                            **common,
                        )
                    )
                else:
                    any_gate = any(not graph.node_blocks[g] or graph.node_blocks[g] <= inside for g in plan.gates)
                    routes.append(
                        Route(
                            reachable=False,
                            mode="none",
                            gate=None,
                            nodes=(),
                            length_m=None,
                            reason="sealed_block" if any_gate else "no_open_gate",
                            **common,
                        )
                    )
                continue
            # handover at the edge of the target's block(s)
            candidates = graph.handover_points(inside)
            walk, _ = graph.tree(0.0, inside, sources=[target.node])
            drive, prev = graph.tree(vc.min_width_m, _EMPTY)
            best: tuple[float, float, str] | None = None
            for node in candidates:
                if node in walk and node in drive:
                    cand = (walk[node], drive[node], node)
                    if best is None or cand < best:
                        best = cand
            if best is None:
                routes.append(
                    Route(
                        reachable=False,
                        mode="none",
                        gate=None,
                        nodes=(),
                        length_m=None,
                        reason="no_handover_point",
                        **common,
                    )
                )
                continue
            walk_m, drive_m, node = best
            path = _path(prev, node)
            routes.append(
                Route(
                    reachable=True,
                    mode="handover",
                    gate=path[0],
                    nodes=path,
                    length_m=drive_m,
                    handover_node=node,
                    walk_m=walk_m,
                    **common,
                )
            )
    return AccessReport(
        routes=tuple(routes),
        sealed_blocks=tuple(keys),
        target_blocks={t.key: graph.node_blocks[t.node] for t in chosen},
    )


# --------------------------------------------------------------------------- sampling sites


def nearest_open_space(
    block: SealedBlock,
    open_spaces: Iterable[OpenSpace],
    plan: SitePlan,
    sealed_blocks: Iterable[SealedBlock] = (),
    *,
    measure: Literal["building", "centroid"] = "building",
) -> OpenSpaceChoice | None:
    """Propose a sampling site for ``block``: the nearest open space outside all sealed blocks.

    ``block`` is always treated as sealed, together with ``sealed_blocks``. An open space
    is inside a block if it is attached to one of the block's nodes or lies strictly inside
    its polygon. Distance is Euclidean: with ``measure="building"`` to the nearest building
    (target of kind ``building``) in the block, falling back to the block's centroid when
    it holds no building; with ``measure="centroid"`` to the centroid. Returns ``None`` if
    every open space is inside a sealed block.
    """
    all_blocks = [block, *(b for b in sealed_blocks if b.key != block.key)]
    resolved = [(b, b.resolve(plan)) for b in all_blocks]
    block_nodes = resolved[0][1]

    origins: list[tuple[Point, str]] = []
    if measure == "building":
        origins = [
            (plan.point(t.node), f"building:{t.key}")
            for t in plan.targets
            if t.kind == "building" and t.node in block_nodes
        ]
    if not origins:
        origins = [(block.centroid(plan), "centroid")]

    best: OpenSpaceChoice | None = None
    best_key: tuple[float, str] | None = None
    for space in open_spaces:
        p = (space.x, space.y)
        if any((space.node is not None and space.node in nodes) or b.contains_point(p, plan) for b, nodes in resolved):
            continue
        d, origin = min((math.dist(p, o), label) for o, label in origins)
        key = (d, space.key)
        if best_key is None or key < best_key:
            best_key = key
            best = OpenSpaceChoice(open_space=space, distance_m=d, measured_from=origin)
    return best
