"""Volunteer route planning: deliveries, door-to-door sampling walks, medicine trips.

This module is the pure-Python routing core. It knows nothing about the ORM: callers build a
:class:`RoutingProblem` (a start point such as the supply drop-off at a gate, the doors or
buildings to serve, how many trips the volunteers on shift can make, the capacity of a trolley or
tricycle and an optional time limit per trip) and get a :class:`RoutingSolution` back: ordered
routes, each a list of stop keys that can be drawn on the site plan or printed as a list.

Distances are whole metres. Without a road graph they are straight-line distances rounded to the
nearest metre (the same convention as the CVRPLIB benchmark instances). With a :class:`RoadGraph`
they are shortest walks along the compound's roads, so a wall or a fence that forces a detour is
respected. A stop that is not on a graph node is attached to its nearest node; the straight walk
from the road to the door is added to both legs.

Three planners share the same problem and solution types:

* :func:`solve` runs PyVRP's hybrid search (needs ``pyvrp>=0.14``) until it stops improving, or
  until a time budget that grows with the number of distinct locations (:func:`search_budget_s`),
  capped by the caller's limit; the budget is wall-clock time or, for benchmarks, CPU time of
  this process (``clock="cpu"``), so that a busy machine does not change the result;
* :func:`clarke_wright` is the classic savings heuristic (fast, deterministic, a fallback);
* :func:`in_order` serves the stops in the order they were given ("building by building in number
  order"), opening a new trip whenever capacity or the time limit would be exceeded.

Each route is one trip from the start point and back. A volunteer may take several trips in a
shift; ``vehicles`` bounds the number of trips, ``None`` meaning as many as needed. Stops that
cannot be served are never dropped silently: they are listed in ``unserved`` with a reason.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "REASON_CAPACITY",
    "REASON_DURATION",
    "REASON_NO_VEHICLE",
    "REASON_UNREACHABLE",
    "RoadGraph",
    "Route",
    "RoutingProblem",
    "RoutingSolution",
    "Stop",
    "check_solution",
    "clarke_wright",
    "distance_matrix",
    "in_order",
    "route_polyline",
    "search_budget_s",
    "solve",
]

# The search stops at the first of: the caller's time limit; SEARCH_BASE_S + SEARCH_PER_LOCATION_S
# per distinct location (50 locations: 1.2 s); PATIENCE_PER_LOCATION iterations per distinct location
# (at least MIN_PATIENCE) without a better plan. PyVRP does about 1,500-2,500 iterations a second
# at these sizes; on 50 random doors the last improvement came at iteration ~180, on 300 at ~10,000.
SEARCH_BASE_S = 0.2
SEARCH_PER_LOCATION_S = 0.02
MIN_PATIENCE = 2000
PATIENCE_PER_LOCATION = 25

REASON_CAPACITY = "demand exceeds the capacity of one trolley or tricycle"
REASON_UNREACHABLE = "not reachable from the start point on the road graph"
REASON_DURATION = "a round trip to this stop alone exceeds the time limit of a trip"
REASON_NO_VEHICLE = "not enough volunteers or trips on shift to serve it within the limits"

IntMatrix = NDArray[np.int64]
FloatMatrix = NDArray[np.float64]


@dataclass(frozen=True)
class Stop:
    """A door, a building entrance or a start point.

    ``x``/``y`` are site-plan coordinates in metres. ``node`` optionally pins the stop to a node of
    the road graph; otherwise the nearest node is used. ``demand`` is in the units of the capacity
    (boxes, households, bags); ``service_s`` is the time spent at the stop.
    """

    key: str
    x: float
    y: float
    demand: int = 1
    service_s: int = 0
    node: str | None = None


@dataclass(frozen=True)
class RoadGraph:
    """An undirected road and path network: ``nodes`` maps an id to (x, y) in metres, ``edges``
    lists ``(a, b, length_m)``. Parallel edges keep the shortest one."""

    nodes: Mapping[str, tuple[float, float]]
    edges: Sequence[tuple[str, str, float]]

    def __post_init__(self) -> None:
        for a, b, length in self.edges:
            if a not in self.nodes or b not in self.nodes:
                raise ValueError(f"edge ({a!r}, {b!r}) refers to an unknown node")
            if not length >= 0 or math.isinf(length):
                raise ValueError(f"edge ({a!r}, {b!r}) has an invalid length {length!r}")

    @cached_property
    def _ids(self) -> list[str]:
        return list(self.nodes)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {node: i for i, node in enumerate(self._ids)}

    @cached_property
    def _coords(self) -> FloatMatrix:
        return np.array([self.nodes[n] for n in self._ids], dtype=np.float64).reshape(-1, 2)

    @cached_property
    def _adjacency(self) -> list[dict[int, float]]:
        adj: list[dict[int, float]] = [{} for _ in self._ids]
        for a, b, length in self.edges:
            i, j = self._index[a], self._index[b]
            if i == j:
                continue
            if length < adj[i].get(j, math.inf):
                adj[i][j] = adj[j][i] = float(length)
        return adj

    def nearest_node(self, x: float, y: float) -> str:
        """The id of the node closest in a straight line to (x, y)."""
        if not self._ids:
            raise ValueError("the road graph has no nodes")
        d2 = ((self._coords - np.array([x, y])) ** 2).sum(axis=1)
        return self._ids[int(np.argmin(d2))]

    def distances_from(self, sources: Sequence[str]) -> FloatMatrix:
        """Shortest road distances (metres, float, ``inf`` if unreachable) from each source node
        to every node, one row per source, columns in ``nodes`` order."""
        rows = [self._index[s] for s in sources]
        try:
            from scipy.sparse import csr_matrix
            from scipy.sparse.csgraph import dijkstra
        except ImportError:  # pragma: no cover - scipy is a project dependency
            return np.array([self._dijkstra(r)[0] for r in rows], dtype=np.float64)
        n = len(self._ids)
        heads: list[int] = []
        tails: list[int] = []
        weights: list[float] = []
        for i, nbrs in enumerate(self._adjacency):
            for j, w in nbrs.items():
                heads.append(i)
                tails.append(j)
                # csgraph treats stored zeros as missing edges: keep zero-length edges tiny.
                weights.append(w if w > 0 else 1e-9)
        graph = csr_matrix((weights, (heads, tails)), shape=(n, n))
        if not rows:
            return np.zeros((0, n), dtype=np.float64)
        out: FloatMatrix = np.asarray(dijkstra(graph, directed=True, indices=rows), dtype=np.float64)
        return out.reshape(len(rows), n)

    def path(self, a: str, b: str) -> list[str]:
        """The node ids of a shortest path from ``a`` to ``b`` (both included); ``[]`` if none."""
        src, dst = self._index[a], self._index[b]
        dist, prev = self._dijkstra(src, target=dst)
        if math.isinf(dist[dst]):
            return []
        out = [dst]
        while out[-1] != src:
            out.append(prev[out[-1]])
        return [self._ids[i] for i in reversed(out)]

    def _dijkstra(self, src: int, target: int | None = None) -> tuple[list[float], list[int]]:
        n = len(self._ids)
        dist = [math.inf] * n
        prev = [-1] * n
        dist[src] = 0.0
        heap: list[tuple[float, int]] = [(0.0, src)]
        adj = self._adjacency
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            if u == target:
                break
            for v, w in adj[u].items():
                nd = d + w
                if nd < dist[v]:
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        return dist, prev


@dataclass(frozen=True)
class RoutingProblem:
    """What to plan: start point, stops, fleet and limits.

    ``vehicles`` is the number of trips available (``None``: as many as needed); ``capacity`` the
    load of one trolley or tricycle (``None``: unlimited, e.g. a sampling walk);
    ``max_duration_s`` the time limit of one trip including service times (``None``: none).
    """

    depot: Stop
    stops: Sequence[Stop]
    vehicles: int | None = None
    capacity: int | None = None
    max_duration_s: int | None = None
    walking_speed_m_s: float = 1.2
    graph: RoadGraph | None = None

    def __post_init__(self) -> None:
        keys = [s.key for s in self.stops]
        if len(set(keys)) != len(keys):
            raise ValueError("stop keys must be unique")
        if self.depot.key in set(keys):
            raise ValueError("the start point must not share a key with a stop")
        if any(s.demand < 0 or s.service_s < 0 for s in self.stops):
            raise ValueError("demand and service time must not be negative")
        if self.vehicles is not None and self.vehicles < 0:
            raise ValueError("vehicles must not be negative")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError("capacity must not be negative")
        if self.max_duration_s is not None and self.max_duration_s < 0:
            raise ValueError("max_duration_s must not be negative")
        if not self.walking_speed_m_s > 0:
            raise ValueError("walking_speed_m_s must be positive")
        if self.graph is not None:
            for s in [self.depot, *self.stops]:
                if s.node is not None and s.node not in self.graph.nodes:
                    raise ValueError(f"stop {s.key!r} refers to an unknown graph node {s.node!r}")


@dataclass(frozen=True)
class Route:
    """One trip from the start point and back, visiting ``stop_keys`` in order."""

    stop_keys: list[str]
    distance_m: int
    duration_s: int
    load: int


@dataclass(frozen=True)
class RoutingSolution:
    routes: list[Route]
    total_distance_m: int
    unserved: list[str]
    solver: str
    unserved_reasons: dict[str, str] = field(default_factory=dict)
    solve_time_s: float = 0.0


# --------------------------------------------------------------------------------------------
# Distances and the prepared instance


def distance_matrix(problem: RoutingProblem) -> tuple[list[str], IntMatrix]:
    """Integer distance matrix in metres over ``[depot, *stops]`` (keys in that order).

    Unreachable pairs hold ``-1``.
    """
    points = [problem.depot, *problem.stops]
    keys = [p.key for p in points]
    n = len(points)
    if problem.graph is None:
        xy = np.array([(p.x, p.y) for p in points], dtype=np.float64).reshape(n, 2)
        diff = xy[:, None, :] - xy[None, :, :]
        dist = np.rint(np.sqrt((diff**2).sum(axis=2))).astype(np.int64)
        return keys, dist
    graph = problem.graph
    nodes = [p.node if p.node is not None else graph.nearest_node(p.x, p.y) for p in points]
    offsets = np.array(
        [math.hypot(p.x - graph.nodes[nd][0], p.y - graph.nodes[nd][1]) for p, nd in zip(points, nodes, strict=True)],
        dtype=np.float64,
    )
    unique = list(dict.fromkeys(nodes))
    rows = graph.distances_from(unique)
    row_of = {nd: i for i, nd in enumerate(unique)}
    col = np.array([graph._index[nd] for nd in nodes], dtype=np.int64)
    road = rows[np.array([row_of[nd] for nd in nodes], dtype=np.int64)][:, col]
    total = offsets[:, None] + road + offsets[None, :]
    np.fill_diagonal(total, 0.0)
    out = np.where(np.isfinite(total), np.rint(total), -1).astype(np.int64)
    return keys, out


@dataclass
class _Prepared:
    """The servable part of a problem, indexed 0 = depot, 1..n = servable stops."""

    stops: list[Stop]
    dist: IntMatrix
    time: IntMatrix
    demand: list[int]
    service: list[int]
    capacity: int
    max_duration: int | None
    vehicles: int
    reasons: dict[str, str]

    @property
    def n(self) -> int:
        return len(self.stops)


def _prepare(problem: RoutingProblem) -> _Prepared:
    _, full = distance_matrix(problem)
    reasons: dict[str, str] = {}
    keep = [0]
    capacity = problem.capacity
    speed = problem.walking_speed_m_s
    for i, s in enumerate(problem.stops, start=1):
        if capacity is not None and s.demand > capacity:
            reasons[s.key] = REASON_CAPACITY
        elif full[0, i] < 0 or full[i, 0] < 0:
            reasons[s.key] = REASON_UNREACHABLE
        elif problem.max_duration_s is not None and (
            _travel_s(int(full[0, i]), speed) + s.service_s + _travel_s(int(full[i, 0]), speed) > problem.max_duration_s
        ):
            reasons[s.key] = REASON_DURATION
        else:
            keep.append(i)
    idx = np.array(keep, dtype=np.int64)
    dist = full[np.ix_(idx, idx)]
    tmat = np.rint(dist / speed).astype(np.int64)
    stops = [problem.stops[i - 1] for i in keep[1:]]
    demand = [0, *(s.demand for s in stops)]
    total_demand = sum(demand)
    vehicles = problem.vehicles if problem.vehicles is not None else max(len(stops), 1)
    return _Prepared(
        stops=stops,
        dist=dist,
        time=tmat,
        demand=demand,
        service=[0, *(s.service_s for s in stops)],
        capacity=capacity if capacity is not None else max(total_demand, 1),
        max_duration=problem.max_duration_s,
        vehicles=vehicles,
        reasons=reasons,
    )


def _travel_s(distance_m: int, speed: float) -> int:
    return int(np.rint(distance_m / speed))


def _route_metrics(p: _Prepared, seq: Sequence[int]) -> tuple[int, int, int]:
    """(distance, duration, load) of a trip visiting prepared indices ``seq``."""
    if not seq:
        return 0, 0, 0
    path = [0, *seq, 0]
    dist = sum(int(p.dist[a, b]) for a, b in itertools.pairwise(path))
    dur = sum(int(p.time[a, b]) for a, b in itertools.pairwise(path))
    dur += sum(p.service[i] for i in seq)
    load = sum(p.demand[i] for i in seq)
    return dist, dur, load


def _build_solution(
    p: _Prepared,
    sequences: list[list[int]],
    dropped: Sequence[int],
    solver: str,
    started: float,
    *,
    orient: bool = True,
) -> RoutingSolution:
    routes: list[Route] = []
    symmetric = orient and _symmetric(p.dist, p.time)
    for seq in sequences:
        if not seq:
            continue
        if symmetric and p.dist[0, seq[-1]] < p.dist[0, seq[0]]:
            seq = seq[::-1]  # start each trip with the end nearer the start point
        dist, dur, load = _route_metrics(p, seq)
        routes.append(Route([p.stops[i - 1].key for i in seq], dist, dur, load))
    reasons = dict(p.reasons)
    for i in dropped:
        reasons[p.stops[i - 1].key] = REASON_NO_VEHICLE
    return RoutingSolution(
        routes=routes,
        total_distance_m=sum(r.distance_m for r in routes),
        unserved=list(reasons),
        solver=solver,
        unserved_reasons=reasons,
        solve_time_s=time.perf_counter() - started,
    )


def _symmetric(*matrices: IntMatrix) -> bool:
    return all(bool(np.array_equal(m, m.T)) for m in matrices)


def _limit_vehicles(sequences: list[list[int]], vehicles: int) -> tuple[list[list[int]], list[int]]:
    """Keep at most ``vehicles`` trips, preferring those serving the most stops."""
    if len(sequences) <= vehicles:
        return sequences, []
    order = sorted(range(len(sequences)), key=lambda r: (-len(sequences[r]), r))
    kept = sorted(order[:vehicles])
    dropped = [i for r in order[vehicles:] for i in sequences[r]]
    return [sequences[r] for r in kept], sorted(dropped)


# --------------------------------------------------------------------------------------------
# Baselines


def in_order(problem: RoutingProblem) -> RoutingSolution:
    """Serve the stops in the order given, starting a new trip when the next stop would break the
    capacity or the time limit (counting the walk back to the start point)."""
    started = time.perf_counter()
    p = _prepare(problem)
    sequences: list[list[int]] = []
    current: list[int] = []
    load = dur = 0
    for i in range(1, p.n + 1):
        if current:
            last = current[-1]
            new_load = load + p.demand[i]
            new_dur = dur - int(p.time[last, 0]) + int(p.time[last, i]) + p.service[i] + int(p.time[i, 0])
            if new_load <= p.capacity and (p.max_duration is None or new_dur <= p.max_duration):
                current.append(i)
                load, dur = new_load, new_dur
                continue
            sequences.append(current)
        current = [i]
        load = p.demand[i]
        dur = int(p.time[0, i]) + p.service[i] + int(p.time[i, 0])
    if current:
        sequences.append(current)
    sequences, dropped = _limit_vehicles(sequences, p.vehicles)
    return _build_solution(p, sequences, dropped, "in-order", started, orient=False)


def clarke_wright(problem: RoutingProblem) -> RoutingSolution:
    """Clarke and Wright's parallel savings heuristic with capacity and trip-time checks."""
    started = time.perf_counter()
    p = _prepare(problem)
    return _build_solution(p, *_savings(p), "clarke-wright", started)


def _savings(p: _Prepared) -> tuple[list[list[int]], list[int]]:
    n = p.n
    if n == 0:
        return [], []
    routes: dict[int, list[int]] = {i: [i] for i in range(1, n + 1)}
    route_of = list(range(n + 1))
    load = {i: p.demand[i] for i in range(1, n + 1)}
    tm = p.time
    dur = {i: int(tm[0, i]) + p.service[i] + int(tm[i, 0]) for i in range(1, n + 1)}
    if n > 1:
        d = p.dist.astype(np.int64)
        iu, ju = np.triu_indices(n, k=1)
        iu = iu + 1
        ju = ju + 1
        saving = d[0, iu] + d[ju, 0] - d[iu, ju]
        positive = saving > 0
        iu, ju, saving = iu[positive], ju[positive], saving[positive]
        order = np.argsort(-saving, kind="stable")
        pairs = zip(iu[order].tolist(), ju[order].tolist(), strict=True)
        tm_list: list[list[int]] = tm.tolist()
        for i, j in pairs:
            ri, rj = route_of[i], route_of[j]
            if ri == rj:
                continue
            a, b = routes[ri], routes[rj]
            if (a[0] != i and a[-1] != i) or (b[0] != j and b[-1] != j):
                continue
            if load[ri] + load[rj] > p.capacity:
                continue
            new_dur = dur[ri] + dur[rj] - tm_list[i][0] - tm_list[0][j] + tm_list[i][j]
            if p.max_duration is not None and new_dur > p.max_duration:
                continue
            if a[-1] != i:
                a.reverse()
            if b[0] != j:
                b.reverse()
            a.extend(b)
            for k in b:
                route_of[k] = ri
            load[ri] += load.pop(rj)
            dur[ri] = new_dur
            dur.pop(rj)
            del routes[rj]
    sequences = [routes[r] for r in sorted(routes)]
    return _limit_vehicles(sequences, p.vehicles)


# --------------------------------------------------------------------------------------------
# PyVRP


def search_budget_s(locations: int, time_limit_s: float) -> float:
    """The search's time budget for ``locations`` distinct places: grows with the size, never more
    than ``time_limit_s``."""
    return min(time_limit_s, SEARCH_BASE_S + SEARCH_PER_LOCATION_S * max(locations, 1))


class _CpuTime:
    """A PyVRP stopping criterion on this process's CPU time (``time.process_time``)."""

    def __init__(self, budget_s: float) -> None:
        self._budget_s = budget_s
        self._start: float | None = None

    def __call__(self, best_cost: float) -> bool:
        if self._start is None:
            self._start = time.process_time()
        return time.process_time() - self._start > self._budget_s


def _distinct_locations(stops: Sequence[Stop]) -> int:
    return len({s.node if s.node is not None else (round(s.x, 1), round(s.y, 1)) for s in stops})


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 1,
    warm_start: bool = True,
    clock: str = "wall",
    scale: bool = True,
) -> RoutingSolution:
    """Plan routes with PyVRP's iterated local search.

    The search stops when it has not improved for a number of iterations that grows with the
    distinct locations, or when its budget is spent: :func:`search_budget_s` of the distinct
    locations (``scale=False``: exactly ``time_limit_s``), never more than ``time_limit_s``, in
    wall-clock seconds (``clock="wall"``) or in CPU seconds of this process (``clock="cpu"``,
    for benchmarks at a fixed budget on a shared machine; with ``scale=False`` no early stop either).

    When there are enough trips for every servable stop all stops are required; otherwise each
    stop carries a large prize, so the solver serves as many as the limits allow and the rest are
    reported as unserved. If PyVRP returns no feasible plan, the Clarke–Wright plan is returned
    instead (``solver`` says so).
    """
    started = time.perf_counter()
    p = _prepare(problem)
    if p.n == 0 or p.vehicles == 0:
        dropped = list(range(1, p.n + 1))
        return _build_solution(p, [], dropped, "trivial", started)
    if p.n == 1:
        return _build_solution(p, [[1]], [], "trivial", started)

    import pyvrp
    from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

    required = p.vehicles >= p.n
    max_d = int(p.dist.max())
    prize = 0 if required else 10 * (2 * max_d + 1)
    locations = [pyvrp.Location(x=problem.depot.x, y=problem.depot.y)]
    locations += [pyvrp.Location(x=s.x, y=s.y) for s in p.stops]
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[p.demand[i]],
            service_duration=p.service[i],
            required=required,
            prize=prize,
        )
        for i in range(1, p.n + 1)
    ]
    vehicle_kwargs: dict[str, Any] = {"num_available": min(p.vehicles, p.n), "capacity": [p.capacity]}
    if p.max_duration is not None:
        vehicle_kwargs["shift_duration"] = p.max_duration
    # PyVRP's stubs spell the matrix type in a way numpy's own annotations do not match.
    distances: list[Any] = [np.ascontiguousarray(p.dist, dtype=np.int64)]
    durations: list[Any] = [np.ascontiguousarray(p.time, dtype=np.int64)]
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(**vehicle_kwargs)],
        distance_matrices=distances,
        duration_matrices=durations,
    )
    initial = None
    if warm_start:
        # Clarke-Wright costs milliseconds and gives the search a good first plan, which matters
        # most for large instances under short time limits.
        cw_routes, _ = _savings(p)
        initial = pyvrp.Solution(data, [[i - 1 for i in seq] for seq in cw_routes])
    places = _distinct_locations(p.stops)
    budget = search_budget_s(places, time_limit_s) if scale else time_limit_s
    criteria: list[Any] = [_CpuTime(budget) if clock == "cpu" else MaxRuntime(budget)]
    if scale:
        criteria.append(NoImprovement(max(MIN_PATIENCE, PATIENCE_PER_LOCATION * places)))
    result = pyvrp.solve(
        data,
        stop=MultipleCriteria(criteria),
        seed=seed,
        collect_stats=False,
        display=False,
        initial_solution=initial,
    )
    if not result.is_feasible():
        fallback = _savings(p)
        return _build_solution(p, *fallback, "clarke-wright (pyvrp found no feasible plan)", started)
    sequences: list[list[int]] = []
    for route in result.best.routes():
        sequences.append([act.idx + 1 for act in route if act.is_client()])
    visited = {i for seq in sequences for i in seq}
    dropped = [i for i in range(1, p.n + 1) if i not in visited]
    return _build_solution(p, sequences, dropped, "pyvrp", started)


# --------------------------------------------------------------------------------------------
# Checks and drawing


def check_solution(problem: RoutingProblem, solution: RoutingSolution) -> list[str]:
    """Every rule a plan must keep, as a list of violations (empty when the plan is valid):
    each stop served at most once or reported unserved, never both, capacity and time limit
    respected, at most ``vehicles`` trips, and the reported figures consistent."""
    errors: list[str] = []
    p = _prepare(problem)
    index = {s.key: i for i, s in enumerate(p.stops, start=1)}
    all_keys = {s.key for s in problem.stops}
    seen: list[str] = [k for r in solution.routes for k in r.stop_keys]
    if len(seen) != len(set(seen)):
        errors.append("a stop is visited more than once")
    if set(seen) & set(solution.unserved):
        errors.append("a stop is both visited and reported unserved")
    if set(seen) | set(solution.unserved) != all_keys or len(seen) + len(solution.unserved) != len(all_keys):
        errors.append("served and unserved stops do not add up to the stops given")
    if problem.vehicles is not None and len(solution.routes) > problem.vehicles:
        errors.append("more trips than vehicles")
    for n, route in enumerate(solution.routes, start=1):
        if not route.stop_keys:
            errors.append(f"route {n} is empty")
            continue
        if any(k not in index for k in route.stop_keys):
            errors.append(f"route {n} visits a stop that cannot be served")
            continue
        dist, dur, load = _route_metrics(p, [index[k] for k in route.stop_keys])
        if (dist, dur, load) != (route.distance_m, route.duration_s, route.load):
            errors.append(f"route {n} reports wrong figures")
        if load > p.capacity:
            errors.append(f"route {n} exceeds the capacity")
        if p.max_duration is not None and dur > p.max_duration:
            errors.append(f"route {n} exceeds the time limit")
    if solution.total_distance_m != sum(r.distance_m for r in solution.routes):
        errors.append("total distance is not the sum of the routes")
    return errors


def route_polyline(problem: RoutingProblem, route: Route) -> list[tuple[float, float]]:
    """Site-plan coordinates to draw a route: the start point, each stop in order and back, going
    along the roads when the problem has a road graph."""
    by_key = {s.key: s for s in problem.stops}
    points = [problem.depot, *(by_key[k] for k in route.stop_keys), problem.depot]
    graph = problem.graph
    if graph is None:
        return [(p.x, p.y) for p in points]
    out: list[tuple[float, float]] = [(points[0].x, points[0].y)]
    for a, b in itertools.pairwise(points):
        na = a.node if a.node is not None else graph.nearest_node(a.x, a.y)
        nb = b.node if b.node is not None else graph.nearest_node(b.x, b.y)
        out.extend(graph.nodes[nd] for nd in graph.path(na, nb))
        out.append((b.x, b.y))
    deduped = [out[0]]
    for pt in out[1:]:
        if pt != deduped[-1]:
            deduped.append(pt)
    return deduped
