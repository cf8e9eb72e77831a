"""The committee's hot report pages against the login page, side by side in one run.

    python bench/hot_pages.py [--demo-size default] [--reps 40] [--database-url postgres://…/fz_bench]
    python bench/hot_pages.py --quick            # the small demo, 15 requests of each

Seeds the demo (with its day of operations) into a scratch SQLite database or the database given
(flushed first, then ANALYZE on PostgreSQL), then requests, in turn, the sign-in page (anonymous,
the baseline), the secretary's daily report and overview and the subdistrict officer's table,
in-process through Django's test client (every middleware, the templates, the database; no
network). Each is requested ``--reps`` times, interleaved; the ratio is the page's p95 over the
login page's p95, and the number of SQL statements of each page is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo-size", default="default", choices=["small", "default", "large"])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--quick", action="store_true", help="the small demo, 15 requests of each page")
    args = ap.parse_args()
    if args.quick:
        args.demo_size, args.reps = "small", 15
    scratch = tempfile.mkdtemp(prefix="fz-hot-")
    os.environ["FANGZHOU_DATA_DIR"] = scratch
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
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
    from fangzhou.registry.models import Community

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", interactive=False, verbosity=0)
    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    result = demo_seed(size=args.demo_size)
    community = Community.objects.get(code=result.communities[0])
    demo_operations(community=community)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    residents = community.residents.count()
    print(f"demo {args.demo_size}: {community.name}, {residents} residents, {time.perf_counter() - started:.0f}s")

    def client_of(role: Role) -> Client:
        user = User.objects.filter(role=role).order_by("pk").first()
        assert user is not None, role
        client = Client()
        client.force_login(user)
        return client

    secretary, officer = client_of(Role.SECRETARY), client_of(Role.SUBDISTRICT_OFFICER)
    pages = {
        "login page": (Client(), "/accounts/login/"),
        "daily report": (secretary, f"/reports/c/{community.code}/"),
        "overview": (secretary, f"/c/{community.code}/"),
        "subdistrict table": (officer, "/reports/"),
        "work-order queue": (secretary, "/orders/"),
    }
    times: dict[str, list[float]] = {name: [] for name in pages}
    statements: dict[str, int] = {}
    for name, (client, url) in pages.items():  # warm up, count statements
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        statements[name] = len(queries)
    for _ in range(args.reps):
        for name, (client, url) in pages.items():
            t = time.perf_counter()
            client.get(url)
            times[name].append(time.perf_counter() - t)
    base = _p95(times["login page"])
    print(f"{'page':<20} {'p95 ms':>8} {'ratio':>7} {'SQL':>4}")
    for name in pages:
        p95 = _p95(times[name])
        ratio = p95 / base
        if name != "login page":
            record(f"hot pages ({args.demo_size} demo, {residents} residents): {name} p95 / login p95", p95, base)
        print(f"{name:<20} {p95 * 1000:8.1f} {ratio:7.2f} {statements[name]:>4}")


if __name__ == "__main__":
    main()
