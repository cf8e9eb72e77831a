"""Capacity at the hot path's peak: how many web workers, and how many residents one PostgreSQL.

    python bench/capacity.py --database-url postgres://fangzhou:fangzhou@127.0.0.1:5432/fz_bench [--quick]

The peak of issue 12: a district of about 250,000 residents (a city round's district) takes about
1,000 antigen reports a second. This script drives the real public antigen submit (the heaviest
frequent write; ``bench/antigen_load.py``'s server, clients and households) and measures **CPU
time**, not wall time: the gunicorn processes' and the PostgreSQL backends' user + system seconds
(from ``/proc``) over the submissions answered. CPU per submission does not move with the other
work on the machine the way requests per second do, so it scales to other machines:

- web workers needed = peak submissions/s × web CPU s per submission / 0.7 (a gunicorn worker holds
  one core at most — the GIL — and is planned at 70 %);
- residents one PostgreSQL serves = 0.7 × its cores / (PostgreSQL CPU s per report × the peak's
  reports per resident per second, 1,000 / 250,000).

CPU is the bound measured; the disk (WAL fsyncs: one commit per submission) is not, and on a
server with slow storage it comes first (docs/deploy.md, "Capacity").
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from antigen_load import PRODUCTION_ENV, free_port, load, redis_up, seed, start, stop  # noqa: E402
from procstat import children, cpu_of, postgres_backends  # noqa: E402

PEAK_REPORTS_PER_S = 1000.0
DISTRICT_RESIDENTS = 250_000
HEADROOM = 0.7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg-cores", type=int, default=16, help="cores of the PostgreSQL server planned for")
    parser.add_argument("--quick", action="store_true", help="one 4 s run")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("give --database-url postgres://… (a database of its own: it is flushed)")
    if args.quick:
        args.seconds = 4.0
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "FANGZHOU_DATA_DIR": tempfile.mkdtemp(prefix="fz-bench-capacity-"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]),
    }
    if redis_up():
        env["CACHE_URL"] = "redis://127.0.0.1:6379/7"
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    token, forms = seed()
    reports_per_submission = sum(len(f[2]) for f in forms) / len(forms)
    app_env = {
        **env,
        **PRODUCTION_ENV,
    }
    subprocess.run(
        [sys.executable, "-m", "fangzhou", "manage", "collectstatic", "--noinput", "-v", "0"],
        env=app_env,
        cwd=str(ROOT),
        check=True,
    )
    port = free_port()
    server = start("fangzhou.wsgi:application", port, app_env, 1, 4)
    try:
        load(port, f"/testing/a/{token}/submit/", forms, 2, 1.0, "warm")  # imports, connections, plans
        database = urllib.parse.urlparse(args.database_url).path.lstrip("/")
        web, pg = children(server.pid), postgres_backends(database)
        web0, pg0 = cpu_of(web), cpu_of(pg)
        run = load(port, f"/testing/a/{token}/submit/", forms, args.clients, args.seconds, "capacity")
        web_cpu, pg_cpu = cpu_of(children(server.pid)) - web0, cpu_of(postgres_backends(database)) - pg0
    finally:
        stop(server)
    answered = run["rps"] * args.seconds
    if answered < 1:
        raise SystemExit("no submission was answered")
    web_per = web_cpu / answered
    pg_per = pg_cpu / answered
    peak_submissions = PEAK_REPORTS_PER_S / reports_per_submission
    workers = math.ceil(peak_submissions * web_per / HEADROOM)
    per_resident = PEAK_REPORTS_PER_S / DISTRICT_RESIDENTS  # reports per resident per second at the peak
    residents = HEADROOM * args.pg_cores / (pg_per / reports_per_submission * per_resident)
    print(
        "\n".join(
            [
                f"Public antigen submit, one gunicorn worker × 4 threads, {args.clients} clients, {args.seconds:g} s; "
                f"{run['rps']:.0f} submissions/s ({reports_per_submission:g} reports each), p99 {run['p99'] * 1000:.0f} ms, "
                f"{run['errors']} failed.",
                "",
                "| per submission | CPU ms |",
                "|---|---:|",
                f"| web (gunicorn worker) | {web_per * 1000:.2f} |",
                f"| PostgreSQL (the backends of this database) | {pg_per * 1000:.2f} |",
                "",
                f"At the peak ({PEAK_REPORTS_PER_S:.0f} reports/s from {DISTRICT_RESIDENTS:,} residents): "
                f"**{workers} web workers** (cores) at 70 %; one PostgreSQL of {args.pg_cores} cores at 70 % serves "
                f"**{residents:,.0f} residents** ({residents / DISTRICT_RESIDENTS:.1f} such districts) by CPU.",
            ]
        )
    )


if __name__ == "__main__":
    main()
