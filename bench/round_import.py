"""A city PCR round imported and resolved, against COPY / executemany of the same rows, same run.

    python bench/round_import.py [--residents 250000] [--quick] [--database-url postgres://...]

One community with N residents (households of 1-5, 100 households a building) and one round
(pool size 10). Two files in the city sampling app's format (``fangzhou testing import-samples``:
试管编码, 证件号码, 姓名, 采样时间, 采样点) and the lab's (``import-results``: 试管编码, 检测结果,
ORF1ab Ct, N Ct, 检测时间), N samples in N/10 tubes, 1 % of the tubes positive.

Baseline: the same two files loaded into two plain tables, COPY on PostgreSQL (psycopg
``cursor.copy``), ``executemany`` on SQLite. Second baseline (PostgreSQL), after the imports: the
rows they wrote (tubes, samples, lab results) COPYed into copies of the real tables with their
indexes and deferred foreign keys (``bench/round_floor.py``, ``--floor-repeat`` runs, best kept):
no import into these tables can be faster. Both ratios are recorded (``bench/ratios.py``). Measured: ``samples_import`` then ``results_import``
through the services (tubes, samples, results, re-tests with their door-to-door orders, audit),
then the same samples file again (an idempotent no-op). Each phase runs in a process of its own,
so its peak resident memory (VmHWM) is its own; the baseline's process pays the same
Django start-up. Statements are those Django executed in the phase (a COPY counts as one).
The rows are bulk-inserted and ANALYZEd before either path runs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DAY = dt.date(2022, 4, 10)


def _django(database_url: str) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()


def _maxrss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ``ru_maxrss``: Linux carries a parent's
    resident size at fork into the child's ``ru_maxrss`` across exec, so every phase would report
    the generator's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def phase(args: argparse.Namespace) -> None:
    """One measured step in this process; prints one JSON line."""
    _django(args.database_url)
    from django.db import connection

    statements = 0

    slow = os.environ.get("FZ_BENCH_STATEMENTS")  # each statement's seconds to stderr, for whoever tunes it

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        if not slow:
            return execute(sql, params, many, context)
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            print(f"{time.perf_counter() - t:8.3f} {' '.join(sql.split())[:160]}", file=sys.stderr)

    work = Path(args.work)
    from fangzhou.testing.models import Round
    from fangzhou.testing.services import results_import, samples_import

    connection.ensure_connection()
    before = _maxrss_mb()
    with connection.execute_wrapper(count):
        t = time.perf_counter()
        if args.phase == "baseline":
            _baseline(work)
        else:
            rnd = Round.objects.get(pk=args.round)
            name = "results.csv" if args.phase == "results" else "samples.csv"
            data = (work / name).read_bytes()
            importer = results_import if args.phase == "results" else samples_import
            if os.environ.get("FZ_BENCH_PROFILE"):  # a profile of the phase, for whoever tunes it
                import cProfile

                with cProfile.Profile() as prof:
                    report = importer(round=rnd, data=data, filename=name, actor=None)
                prof.dump_stats(f"{os.environ['FZ_BENCH_PROFILE']}/{args.phase}.prof")
            else:
                report = importer(round=rnd, data=data, filename=name, actor=None)
            assert not report.rejected, report.rejected[:5]
        seconds = time.perf_counter() - t
    print(
        json.dumps(
            {
                "phase": args.phase,
                "seconds": seconds,
                "maxrss_mb": _maxrss_mb(),
                "start_mb": before,
                "statements": statements,
                "report": {} if args.phase == "baseline" else _summary(report),
            }
        )
    )


def _summary(report: object) -> dict[str, object]:
    d = report.as_dict()  # type: ignore[attr-defined]
    return {k: (len(v) if isinstance(v, list) else v) for k, v in d.items()}


def _baseline(work: Path) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_samples")
        cursor.execute("DROP TABLE IF EXISTS bench_results")
        cursor.execute(
            "CREATE TABLE bench_samples (tube varchar(40), id_number varchar(32), name varchar(64), "
            "sampled_at timestamp, site varchar(64))"
        )
        cursor.execute(
            "CREATE TABLE bench_results (tube varchar(40), result varchar(10), ct_orf1ab real, "
            "ct_n real, tested_at timestamp)"
        )
        for table, name in (("bench_samples", "samples.csv"), ("bench_results", "results.csv")):
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # the psycopg cursor under Django's wrapper
                sql = f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
                with raw.copy(sql) as copy, open(work / name, "rb") as f:
                    while block := f.read(1 << 20):
                        copy.write(block)
            else:
                with open(work / name, encoding="utf-8", newline="") as f:
                    reader = csv.reader(f)
                    next(reader)
                    cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", list(reader))


def generate(args: argparse.Namespace) -> int:
    """The community, its residents, the round and both files; returns the round's id."""
    _django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from fangzhou.registry.models import Building, Compound, Household, Resident
    from fangzhou.registry.services import community_create
    from fangzhou.registry.tests.factories import make_id
    from fangzhou.testing.services import round_create, site_add

    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    rng = random.Random(12)
    community = community_create(code="CITY", name="全员核酸")
    compound = Compound.objects.create(community=community, name="一小区")
    n = args.residents
    households: list[Household] = []
    sizes: list[int] = []
    total = 0
    buildings: list[Building] = []
    while total < n:
        if len(households) % 100 == 0:
            buildings.append(Building(community=community, compound=compound, number=str(len(buildings) + 1)))
        size = min(rng.choice([1, 2, 2, 3, 3, 3, 4, 5]), n - total)
        households.append(Household(building=buildings[-1], room=str(101 + len(households) % 100)))
        sizes.append(size)
        total += size
    Building.objects.bulk_create(buildings, batch_size=5000)
    for h in households:
        h.building_id = h.building.pk
    Household.objects.bulk_create(households, batch_size=5000)
    people: list[Resident] = []
    seq = 0
    for h, size in zip(households, sizes, strict=True):
        for _ in range(size):
            seq += 1
            born = dt.date(1940 + seq % 70, 1 + seq % 12, 1 + seq % 28)
            number = make_id(f"31{seq // 50_000 % 100:02d}{seq // 500 % 100:02d}", born, seq % 500, bool(seq % 2))
            name = (
                "张王李赵刘陈杨黄"[seq % 8] + "伟芳娜敏静丽强磊"[seq // 8 % 8] + "一二三四五六七八九十"[seq // 64 % 10]
            )
            people.append(Resident(community=community, household=h, name=name, id_number=number))
    Resident.objects.bulk_create(people, batch_size=5000)
    rnd = round_create(community=community, date=DAY, pool_size=10, actor=None)
    sites = ["一号采样点", "二号采样点", "三号采样点"]
    for i, site in enumerate(sites):
        site_add(round=rnd, name=site, desks=4, opens_at=dt.time(7), closes_at=dt.time(19), actor=None)
        del i
    work = Path(args.work)
    start = dt.datetime.combine(DAY, dt.time(7, 0))
    with open(work / "samples.csv", "w", encoding="utf-8", newline="") as f:
        f.write("试管编码,证件号码,姓名,采样时间,采样点\n")
        for k, person in enumerate(people):
            tube = k // 10
            at = start + dt.timedelta(seconds=2 * tube)
            f.write(f"C{tube + 1:07d},{person.id_number},{person.name},{at:%Y-%m-%d %H:%M},{sites[tube % 3]}\n")
    tubes = (n + 9) // 10
    positive = set(rng.sample(range(tubes), max(1, tubes // 100)))
    with open(work / "results.csv", "w", encoding="utf-8", newline="") as f:
        f.write("试管编码,检测结果,ORF1ab Ct,N Ct,检测时间\n")
        for tube in range(tubes):
            word, ct = ("阳性", "27.5,29.1") if tube in positive else ("阴性", ",")
            f.write(f"C{tube + 1:07d},{word},{ct},{DAY.isoformat()} 20:00\n")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return rnd.pk


def _run(args: argparse.Namespace, name: str, rnd: int) -> dict[str, object]:
    argv = [sys.executable, __file__, "--phase", name, "--work", args.work, "--round", str(rnd)]
    if args.database_url:
        argv += ["--database-url", args.database_url]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    if os.environ.get("FZ_BENCH_STATEMENTS"):
        print(f"--- {name}\n{done.stderr}", file=sys.stderr)
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-6000:], file=sys.stderr)
        raise SystemExit(f"phase {name} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _floor(args: argparse.Namespace) -> dict[str, object]:
    """The real-table floor of this run's rows (``round_floor.measure``), in this process."""
    from django.db import connection
    from round_floor import measure

    connection.close()  # the floor's own connection; none of Django's left open beside it
    return measure(args.database_url, repeat=args.floor_repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=250_000)
    parser.add_argument("--quick", action="store_true", help="20,000 residents")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--out", default="")
    parser.add_argument(
        "--floor-repeat",
        type=int,
        default=1,
        help="runs of the real-table floor (bench/round_floor.py) after the imports, best kept; 0: none",
    )
    parser.add_argument("--phase", default="", help=argparse.SUPPRESS)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    if args.quick:
        args.residents = 20_000
    args.work = tempfile.mkdtemp(prefix="fz-bench-round-")
    os.environ["FANGZHOU_DATA_DIR"] = args.work
    rnd = generate(args)
    from django.db import connection

    vendor = connection.vendor
    base = _run(args, "baseline", rnd)
    samples = _run(args, "samples", rnd)
    results = _run(args, "results", rnd)
    again = _run(args, "samples", rnd)
    floor = _floor(args) if vendor == "postgresql" and args.floor_repeat > 0 else None
    tubes = (args.residents + 9) // 10
    measured = float(samples["seconds"]) + float(results["seconds"])  # type: ignore[arg-type]
    peak = max(float(samples["maxrss_mb"]), float(results["maxrss_mb"]))  # type: ignore[arg-type]
    from ratios import record

    label = f"round import {args.residents:,} samples ({vendor})"
    ratio = record(
        f"{label} / COPY" if vendor == "postgresql" else f"{label} / executemany", measured, float(base["seconds"])
    )  # type: ignore[arg-type]
    floor_ratio = None
    if floor is not None:
        floor_ratio = record(f"{label} / COPY into the real tables", measured, floor["full"])
    record(f"{label}: peak MB / baseline's", peak, float(base["maxrss_mb"]), "MB")  # type: ignore[arg-type]
    lines = [
        f"City round, {args.residents:,} samples in {tubes:,} tubes (1 % positive), {vendor}:",
        "",
        "| path | seconds | peak RSS MB | statements | statements per tube | report |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label_, r in (
        ("COPY / executemany of both files (baseline)", base),
        ("samples_import", samples),
        ("results_import (re-tests, orders, audit)", results),
        ("samples_import again (no-op)", again),
    ):
        st = int(r["statements"])  # type: ignore[call-overload]
        rep = ", ".join(f"{k} {v}" for k, v in dict(r["report"]).items() if v)  # type: ignore[call-overload]
        lines.append(
            f"| {label_} | {float(r['seconds']):.2f} | {float(r['maxrss_mb']):.0f} | {st:,} | {st / tubes:.3f} | {rep} |"  # type: ignore[arg-type]
        )
    lines += [
        "",
        f"Imported and resolved (samples + results): {measured:.2f} s, {ratio:.2f}× the baseline's "
        f"{float(base['seconds']):.2f} s; peak {peak:.0f} MB (baseline process {float(base['maxrss_mb']):.0f} MB).",  # type: ignore[arg-type]
    ]
    if floor is not None and floor_ratio is not None:
        lines += [
            f"Against the same rows COPYed into tables shaped like the real ones (bench/round_floor.py, "
            f"best of {args.floor_repeat}, after the imports): {floor_ratio:.2f}× the floor's "
            f"{floor['full']:.2f} s with indexes and deferred foreign keys (indexes only {floor['indexed']:.2f} s, "
            f"bare tables {floor['bare']:.2f} s); the floor itself is "
            f"{float(floor['full']) / float(base['seconds']):.1f}× the baseline's plain COPY.",  # type: ignore[arg-type]
            "",
            *floor["lines"],
        ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
