"""Benchmark the volunteer routing core (fangzhou.zones.routing).

Part 1: CVRPLIB X instances (Uchoa et al. 2017) from ../shared/data/cvrp, every instance with at
most ``--max-customers`` customers. Distances are Euclidean rounded to the nearest integer, the
fleet is unlimited, as in the literature. For each instance: PyVRP through the core's ``solve`` at
``--time-limit`` seconds, Clarke-Wright savings, and the plain in-order plan; the gap to the
best-known solution is ``100 * (cost - bks) / bks``.

Part 2: a synthetic community road graph (a block grid about 500 m across with a few roads closed
off, doors along the roads, a supply drop-off at the south gate, a tricycle of 20 doors) with 50,
300 and 1,000 doors: total route length, number of trips and wall-clock time of each method.

Usage: python bench/cvrp.py [--time-limit 10] [--max-customers 300] [--out docs/bench/routing.md]
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vrplib  # noqa: E402
from ratios import record  # noqa: E402

from fangzhou.zones.routing import (  # noqa: E402
    RoadGraph,
    RoutingProblem,
    RoutingSolution,
    Stop,
    check_solution,
    clarke_wright,
    in_order,
    solve,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvrp"


def load_instance(path: Path) -> tuple[RoutingProblem, int]:
    inst = vrplib.read_instance(str(path))
    bks = int(vrplib.read_solution(str(path.with_suffix(".sol")))["cost"])
    coords = inst["node_coord"]
    demand = inst["demand"]
    depot_idx = int(inst["depot"][0])
    depot = Stop("depot", float(coords[depot_idx][0]), float(coords[depot_idx][1]), demand=0)
    stops = [
        Stop(str(i), float(coords[i][0]), float(coords[i][1]), demand=int(demand[i]))
        for i in range(len(coords))
        if i != depot_idx
    ]
    problem = RoutingProblem(depot=depot, stops=stops, vehicles=None, capacity=int(inst["capacity"]))
    return problem, bks


def instance_paths(data: Path, max_customers: int, only: list[str] | None) -> list[Path]:
    def customers(p: Path) -> int:
        m = re.match(r"X-n(\d+)-", p.name)
        return int(m.group(1)) - 1 if m else 10**9

    paths = sorted(data.glob("X-n*.vrp"), key=customers)
    paths = [p for p in paths if customers(p) <= max_customers]
    if only:
        paths = [p for p in paths if any(o in p.stem for o in only)]
    return paths


def run_method(problem: RoutingProblem, method: Callable[[RoutingProblem], RoutingSolution]) -> RoutingSolution:
    sol = method(problem)
    errors = check_solution(problem, sol)
    if errors or sol.unserved:
        raise SystemExit(f"invalid plan from {sol.solver}: {errors} unserved={sol.unserved[:5]}")
    return sol


def gap(cost: int, bks: int) -> float:
    return 100.0 * (cost - bks) / bks


def bench_x(paths: list[Path], time_limit: float, seed: int) -> tuple[list[str], dict[str, float]]:
    lines = [
        f"| instance | n | BKS | PyVRP {time_limit:g} CPU-s | gap % | Clarke–Wright | gap % | in order | gap % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    gaps: dict[str, list[float]] = {"pyvrp": [], "cw": [], "order": []}
    for path in paths:
        problem, bks = load_instance(path)
        # A fixed CPU budget (process time), not wall clock: a busy machine gives the same search.
        pv = run_method(problem, lambda p: solve(p, time_limit_s=time_limit, seed=seed, clock="cpu", scale=False))
        cw = run_method(problem, clarke_wright)
        io = run_method(problem, in_order)
        row = []
        for key, sol in (("pyvrp", pv), ("cw", cw), ("order", io)):
            g = gap(sol.total_distance_m, bks)
            gaps[key].append(g)
            row += [str(sol.total_distance_m), f"{g:.2f}"]
        line = f"| {path.stem} | {len(problem.stops)} | {bks} | " + " | ".join(row) + " |"
        print(line, flush=True)
        lines.append(line)
    means = {k: statistics.fmean(v) for k, v in gaps.items() if v}
    if means:
        lines.append(
            f"| **mean** ({len(paths)} instances) | | | | **{means['pyvrp']:.2f}** | | "
            f"**{means['cw']:.2f}** | | **{means['order']:.2f}** |"
        )
    return lines, means


# --------------------------------------------------------------------------------------------
# Synthetic community


def community_graph(seed: int = 7) -> tuple[RoadGraph, list[tuple[str, str]]]:
    """A 6 x 6 grid of junctions 100 m apart (500 m across), each road segment split into 10 m
    pieces, with about a sixth of the segments closed (walls, fences, a sealed block) while the
    network stays connected. Returns the graph and the open segments (junction pairs)."""
    rng = random.Random(seed)
    size, spacing, piece = 6, 100.0, 10.0
    junction = {(i, j): f"J{i}-{j}" for i in range(size) for j in range(size)}
    segments = [((i, j), (i + 1, j)) for i in range(size - 1) for j in range(size)]
    segments += [((i, j), (i, j + 1)) for i in range(size) for j in range(size - 1)]
    rng.shuffle(segments)
    closed: set[int] = set()
    target = len(segments) // 6
    for k in range(len(segments)):
        if len(closed) >= target:
            break
        trial = closed | {k}
        if _connected(size, [s for n, s in enumerate(segments) if n not in trial]):
            closed = trial
    open_segments = [s for n, s in enumerate(segments) if n not in closed]
    nodes: dict[str, tuple[float, float]] = {name: (i * spacing, j * spacing) for (i, j), name in junction.items()}
    edges: list[tuple[str, str, float]] = []
    pairs: list[tuple[str, str]] = []
    steps = int(spacing / piece)
    for a, b in open_segments:
        prev = junction[a]
        for s in range(1, steps):
            t = s / steps
            name = f"{junction[a]}_{junction[b]}_{s}"
            nodes[name] = (
                (a[0] + t * (b[0] - a[0])) * spacing,
                (a[1] + t * (b[1] - a[1])) * spacing,
            )
            edges.append((prev, name, piece))
            prev = name
        edges.append((prev, junction[b], piece))
        pairs.append((junction[a], junction[b]))
    return RoadGraph(nodes=nodes, edges=edges), pairs


def _connected(size: int, segments: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    adj: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in segments:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = (0, 0)
    seen = {start}
    todo = [start]
    while todo:
        u = todo.pop()
        for v in adj.get(u, []):
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return len(seen) == size * size


def community_problem(doors: int, graph: RoadGraph, pairs: list[tuple[str, str]], seed: int) -> RoutingProblem:
    """Doors 8 m off an open road, numbered building by building in rows (south to north, west to
    east), as a committee would number them; one parcel each, 60 s at the door."""
    rng = random.Random(seed)
    points = []
    for _ in range(doors):
        a, b = rng.choice(pairs)
        (xa, ya), (xb, yb) = graph.nodes[a], graph.nodes[b]
        t = rng.uniform(0.05, 0.95)
        x, y = xa + t * (xb - xa), ya + t * (yb - ya)
        side = rng.choice((-8.0, 8.0))
        if xa == xb:
            x += side
        else:
            y += side
        points.append((x, y))
    points.sort(key=lambda p: (round(p[1] // 50), p[0]))
    stops = [Stop(f"D{n:04d}", x, y, demand=1, service_s=60) for n, (x, y) in enumerate(points, start=1)]
    gate = Stop("gate-south", 250.0, -10.0, demand=0)
    return RoutingProblem(
        depot=gate,
        stops=stops,
        vehicles=None,
        capacity=20,
        max_duration_s=3600,
        walking_speed_m_s=1.2,
        graph=graph,
    )


def bench_community(time_limits: list[float], seed: int, sizes: list[int]) -> list[str]:
    graph, pairs = community_graph()
    lines = [
        f"Road graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges of 10 m; "
        f"{len(pairs)} of 60 road segments open.",
        "",
        "| doors | method | route length (m) | trips | longest trip (min) | wall time (s) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for doors in sizes:
        problem = community_problem(doors, graph, pairs, seed=doors)
        methods: list[tuple[str, Callable[[RoutingProblem], RoutingSolution]]] = [
            ("in order", in_order),
            ("Clarke–Wright", clarke_wright),
        ]
        for tl in time_limits:
            methods.append((f"PyVRP {tl:g} s", lambda p, tl=tl: solve(p, time_limit_s=tl, seed=seed)))
        for name, method in methods:
            t0 = time.perf_counter()
            sol = run_method(problem, method)
            wall = time.perf_counter() - t0
            longest = max(r.duration_s for r in sol.routes) / 60
            line = f"| {doors} | {name} | {sol.total_distance_m} | {len(sol.routes)} | {longest:.1f} | {wall:.1f} |"
            print(line, flush=True)
            lines.append(line)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--max-customers", type=int, default=300)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", nargs="*", help="instance name fragments, e.g. n101 n200")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--community-time-limits", type=float, nargs="*", default=[10.0, 30.0])
    ap.add_argument("--community-sizes", type=int, nargs="*", default=[50, 300, 1000])
    ap.add_argument("--skip-x", action="store_true")
    ap.add_argument("--skip-community", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    out: list[str] = [
        "# Volunteer routing benchmark",
        "",
        f"Generated by `python bench/cvrp.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, PyVRP {version('pyvrp')}, seed {args.seed}. "
        "PyVRP runs single-threaded; the machine's 2 cores were shared with other work.",
        "",
        "Methods, all through `fangzhou.zones.routing` and checked by its `check_solution`:",
        "",
        '- **PyVRP**: `solve(problem, time_limit_s=..., seed=..., clock="cpu", scale=False)` on the X instances: '
        "PyVRP's iterated local search with default parameters, warm-started from the Clarke–Wright plan, "
        "stopped after a fixed budget of this process's CPU time (not wall clock, so load on the machine does "
        "not change the result); on the synthetic community the planner's own setting (budget scaled with the "
        "distinct locations, early stop on no improvement, wall clock).",
        "- **Clarke–Wright**: `clarke_wright(problem)`, parallel savings, no improvement phase.",
        "- **In order**: `in_order(problem)`, the stops in the order given, a new trip whenever the "
        "next stop would break the capacity or the trip time limit.",
        "",
    ]
    if not args.skip_x:
        paths = instance_paths(args.data, args.max_customers, args.only)
        out += [
            f"## CVRPLIB X instances, up to {args.max_customers} customers, {args.time_limit:g} CPU-seconds each",
            "",
            "Costs are total distances with distances rounded to integers; gap % = "
            "100 · (cost − BKS) / BKS. In order = customers served in file order, a new trip "
            "whenever the next one does not fit.",
            "",
        ]
        lines, means = bench_x(paths, args.time_limit, args.seed)
        out += lines
        if means:
            verdict = "met" if means["pyvrp"] <= 1.0 else "NOT met"
            summary = (
                f"Mean gap: PyVRP {means['pyvrp']:.2f} %, Clarke–Wright {means['cw']:.2f} %, "
                f"in order {means['order']:.2f} %. Target (PyVRP mean gap ≤ 1 %): {verdict}."
            )
            print(summary)
            record(f"cvrp: PyVRP {args.time_limit:g} CPU-s cost / BKS (mean)", 100 + means["pyvrp"], 100.0, "% of BKS")
            record("cvrp: Clarke–Wright cost / BKS (mean)", 100 + means["cw"], 100.0, "% of BKS")
            out += ["", summary, ""]
    if not args.skip_community:
        out += [
            "## Synthetic community road graph",
            "",
            "A 500 m block grid with a sixth of the road segments closed, doors 8 m off the roads, "
            "drop-off at the south gate, tricycle of 20 parcels, 60 s per door, 1.2 m/s, "
            "trips of at most 60 min. Wall time includes the road distance matrix.",
            "",
        ]
        out += bench_community(args.community_time_limits, args.seed, args.community_sizes)
        out.append("")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(out) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
