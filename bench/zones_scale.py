"""Zone classification at scale: ``zone_report`` against one GROUP BY over the same cases.

    python bench/zones_scale.py --database-url postgres://fangzhou:fangzhou@127.0.0.1:5432/fz_bench \
        [--compounds 1000 25000] [--cases-per-compound 4] [--buildings-per-compound 2]

For each size, one community with N compounds (B buildings each, one household and one resident
per building) and 4·N cases spread over the 90 days before the report day (so 100,000 cases at
25,000 compounds); 1 % of the compounds have a micro sealed zone around their first building.
Rows are bulk-inserted (this measures the read, not the writes), then ANALYZE.

Baseline, in the same run: ``SELECT compound_id, max(report_date), count(*) FROM cases JOIN
buildings … GROUP BY compound_id``, the least any classification must read. Measured:
``zone_report(community, day)``, which returns the status of every compound, micro-zone and
building, with the per-building list made (``.buildings``: what the zones page, the overview's
plan and ``sealed_buildings`` read); and the classification as the daily report reads it
(``zone_reports(…, buildings=False)`` and ``buildings_by_status()``: every compound and
micro-zone, and the buildings counted per status, without the per-building list or its
per-building case counts). Each is timed ``--reps`` times, alternating; the best of each is
compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DAY = dt.date(2022, 4, 30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compounds", type=int, nargs="*", default=[1000, 25000])
    parser.add_argument("--cases-per-compound", type=int, default=4)
    parser.add_argument("--buildings-per-compound", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--quick", action="store_true", help="1,000 compounds only")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.quick:
        args.compounds = [1000]
        args.reps = 3
    os.environ["FANGZHOU_DATA_DIR"] = tempfile.mkdtemp(prefix="fz-bench-")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Max
    from ratios import record

    from fangzhou.cases.models import Case
    from fangzhou.registry.models import Building, Community, Compound, Household, Resident
    from fangzhou.registry.services import community_create
    from fangzhou.zones.models import MicroZone
    from fangzhou.zones.selectors import zone_report, zone_reports

    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    # As `fangzhou serve`'s workers do once the application is loaded (fangzhou/ops/gunicorn_conf.py):
    # what start-up made is moved out of the collector's sight.
    gc.collect()
    gc.freeze()
    rng = random.Random(1)
    lines = [
        f"Zone classification, {connection.vendor}, {args.buildings_per_compound} buildings and "
        f"{args.cases_per_compound} cases per compound, best of {args.reps}:",
        "",
        "| compounds | buildings | cases | GROUP BY (baseline) s | zone_report s | ratio "
        "| counts per status s | ratio | statuses (compounds) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size, n in enumerate(args.compounds):
        community = community_create(code=f"Z{size}", name=f"规模{n}")
        compounds = Compound.objects.bulk_create(
            [Compound(community=community, name=f"小区{i:05d}") for i in range(n)], batch_size=5000
        )
        buildings = Building.objects.bulk_create(
            [
                Building(
                    community=community, compound=c, number=str(j + 1), sort_key=j, x=i % 200 * 30.0, y=i // 200 * 30.0
                )
                for i, c in enumerate(compounds)
                for j in range(args.buildings_per_compound)
            ],
            batch_size=5000,
        )
        households = Household.objects.bulk_create(
            [Household(building=b, room="101") for b in buildings], batch_size=5000
        )
        residents = Resident.objects.bulk_create(
            [Resident(community=community, household=h, name=f"住户{k}") for k, h in enumerate(households)],
            batch_size=5000,
        )
        cases: list[Case] = []
        taken: set[tuple[int, dt.date]] = set()
        while len(cases) < n * args.cases_per_compound:
            k = rng.randrange(len(residents))
            day = DAY - dt.timedelta(days=rng.randrange(90))
            if (k, day) in taken:
                continue
            taken.add((k, day))
            cases.append(
                Case(community=community, resident=residents[k], building=buildings[k], source="staff", report_date=day)
            )
        Case.objects.bulk_create(cases, batch_size=5000)
        for c in compounds[::100]:
            mz = MicroZone.objects.create(
                community=community, compound=c, name="封控楼", drawn_on=DAY - dt.timedelta(days=20)
            )
            mz.buildings.add(Building.objects.filter(compound=c).order_by("sort_key").first())
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # The bench's own rows (some 250,000 model instances) are not what a server holds while it
        # answers: dropped here, so that the garbage collector's full passes during the timed reads
        # do not scan them (they did: a full pass landed in most zone_report runs).
        n_buildings, n_cases = len(buildings), len(cases)
        del compounds, buildings, households, residents, cases, taken
        gc.collect()

        def baseline(community: Community = community) -> int:
            return len(
                list(
                    Case.objects.filter(community=community, report_date__lte=DAY)
                    .values_list("building__compound_id")
                    .annotate(last=Max("report_date"), n=Count("id"))
                    .order_by()
                )
            )

        def measured(community: Community = community) -> int:
            return len(zone_report(community, DAY).buildings)

        def counted(community: Community = community) -> int:
            report = zone_reports([community], DAY, buildings=False)[community.pk]
            return sum(report.buildings_by_status().values())

        base_times, times, count_times = [], [], []
        baseline(), measured(), counted()  # warm the connection and the caches of every path alike
        for _ in range(args.reps):
            for fn, out in ((baseline, base_times), (measured, times), (counted, count_times)):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
        report = zone_report(community, DAY)
        statuses: dict[str, int] = {}
        for p in report.compounds:
            statuses[p.state.status] = statuses.get(p.state.status, 0) + 1
        b, m, k = min(base_times), min(times), min(count_times)
        ratio = record(f"zones: zone_report, {n:,} compounds / GROUP BY", m, b)
        k_ratio = record(f"zones: zone_report counts per status, {n:,} compounds / GROUP BY", k, b)
        lines.append(
            f"| {n:,} | {n_buildings:,} | {n_cases:,} | {b:.3f} | {m:.3f} | {ratio:.2f} | "
            f"{k:.3f} | {k_ratio:.2f} | " + ", ".join(f"{k} {v:,}" for k, v in statuses.items()) + " |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
