"""Every benchmark under bench/, one table of ratios.

    python bench/run_all.py --quick [--database-url postgres://…]   # small sizes, under 5 minutes
    python bench/run_all.py [--database-url postgres://…]           # the documented full sizes

Each benchmark runs in its own process with ``FANGZHOU_BENCH_RATIOS`` naming a file; each
records its headline ratios there (``bench/ratios.py``): what was measured, the baseline measured
in the same run, and their ratio. The database benchmarks flush the database they are given:
give them one of their own. Reports of a quick run go to a temporary folder, never to docs/.

The benchmarks named in ``SHARED_DEMO`` read the demo with its day of operations: the run seeds it
once (``bench/seed_demo.py``; the small demo in a quick run, the default one in a full run) and
passes it to each of them with ``--seeded --database-url …`` (the database given, or a SQLite file
of the run), instead of each seeding its own. Each still measures its own baseline in the same
run. The seed is made again before a benchmark of ``SHARED_DEMO`` that follows one that is not
(the others flush the database), so keep them together in ``plan``.

To add a benchmark: one ``(name, arguments)`` entry in each list of ``plan`` (``bench/<name>.py``
is run with those arguments; the database benchmarks take ``*db``), and ``record`` its ratios
(``bench/ratios.py``). ``--skip NAME …`` leaves benchmarks out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# Benchmarks that take the run's seeded demo (``--seeded``) rather than seeding their own. Not
# grid_render: on the demo with its day of operations its template render reads the database too
# (42x the plain table in the run of 2026-12-01 19:40, 2.3x on its own demo), so it seeds its own.
SHARED_DEMO = ("hot_pages", "routes_demo")


def plan(quick: bool, out: Path, db: list[str], cvrp: list[str]) -> list[tuple[str, list[str]]]:
    """(name, arguments) of every benchmark at the quick or the full size."""
    if quick:
        return [
            ("zones_scale", ["--quick", *db]),
            # The raw-executemany floor is the baseline; the row-by-row ORM one (minutes) is left out.
            ("roster_import", ["--rows", "2000", "--reps", "3", "--skip-row-by-row", *db]),
            # 5,000 samples in 500 tubes (its own --quick is 20,000: a minute on a loaded machine).
            ("round_import", ["--residents", "5000", *db]),
            ("pooling", ["--people", "5000", "--reps", "1", "--out", str(out / "pooling.md")]),
            ("cvrp", ["--only", "n101", "n110", "--time-limit", "1", "--skip-community", *cvrp]),
            *([("antigen_load", ["--quick", "--floor", *db])] if db else []),
            # hot_pages and routes_demo: the run's small demo (SHARED_DEMO), one after the other.
            ("hot_pages", ["--quick", *db]),
            ("routes_demo", ["--sizes", "50", "--time-limit", "1", "--demo-size", "small"]),
            ("grid_render", ["--quick", *db]),
            ("demo_scale", ["--quick", *db]),
            ("outbox_soak", ["--quick", *db]),
            *([("partitioning", ["--quick", *db])] if db else []),
        ]
    return [
        ("zones_scale", [*db, "--out", str(out / "zones_scale.md")]),
        ("roster_import", [*db, "--out", str(out / "roster.md")]),
        ("round_import", [*db, "--out", str(out / "round_import.md")]),
        ("pooling", ["--people", "100000", "--reps", "10", "--out", str(out / "pooling.md")]),
        ("cvrp", ["--out", str(out / "routing.md"), *cvrp]),
        *([("antigen_load", [*db, "--floor", "--out", str(out / "antigen_load.md")])] if db else []),
        ("hot_pages", [*db]),
        ("routes_demo", ["--out", str(out / "routes_demo.md")]),
        ("grid_render", [*db, "--out", str(out / "grid_render.md")]),
        ("demo_scale", [*db, "--out", str(out / "demo_scale.md")]),
        ("outbox_soak", [*db, "--out", str(out / "outbox_soak.md")]),
        *([("partitioning", [*db, "--out", str(out / "partitioning.md")])] if db else []),
    ]


def _without_database(argv: list[str]) -> list[str]:
    """``argv`` without its ``--database-url URL``."""
    if "--database-url" not in argv:
        return argv
    i = argv.index("--database-url")
    return [*argv[:i], *argv[i + 2 :]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="", help="for the database benchmarks (flushed!)")
    parser.add_argument("--only", nargs="*", help="benchmark names")
    parser.add_argument("--skip", nargs="*", default=[], help="benchmark names to leave out")
    parser.add_argument("--cvrp-data", default="", help="folder of the CVRPLIB X instances (default: bench/cvrp.py's)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="fz-bench-all-"))
    ratios = out / "ratios.jsonl"
    db = ["--database-url", args.database_url] if args.database_url else []
    env = {**os.environ, "FANGZHOU_BENCH_RATIOS": str(ratios), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    failed: list[str] = []
    cvrp = ["--data", args.cvrp_data] if args.cvrp_data else []
    shared = args.database_url or f"sqlite:///{out / 'demo.sqlite3'}"
    seeded = False  # whether the shared demo is in ``shared`` as seed_demo left it
    for name, argv in plan(args.quick, out, db, cvrp):
        if (args.only and name not in args.only) or name in args.skip:
            continue
        t = time.perf_counter()
        if name in SHARED_DEMO:
            if not seeded:
                size = "small" if args.quick else "default"
                print(f"== seed_demo --size {size}", file=sys.stderr, flush=True)
                done = subprocess.run(
                    [sys.executable, str(BENCH / "seed_demo.py"), "--size", size, "--database-url", shared],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                    failed.append("seed_demo")
                    continue
                seeded = True
                print(f"   seed_demo: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
                t = time.perf_counter()
            argv = [*_without_database(argv), "--seeded", "--database-url", shared]
        elif "--database-url" in argv:
            seeded = False  # it flushes the database
        print(f"== {name} {' '.join(argv)}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, str(BENCH / f"{name}.py"), *argv], env=env, capture_output=True, text=True
        )
        if done.returncode:
            failed.append(name)
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
        print(f"   {name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    rows = [json.loads(line) for line in ratios.read_text(encoding="utf-8").splitlines()] if ratios.exists() else []
    print("| benchmark | measured | baseline | ratio |\n|---|---:|---:|---:|")
    for r in rows:
        unit = r["unit"]
        print(f"| {r['name']} | {r['measured']:.4g} {unit} | {r['baseline']:.4g} {unit} | {r['ratio']:.3f} |")
    mode = "quick" if args.quick else "full"
    print(f"\n{len(rows)} ratios, {mode} run, {time.perf_counter() - started:.0f} s; reports in {out}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
