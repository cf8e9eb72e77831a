"""Volunteer routes on the demo community's own road graph (fangzhou.supplies).

Builds the demo community (``fangzhou demo``'s generator, through the real services) in a scratch
SQLite database, takes its road graph exactly as the route planner does
(``fangzhou.zones.sitegraph.community_site_graph``: the zones app's roads if drawn, otherwise the
street grid along the building rows), and plans routes for 50, 300 and 1,000 doors drawn at random
(seeded) from the lived-in households: a tricycle of 20 doors, start at the first gate, time spent
at each door and on the stairs as the planner counts it, a trip time limit of 2 hours.

For each size: PyVRP through ``routing.solve`` at ``--time-limit`` seconds (the planner's setting),
Clarke–Wright savings, and the plain "building by building in number order" plan: total route length,
number of trips, wall-clock time, and whether ``check_solution`` found the plan valid.

Usage: python bench/routes_demo.py [--time-limit 10] [--sizes 50 300 1000] [--out docs/bench/routes_demo.md]

``--seeded --database-url …``: the database already holds the demo with its day of operations
(``bench/run_all.py`` seeds it once for the run); its first community is planned, on the roads the
day of operations drew.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--sizes", type=int, nargs="*", default=[50, 300, 1000])
    ap.add_argument("--capacity", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--demo-size", default="default", choices=["small", "default", "large"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--database-url", default="", help="with --seeded: the database holding the demo")
    ap.add_argument("--seeded", action="store_true", help="the database holds the demo (bench/seed_demo.py)")
    args = ap.parse_args()

    scratch = tempfile.mkdtemp(prefix="fz-routes-")
    os.environ["FANGZHOU_DATA_DIR"] = scratch
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    if args.database_url and not args.seeded:
        ap.error("--database-url is for --seeded (without it the demo is built in a scratch SQLite database)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from ratios import record

    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community, Household
    from fangzhou.supplies.services import _door_stops, trip_time_limit_s
    from fangzhou.zones import routing
    from fangzhou.zones.sitegraph import community_site_graph

    started = time.perf_counter()
    if args.seeded:  # bench/run_all.py seeded it once for the run: its first community
        community = Community.objects.order_by("pk").first()
        assert community is not None, "--seeded: the database holds no demo"
    else:
        call_command("migrate", interactive=False, verbosity=0)
        community = Community.objects.get(code=demo_seed(size=args.demo_size).communities[0])
    site = community_site_graph(community)
    households = list(
        Household.objects.filter(building__community=community, residents__isnull=False)
        .distinct()
        .select_related("building")
        .order_by("building__compound_id", "building__sort_key", "room")
    )
    print(
        f"demo {community.name}: {len(households)} lived-in doors, graph {len(site.graph.nodes)} nodes "
        f"({site.source}), built in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    gate_label, gate_node = next(iter(site.gates.values()))
    gx, gy = site.graph.nodes[gate_node]
    rows: list[str] = []
    for size in args.sizes:
        rng = random.Random(f"{args.seed}:{size}")
        chosen = sorted(rng.sample(range(len(households)), min(size, len(households))))
        stops = _door_stops([households[i] for i in chosen], site.entrances, site.graph.nodes)
        problem = routing.RoutingProblem(
            depot=routing.Stop(key="__start__", x=gx, y=gy, node=gate_node),
            stops=stops,
            capacity=args.capacity,
            max_duration_s=trip_time_limit_s(),
            graph=site.graph,
        )
        methods = [
            (
                f"PyVRP {args.time_limit:g} s fixed",
                lambda p: routing.solve(p, time_limit_s=args.time_limit, seed=args.seed, scale=False),
            ),
            (
                "PyVRP as planned (scaled budget, early stop)",
                lambda p: routing.solve(p, time_limit_s=args.time_limit, seed=args.seed),
            ),
            ("Clarke–Wright", routing.clarke_wright),
            ("In order", routing.in_order),
        ]
        base = None
        walls: list[float] = []
        for name, method in methods:
            t0 = time.perf_counter()
            solution = method(problem)
            wall = time.perf_counter() - t0
            valid = not routing.check_solution(problem, solution)
            if base is None:
                base = solution.total_distance_m
            ratio = solution.total_distance_m / base if base else 1.0
            if name != methods[0][0]:
                record(
                    f"routes demo, {len(stops)} doors: {name} / PyVRP fixed",
                    solution.total_distance_m,
                    base or 1.0,
                    "m",
                )
            if name.startswith("PyVRP as planned"):
                fixed_wall = walls[0]
                record(
                    f"routes demo, {len(stops)} doors: planner time / fixed {args.time_limit:g} s",
                    wall,
                    fixed_wall,
                    "s",
                )
            walls.append(wall)
            rows.append(
                f"| {len(stops)} | {name} | {solution.total_distance_m / 1000:.2f} | {ratio:.3f} | "
                f"{len(solution.routes)} | {len(solution.unserved)} | {wall:.2f} | {'yes' if valid else 'NO'} |"
            )
            print(rows[-1], flush=True)
    out = [
        "# Volunteer routes on the demo community",
        "",
        f"Generated by `python bench/routes_demo.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, PyVRP {version('pyvrp')}, seed {args.seed}.",
        "",
        f"Community: the demo generator's `{args.demo_size}` community ({community.name}), "
        f"{len(households)} lived-in doors; road graph from `community_site_graph` "
        f"({site.source}: {len(site.graph.nodes)} nodes, {len(site.graph.edges)} edges); start at {gate_label}. "
        f"A tricycle carries {args.capacity} doors; a trip may last at most {trip_time_limit_s() // 60} minutes "
        "including 30 s per door and 20 s per floor of stairs; walking speed 1.2 m/s. Doors are drawn at random "
        "(seeded) from the lived-in households. The CVRPLIB comparison is in [routing.md](routing.md).",
        "",
        "| doors | method | length (km) | vs PyVRP | trips | unserved | time (s) | valid |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(out), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print("\n".join(out))


if __name__ == "__main__":
    main()
