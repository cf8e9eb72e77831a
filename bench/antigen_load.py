"""Antigen submissions under load: the real public submit against a bare one-INSERT Django view.

    python bench/antigen_load.py --database-url postgres://fangzhou:fangzhou@127.0.0.1:5432/fz_bench \
        [--clients 16] [--seconds 10] [--workers 2] [--threads 4] [--reps 3] [--quick] [--port 8300]

Both servers are started by this script under the same gunicorn settings (workers × threads),
against the same database, with the shared cache in Redis when one answers on 127.0.0.1:6379 (as
in production; the rate limiter and the household identify lock live there). The public rate
limits are raised through the environment (FANGZHOU_PUBLIC_RATE_PER_ADDRESS, …_PER_TOKEN) so that
the limiter is not what is measured; its cost still is.

Each client is a thread holding one keep-alive connection, posting household submissions (two
members' results, a fresh client id each time) as fast as answers come back, for ``--seconds``
after a warm-up. The baseline receives the same form and does one ``INSERT … ON CONFLICT DO
NOTHING``. The runs alternate (bare, real, bare, real, …); the median of each is compared.
The load generator runs on the same 2 cores as the servers, for both: the ratio is the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from procstat import children, cpu_of, postgres_backends  # noqa: E402

# At a district's peak (1,000 reports a second over some 100,000 households and more) a household
# reports once or twice a day: two posts of one household seconds apart are rare. 20,000 households
# keep that true here (at 500 answers a second each is posted about every 40 s); with 600 every
# household would report every second, and every post would be a correction of the last.
HOUSEHOLDS = 20000


STARTED = time.monotonic()

# The real server's settings in every bench that starts it (this one, capacity.py, antigen_profile.py):
# production mode over plain HTTP on 127.0.0.1, the public rate limits raised so that the limiter's
# cost is measured but it never refuses, no request log.
PRODUCTION_ENV = {
    "FANGZHOU_ENV": "production",
    "SECRET_KEY": "bench-only-" + "y" * 50,
    "FANGZHOU_HTTPS": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "FANGZHOU_PUBLIC_RATE_PER_ADDRESS": "1000000000",
    "FANGZHOU_PUBLIC_RATE_PER_TOKEN": "1000000000",
    "FANGZHOU_REQUEST_LOG": "false",
}


def phase(what: str) -> None:
    print(f"{time.monotonic() - STARTED:6.1f} s  {what}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def seed(households: int = HOUSEHOLDS) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """One building of ``households`` households of two; its public token and (room, phone4, results)."""
    from django.core.management import call_command

    from fangzhou.registry.models import Building, Compound, Household, Resident
    from fangzhou.registry.services import building_tokens_ensure, community_create

    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    community = community_create(code="LOAD", name="压测社区")
    compound = Compound.objects.create(community=community, name="压测小区")
    building = Building.objects.create(community=community, compound=compound, number="1", sort_key=1)
    made = Household.objects.bulk_create(
        [Household(building=building, room=f"{101 + i}") for i in range(households)], batch_size=5000
    )
    Resident.objects.bulk_create(
        [
            Resident(community=community, household=h, name=f"住户{i}-{k}", phone=f"139{i:08d}" if k == 0 else "")
            for i, h in enumerate(made)
            for k in range(2)
        ],
        batch_size=5000,
    )
    building_tokens_ensure(community=community)
    building.refresh_from_db()
    members: dict[int, list[int]] = {}
    for pk, household in (
        Resident.objects.filter(household__building=building).order_by("pk").values_list("pk", "household_id")
    ):
        members.setdefault(household, []).append(pk)
    forms = [(h.room, f"{i % 10000:04d}", {str(pk): "negative" for pk in members[h.pk]}) for i, h in enumerate(made)]
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return building.public_token, forms


def settle() -> None:
    """VACUUM the tables the runs write, before each run: every run starts from the same state.

    Each submission of a household that reported earlier the same day (every one after the first
    pass over the building's households) updates its members' reports, and each update leaves a
    dead row version and new index entries behind. Without a vacuum (autovacuum may be off on a
    server: it is off on this one) they pile up through the runs, every later upsert walks them,
    and a run is charged for what the runs before it left."""
    from bare_wsgi import TABLE
    from django.db import connection

    from fangzhou.accounts.models import AuditLog
    from fangzhou.testing.models import AntigenReport, AntigenSubmission

    tables = [m._meta.db_table for m in (AntigenReport, AntigenSubmission, AuditLog)] + [TABLE]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM " + ", ".join(connection.ops.quote_name(t) for t in tables))
    connection.close()  # its backend stays out of the runs' accounting


def statements_per_submission(token: str, form: tuple[str, str, dict[str, str]]) -> int:
    """SQL statements of one household submission, transaction control not counted (as the test pins)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    client = Client()
    room, phone4, results = form
    with CaptureQueriesContext(connection) as queries:
        answer = client.post(
            f"/testing/a/{token}/submit/",
            {"room": room, "phone4": phone4, "results": json.dumps(results), "client_id": "bench-statements-0001"},
        )
    assert answer.status_code == 200, answer.content
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
    return sum(not q["sql"].upper().startswith(control) for q in queries.captured_queries)


def static_sources_hash() -> str:
    """A hash of every file collectstatic would copy (path and content) and of the versions that
    shape its output (Django, WhiteNoise): a changed source, or an upgrade, collects anew."""
    import hashlib
    from importlib.metadata import version

    from django.contrib.staticfiles import finders

    digest = hashlib.sha256(f"django {version('django')} whitenoise {version('whitenoise')}".encode())
    files: dict[str, str] = {}
    for finder in finders.get_finders():
        for name, storage in finder.list(["CVS", ".*", "*~"]):
            prefix = getattr(storage, "prefix", None) or ""
            files.setdefault(
                f"{prefix}/{name}" if prefix else name, storage.path(name)
            )  # the first wins, as in collectstatic
    for name in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(Path(files[name]).read_bytes()).digest())
    return digest.hexdigest()[:20]


def static_cached(static_root: Path, app_env: dict[str, str]) -> None:
    """The production server's static files (collected, hashed and compressed by WhiteNoise's
    storage, which takes most of a minute) collected once per version of the sources into
    ``$TMPDIR/fz-bench-static/<hash>`` and linked as this run's STATIC_ROOT. The bench measures
    POSTs, not static files; the page it GETs for its CSRF cookie still needs the manifest."""
    cache_root = Path(tempfile.gettempdir()) / "fz-bench-static"
    cache_root.mkdir(exist_ok=True)
    cached = cache_root / static_sources_hash()
    if not (cached / "staticfiles.json").exists():
        work = Path(tempfile.mkdtemp(prefix="collect-", dir=cache_root))
        subprocess.run(
            [sys.executable, "-m", "fangzhou", "manage", "collectstatic", "--noinput", "-v", "0"],
            env={**app_env, "FANGZHOU_DATA_DIR": str(work)},
            cwd=str(ROOT),
            check=True,
        )
        try:
            (work / "static").rename(cached)  # atomic: a concurrent run's copy is as good
        except OSError:
            if not (cached / "staticfiles.json").exists():
                raise
        shutil.rmtree(work, ignore_errors=True)
    static_root.symlink_to(cached, target_is_directory=True)


def start(app: str, port: int, env: dict[str, str], workers: int, threads: int) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [str(gunicorn), app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    proc = subprocess.Popen(
        [*argv, "--timeout", "120", "--log-level", "warning"],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{app} did not start") from None
            time.sleep(0.2)
    raise SystemExit(f"{app} did not start in 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def client_loop(
    args: tuple[int, str, list[tuple[str, str, dict[str, str]]], float, float, int, str],
) -> tuple[int, int, list[float], int]:
    """One process of the load: ``threads`` clients; (answers ok, answers not ok, latencies, answers
    in all, the warm-up's included)."""
    port, path, forms, warmup, seconds, threads, prefix = args
    start = zlib.crc32(prefix.encode())  # each run starts elsewhere in the households' list
    ok = bad = answered = 0
    latencies: list[float] = []
    lock = threading.Lock()
    begin = time.monotonic() + warmup
    end = begin + seconds

    def one(k: int) -> None:
        nonlocal ok, bad, answered
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Connection": "keep-alive"}
        if "testing" in path:  # the real page: its CSRF cookie first, as a browser would
            try:
                conn.request("GET", path.removesuffix("submit/"))
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    bad += 1
                return
            cookie = answer.getheader("Set-Cookie", "")
            csrf = cookie.split("csrftoken=", 1)[1].split(";", 1)[0] if "csrftoken=" in cookie else ""
            headers |= {"Cookie": f"csrftoken={csrf}", "X-CSRFToken": csrf}
        n = 0  # posts sent, the warm-up's included
        mine: list[float] = []
        good = wrong = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            room, phone4, results = forms[(start + k * 7919 + n) % len(forms)]
            n += 1
            body = urllib.parse.urlencode(
                {
                    "room": room,
                    "phone4": phone4,
                    "results": json.dumps(results),
                    "client_id": f"{prefix}-{k}-{n}",
                    "day": dt.date.today().isoformat(),
                }
            )
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                success = answer.status == 200 and (b'"ok": true' in data or b'"ok":true' in data)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                success = False
            took = time.perf_counter() - t
            if now >= begin:
                mine.append(took)
                if success:
                    good += 1
                else:
                    wrong += 1
        with lock:
            ok += good
            bad += wrong
            answered += n
            latencies.extend(mine)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return ok, bad, latencies, answered


def load(
    port: int,
    path: str,
    forms: list[tuple[str, str, dict[str, str]]],
    clients: int,
    seconds: float,
    tag: str,
    server: subprocess.Popen[bytes] | None = None,
    database: str = "",
) -> dict[str, float]:
    """``clients`` posting for ``seconds``: req/s, failures, p50 and p99; with ``server`` (and the
    database's name), also the CPU per answer of its workers, of the database's PostgreSQL backends
    and of Redis, from /proc over the whole run (warm-up included, and so are its answers)."""
    watched: dict[str, list[int]] = {}
    if server is not None:
        watched = {
            "web": children(server.pid),
            "pg": postgres_backends(database),
            "redis": [
                int(p) for p in subprocess.run(["pgrep", "redis-server"], capture_output=True, text=True).stdout.split()
            ],
        }
    before = {k: cpu_of(v) for k, v in watched.items()}
    procs = 2 if clients >= 2 else 1
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        parts = pool.map(
            client_loop,
            [(port, path, forms[i::procs], 1.5, seconds, n, f"{tag}-{i}-{time.time_ns()}") for i, n in enumerate(per)],
        )
    ok = sum(p[0] for p in parts)
    bad = sum(p[1] for p in parts)
    lat = sorted(x for p in parts for x in p[2])
    answered = max(1, sum(p[3] for p in parts))
    cpu = {f"{k}_ms": (cpu_of(v) - before[k]) / answered * 1000 for k, v in watched.items()}
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    return {"rps": ok / seconds, "errors": bad, "p50": q[49], "p99": q[98], "n": len(lat), **cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 2 repetitions")
    parser.add_argument("--households", type=int, default=HOUSEHOLDS, help="households of two in the building")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the submit's own work in the bare view's frame, the ceiling (bench/floor_wsgi.py)",
    )
    parser.add_argument("--out", default="")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the real server's port, the bare view's is the next one (default: two free ports)",
    )
    parser.add_argument(
        "--cache-url", default="redis://127.0.0.1:6379/7", help="the shared cache, when Redis answers on 127.0.0.1:6379"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("give --database-url postgres://… (a database of its own: it is flushed)")
    if args.quick:
        args.seconds, args.reps = 3.0, 2
    data_dir = tempfile.mkdtemp(prefix="fz-bench-load-")
    base_env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "FANGZHOU_DATA_DIR": data_dir,
        "PYTHONPATH": str(ROOT),
    }
    if redis_up():
        base_env["CACHE_URL"] = args.cache_url
    os.environ.update(base_env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from ratios import record

    token, forms = seed(args.households)
    phase("database seeded")
    statements = statements_per_submission(token, forms[0])
    from django.db import connection

    with connection.cursor() as cursor:
        from bare_wsgi import CREATE, TABLE  # the same statement the baseline's table is made with

        cursor.execute(CREATE)
        cursor.execute(f"TRUNCATE {TABLE}")
    connection.close()

    app_env = {
        **base_env,
        **PRODUCTION_ENV,
    }
    static_cached(Path(data_dir) / "static", app_env)
    phase("static files")
    real_port, bare_port = (args.port, args.port + 1) if args.port else (free_port(), free_port())
    real = start("fangzhou.wsgi:application", real_port, app_env, args.workers, args.threads)
    bare = start("bench.bare_wsgi:application", bare_port, base_env, args.workers, args.threads)
    floor_port = free_port()
    floor = (
        start("bench.floor_wsgi:application", floor_port, app_env, args.workers, args.threads) if args.floor else None
    )
    floor_path = f"/a/{token}/submit/"
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "real": [], "floor": []}
    dbname = urllib.parse.urlsplit(args.database_url).path.lstrip("/")
    real_path = f"/testing/a/{token}/submit/"
    try:
        # Not counted: every client's first answer from each server (a worker's first request
        # loads the URL configuration, templates and views lazily: seconds on a loaded machine).
        # Both at once: their workers boot in the same seconds.
        with ThreadPoolExecutor(2) as warm:
            for done in [
                warm.submit(load, bare_port, "/submit/", forms, args.clients, 1.0, "warm-bare"),
                warm.submit(load, real_port, real_path, forms, args.clients, 1.0, "warm-real"),
            ]:
                done.result()
        if floor is not None:
            load(floor_port, floor_path, forms, args.clients, 1.0, "warm-floor")
        phase("servers started and warmed")
        for rep in range(args.reps):
            settle()
            runs["bare"].append(
                load(bare_port, "/submit/", forms, args.clients, args.seconds, f"bare{rep}", bare, dbname)
            )
            if floor is not None:
                settle()
                runs["floor"].append(
                    load(floor_port, floor_path, forms, args.clients, args.seconds, f"floor{rep}", floor, dbname)
                )
            settle()
            runs["real"].append(
                load(real_port, real_path, forms, args.clients, args.seconds, f"real{rep}", real, dbname)
            )
            print(
                f"rep {rep + 1}: bare {runs['bare'][-1]['rps']:.0f} req/s, real {runs['real'][-1]['rps']:.0f} req/s"
                + (f", floor {runs['floor'][-1]['rps']:.0f} req/s" if floor is not None else ""),
                file=sys.stderr,
                flush=True,
            )
    finally:
        stop(real)
        stop(bare)
        if floor is not None:
            stop(floor)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    ratio = record(
        f"antigen submit, {args.clients} clients: req/s / bare one-INSERT view",
        median("real", "rps"),
        median("bare", "rps"),
        "req/s",
        lower_is_better=False,
    )
    errors = sum(r["errors"] for r in runs["real"]) + sum(r["errors"] for r in runs["floor"])
    shown = [
        ("bare", "bare one-INSERT Django view (baseline)"),
        ("real", "Fangzhou public antigen submit"),
        *([("floor", "the submit's own work in the bare view's frame (ceiling)")] if floor is not None else []),
    ]

    def cpu(name: str) -> float:
        return sum(median(name, f"{part}_ms") for part in ("web", "pg", "redis"))

    def row(name: str, title: str) -> str:
        parts = " + ".join(f"{median(name, f'{part}_ms'):.2f}" for part in ("web", "pg", "redis"))
        return (
            f"| {title} | {median(name, 'rps'):.0f} | {median(name, 'p50') * 1000:.1f} | "
            f"{median(name, 'p99') * 1000:.1f} | {sum(r['errors'] for r in runs[name])} | {parts} = {cpu(name):.2f} |"
        )

    floor_lines = []
    if floor is not None:
        floor_ratio = record(
            f"antigen submit's own work in the bare view's frame (ceiling), {args.clients} clients: "
            "req/s / bare one-INSERT view",
            median("floor", "rps"),
            median("bare", "rps"),
            "req/s",
            lower_is_better=False,
        )
        floor_lines = [
            f"Ceiling (the submit's own work in the bare view's frame / bare req/s): **{floor_ratio:.2f}**; "
            f"the real submit is {median('real', 'rps') / median('floor', 'rps'):.2f} of it.",
        ]
    lines = [
        f"Antigen submit under gunicorn ({args.workers} workers × {args.threads} threads), {args.clients} clients, "
        f"{args.seconds:g} s per run, {args.reps} runs each, alternating; {connection.vendor}; "
        f"cache {'Redis' if 'CACHE_URL' in base_env else 'local memory'}.",
        "",
        "| server | req/s (median) | p50 ms | p99 ms | failed answers | CPU ms per answer: web + PostgreSQL + Redis |",
        "|---|---:|---:|---:|---:|---|",
        *(row(name, title) for name, title in shown),
        "",
        f"Ratio (real / bare req/s): **{ratio:.2f}** (goal ≥ 0.50). "
        f"SQL statements per household submission: {statements} (transaction control not counted; pinned ≤ 2 "
        "on PostgreSQL, ≤ 4 on SQLite in testing/tests/test_pages.py).",
        *floor_lines,
        f"By CPU per answer (the servers' side; the load generator's is not counted): bare / real "
        f"**{cpu('bare') / cpu('real'):.2f}**"
        + (f", bare / ceiling **{cpu('bare') / cpu('floor'):.2f}**" if floor is not None else "")
        + ".",
    ]
    report = "\n".join(lines)
    phase("done")
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")
    if errors:
        raise SystemExit(f"{errors} submissions failed")


if __name__ == "__main__":
    main()
