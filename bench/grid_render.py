"""Pages of thousands of cells: the antigen grid against a plain table of the same cells, same run.

    python bench/grid_render.py [--database-url postgres://…] [--reps 20] [--quick]

One community of the default demo (华新居民区, about 6,500 residents in 2,400 households and 60
buildings; ``--quick``: the small demo, about 600 residents) with antigen results for the day
(about 70 % of households reported, a few positives). Measured: rendering the antigen grid's
fragment ``testing/_glance.html`` (every household a cell, per building, with its state and
room) from what ``antigen_glance`` returns. Baseline, in the same run: a minimal Django template
that renders a plain ``<table>`` with one ``<td>`` per household of the same cells (the room).
The selector's own time (its queries) is reported too, as is the whole page through the test
client, against the same baseline. Each is timed ``--reps`` times, alternating; the best of each
is compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DAY = dt.date(2022, 4, 10)

PLAIN = "<table>{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>"


def best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="the small demo community, 5 repetitions")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.quick:
        args.reps = 5
    os.environ["FANGZHOU_DATA_DIR"] = tempfile.mkdtemp(prefix="fz-bench-")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("FANGZHOU_REQUEST_LOG", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.template import engines
    from django.template.loader import render_to_string
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from django.utils import timezone, translation
    from ratios import record

    from fangzhou.accounts.models import User
    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community, Household, Resident
    from fangzhou.testing.models import AntigenReport, AntigenResult, AntigenSubmission
    from fangzhou.testing.selectors import antigen_glance

    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    setup_test_environment()
    result = demo_seed(size="small" if args.quick else "default")
    community = Community.objects.get(code=result.communities[0])
    # The day's reports, bulk-written (this measures the page, not the writes).
    rng = random.Random(3)
    now = timezone.now()
    members: dict[int, list[int]] = {}
    for rid, hid in Resident.objects.filter(community=community).values_list("pk", "household_id"):
        members.setdefault(hid, []).append(rid)
    submissions, reports = [], []
    for hid, bid in Household.objects.filter(building__community=community).values_list("pk", "building_id"):
        if rng.random() > 0.7 or hid not in members:
            continue
        sub = AntigenSubmission(
            client_id=f"bench-{hid}", community=community, building_id=bid, household_id=hid, day=DAY
        )
        submissions.append(sub)
        everyone = rng.random() < 0.8
        for rid in members[hid] if everyone else members[hid][:1]:
            positive = rng.random() < 0.003
            reports.append((sub, rid, hid, AntigenResult.POSITIVE if positive else AntigenResult.NEGATIVE))
    AntigenSubmission.objects.bulk_create(submissions, batch_size=2000)
    AntigenReport.objects.bulk_create(
        [
            AntigenReport(
                community=community,
                resident_id=rid,
                household_id=hid,
                day=DAY,
                result=res,
                submission=sub,
                reported_at=now,
            )
            for sub, rid, hid, res in reports
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    admin = User.objects.get(username="admin")
    translation.activate("zh-hans")
    glance = antigen_glance(admin, community, DAY)
    cells = sum(len(b.cells) for b in glance.buildings)
    context = {"community": community, "glance": glance, "wall": False, "day": DAY}
    plain = engines["django"].from_string(PLAIN)
    rows = [[c.room for c in b.cells] for b in glance.buildings]

    def grid() -> str:
        return render_to_string("testing/_glance.html", context)

    def table() -> str:
        return plain.render({"rows": rows})

    def selector() -> object:
        return antigen_glance(admin, community, DAY)

    client = Client()
    client.force_login(admin)
    url = reverse("testing:antigen", args=[community.code]) + f"?day={DAY.isoformat()}"
    assert client.get(url).status_code == 200

    def page() -> object:
        return client.get(url)

    grid(), table()  # warm the template caches alike
    t_grid, t_table = [], []
    for _ in range(args.reps):
        t_grid.append(best(grid, 1))
        t_table.append(best(table, 1))
    g, p = min(t_grid), min(t_table)
    s = best(selector, args.reps)
    w = best(page, max(3, args.reps // 4))
    ratio = record(f"grid_render: antigen grid, {cells:,} cells / plain table", g, p)
    page_ratio = record(f"grid_render: antigen page (queries + render), {cells:,} cells / plain table", w, p)
    lines = [
        f"Antigen grid rendering, {connection.vendor}, {result.residents:,} residents, {cells:,} household cells "
        f"in {len(glance.buildings)} buildings, best of {args.reps}:",
        "",
        "| what | s | ratio to the plain table |",
        "|---|---:|---:|",
        f"| plain `<table>` of the same cells (baseline) | {p:.4f} | 1.00 |",
        f"| `testing/_glance.html` from `antigen_glance` | {g:.4f} | {ratio:.2f} |",
        f"| `antigen_glance` (the queries) | {s:.4f} | {s / p:.2f} |",
        f"| the whole page through the test client | {w:.4f} | {page_ratio:.2f} |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
