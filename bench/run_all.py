"""Every benchmark under bench/, one table of ratios.

    python bench/run_all.py --quick [--database-url postgres://…]   # small sizes, under 5 minutes
    python bench/run_all.py [--database-url postgres://…]           # the documented full sizes

Each benchmark runs in its own process with ``FANGZHOU_BENCH_RATIOS`` naming a file; each
records its headline ratios there (``bench/ratios.py``): what was measured, the baseline measured
in the same run, and their ratio. The database benchmarks flush the database they are given:
give them one of their own. Reports of a quick run go to a temporary folder, never to docs/.
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
            ("routes_demo", ["--sizes", "50", "--time-limit", "1", "--demo-size", "small"]),
            *([("antigen_load", ["--quick", *db])] if db else []),
            ("hot_pages", ["--quick", *db]),
            ("demo_scale", ["--quick", *db]),
            ("grid_render", ["--quick", *db]),
            ("outbox_soak", ["--quick", *db]),
            *([("partitioning", ["--quick", *db])] if db else []),
        ]
    return [
        ("zones_scale", [*db, "--out", str(out / "zones_scale.md")]),
        ("roster_import", [*db, "--out", str(out / "roster.md")]),
        ("round_import", [*db, "--out", str(out / "round_import.md")]),
        ("pooling", ["--people", "100000", "--reps", "10", "--out", str(out / "pooling.md")]),
        ("cvrp", ["--out", str(out / "routing.md"), *cvrp]),
        ("routes_demo", ["--out", str(out / "routes_demo.md")]),
        *([("antigen_load", [*db, "--out", str(out / "antigen_load.md")])] if db else []),
        ("hot_pages", [*db]),
        ("demo_scale", [*db, "--out", str(out / "demo_scale.md")]),
        ("grid_render", [*db, "--out", str(out / "grid_render.md")]),
        ("outbox_soak", [*db, "--out", str(out / "outbox_soak.md")]),
        *([("partitioning", [*db, "--out", str(out / "partitioning.md")])] if db else []),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="", help="for the database benchmarks (flushed!)")
    parser.add_argument("--only", nargs="*", help="benchmark names")
    parser.add_argument("--cvrp-data", default="", help="folder of the CVRPLIB X instances (default: bench/cvrp.py's)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="fz-bench-all-"))
    ratios = out / "ratios.jsonl"
    db = ["--database-url", args.database_url] if args.database_url else []
    env = {**os.environ, "FANGZHOU_BENCH_RATIOS": str(ratios), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    failed: list[str] = []
    cvrp = ["--data", args.cvrp_data] if args.cvrp_data else []
    for name, argv in plan(args.quick, out, db, cvrp):
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
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
