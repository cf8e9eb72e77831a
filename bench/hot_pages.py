"""The committee's hot report pages against the login page, and the subdistrict table at 1 and 30
communities, side by side in one run.

    python bench/hot_pages.py [--demo-size default] [--reps 40] [--database-url postgres://…/fz_bench]
    python bench/hot_pages.py --quick            # the small demo, 15 requests of each
    python bench/hot_pages.py --seeded           # the database already holds the demo (bench/run_all.py)

Phase 1: seeds the demo (with its day of operations) into a scratch SQLite database or the
database given (flushed first, then ANALYZE on PostgreSQL), then requests, in turn, the sign-in
page (anonymous, the baseline), the secretary's daily report and overview, the subdistrict
officer's table (``/reports/`` and ``/api/reports/subdistrict``; one community) and the work-order
queue, in-process through Django's test client (every middleware, the templates, the database;
no network), configured as a production server answers: DEBUG off, and the sessions in Redis
(``CACHE_URL``) when Redis runs here. Each is requested ``--reps`` times, interleaved; the ratio
is the page's p95 over the login page's p95, and the number of SQL statements of each page is
printed beside it.

Phase 2 (unless ``--skip-subdistrict``): the 29 other communities of the large demo are seeded
beside the first (``demo_seed(size="large", beside_only=True)``; ``--quick``: at a tenth of their
size, about 500 residents each), ANALYZE, and the login page and the subdistrict table (page and
API, now 30 communities) are requested again, interleaved. Ratio: the table's p95 at 30
communities over its p95 at 1 (goal ≤ 2); the login page's p95 of both phases is printed to show
how much the machine's load moved between them.

``--seeded``: the database given already holds the demo's first community with its day of
operations (its first community is measured; phase 2 expects nothing else in it) (``bench/run_all.py`` seeds it once for the benchmarks that use it);
it is not flushed or seeded again. Phase 2 adds communities to it.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from antigen_load import redis_up

CACHE_URL = "redis://127.0.0.1:6379/6"


def _redis_flush(url: str) -> None:
    redis.Redis.from_url(url).flushdb()


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo-size", default="default", choices=["small", "default"])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--quick", action="store_true", help="the small demo, 15 requests of each page")
    ap.add_argument("--seeded", action="store_true", help="the database already holds the demo")
    ap.add_argument("--skip-subdistrict", action="store_true", help="no second phase with 30 communities")
    ap.add_argument("--scale", type=float, default=0.0, help="size of the 29 other communities (1: the large demo)")
    args = ap.parse_args()
    if args.quick:
        args.demo_size, args.reps = "small", 15
    scale = args.scale or (0.1 if args.quick else 1.0)
    scratch = tempfile.mkdtemp(prefix="fz-hot-")
    os.environ["FANGZHOU_DATA_DIR"] = scratch
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.setdefault("FANGZHOU_REQUEST_LOG", "0")
    # As a production server answers (docs/deploy.md): DEBUG off (no query log, which cost a page
    # per statement and the login page nothing), and the shared Redis cache when one is running
    # here (sessions read from it; its database emptied first: nothing of an earlier run is read).
    os.environ.setdefault("DEBUG", "false")
    if redis_up():
        os.environ.setdefault("CACHE_URL", CACHE_URL)
        _redis_flush(os.environ["CACHE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from ratios import record

    from fangzhou.accounts.models import Role, User
    from fangzhou.demo import demo_operations
    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community, Resident

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    if args.seeded:
        community = Community.objects.order_by("pk").first()
        assert community is not None, "--seeded: the database holds no demo"
    else:
        call_command("migrate", interactive=False, verbosity=0)
        if args.database_url:
            call_command("flush", interactive=False, verbosity=0)
        result = demo_seed(size=args.demo_size)
        community = Community.objects.get(code=result.communities[0])
        demo_operations(community=community)

    def analyze() -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

    analyze()
    residents = community.residents.count()
    label = f"{'small' if residents < 2000 else 'default'} demo, {residents:,} residents"
    print(f"{label}: {community.name}, {time.perf_counter() - started:.0f}s", flush=True)

    def client_of(role: Role) -> Client:
        user = User.objects.filter(role=role).order_by("pk").first()
        assert user is not None, role
        client = Client()
        client.force_login(user)
        return client

    def measure(pages: dict[str, tuple[Client, str]]) -> tuple[dict[str, float], dict[str, int]]:
        """p95 seconds and SQL statements of each page, requested ``--reps`` times, interleaved."""
        times: dict[str, list[float]] = {name: [] for name in pages}
        statements: dict[str, int] = {}
        for name, (client, url) in pages.items():  # warm up, count statements
            connection.queries_log.clear()  # the seed filled it: a full log counts nothing new
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, url
            statements[name] = len(queries)
        # As `fangzhou serve`'s workers do once the application is loaded (fangzhou/ops/gunicorn_conf.py):
        # what start-up, the seed and the warm-up left is moved out of the collector's sight.
        gc.collect()
        gc.freeze()
        for _ in range(args.reps):
            for name, (client, url) in pages.items():
                t = time.perf_counter()
                client.get(url)
                times[name].append(time.perf_counter() - t)
        return {name: _p95(t) for name, t in times.items()}, statements

    def table(title: str, p95: dict[str, float], statements: dict[str, int]) -> None:
        print(f"\n{title}\n{'page':<24} {'p95 ms':>8} {'/ login':>8} {'SQL':>4}")
        for name in p95:
            print(f"{name:<24} {p95[name] * 1000:8.1f} {p95[name] / p95['login page']:8.2f} {statements[name]:>4}")

    secretary, officer = client_of(Role.SECRETARY), client_of(Role.SUBDISTRICT_OFFICER)
    anonymous = Client()
    one, stmts_one = measure(
        {
            "login page": (anonymous, "/accounts/login/"),
            "daily report": (secretary, f"/reports/c/{community.code}/"),
            "overview": (secretary, f"/c/{community.code}/"),
            "subdistrict table": (officer, "/reports/"),
            "subdistrict API": (officer, "/api/reports/subdistrict"),
            "work-order queue": (secretary, "/orders/"),
        }
    )
    table(f"phase 1: {label}, 1 community", one, stmts_one)
    base = one["login page"]
    for name, p95 in one.items():
        if name != "login page":
            record(f"hot pages ({label}): {name} p95 / login p95", p95, base)
    if args.skip_subdistrict:
        return

    t = time.perf_counter()
    seeded = demo_seed(size="large", scale=scale, beside_only=True)
    analyze()
    n = Community.objects.count()
    print(
        f"\n{len(seeded.communities)} communities seeded beside it (scale {scale:g}): {n} communities, "
        f"{Resident.objects.count():,} residents, {time.perf_counter() - t:.0f}s",
        flush=True,
    )
    thirty, stmts_thirty = measure(
        {
            "login page": (anonymous, "/accounts/login/"),
            "subdistrict table": (officer, "/reports/"),
            "subdistrict API": (officer, "/api/reports/subdistrict"),
        }
    )
    table(f"phase 2: {n} communities", thirty, stmts_thirty)
    print(f"\n{'':<24} {'1 comm.':>8} {f'{n} comm.':>8} {'ratio':>6}")
    for name in thirty:
        print(f"{name:<24} {one[name] * 1000:8.1f} {thirty[name] * 1000:8.1f} {thirty[name] / one[name]:6.2f}")
    size = f"{Resident.objects.count():,} residents"
    for name in ("subdistrict table", "subdistrict API"):
        record(f"hot pages: {name} p95, {n} communities ({size}) / 1", thirty[name], one[name])


if __name__ == "__main__":
    main()
