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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

HOUSEHOLDS = 600


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


def seed() -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """One building of HOUSEHOLDS households of two; its public token and (room, phone4, results)."""
    from django.core.management import call_command

    from fangzhou.registry.models import Building, Compound, Household, Resident
    from fangzhou.registry.services import building_tokens_ensure, community_create

    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    community = community_create(code="LOAD", name="压测社区")
    compound = Compound.objects.create(community=community, name="压测小区")
    building = Building.objects.create(community=community, compound=compound, number="1", sort_key=1)
    households = Household.objects.bulk_create(
        [Household(building=building, room=f"{101 + i}") for i in range(HOUSEHOLDS)]
    )
    Resident.objects.bulk_create(
        [
            Resident(community=community, household=h, name=f"住户{i}-{k}", phone=f"1390000{i:04d}" if k == 0 else "")
            for i, h in enumerate(households)
            for k in range(2)
        ]
    )
    building_tokens_ensure(community=community)
    building.refresh_from_db()
    forms = []
    for i, h in enumerate(households):
        pks = list(Resident.objects.filter(household=h).order_by("pk").values_list("pk", flat=True))
        forms.append((h.room, f"{i:04d}", {str(pk): "negative" for pk in pks}))
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return building.public_token, forms


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
) -> tuple[int, int, list[float]]:
    """One process of the load: ``threads`` clients; (answers ok, answers not ok, latencies)."""
    port, path, forms, warmup, seconds, threads, prefix = args
    ok = bad = 0
    latencies: list[float] = []
    lock = threading.Lock()
    begin = time.monotonic() + warmup
    end = begin + seconds

    def one(k: int) -> None:
        nonlocal ok, bad
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
        n = 0
        mine: list[float] = []
        good = wrong = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            room, phone4, results = forms[(k * 7919 + n) % len(forms)]
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
            latencies.extend(mine)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return ok, bad, latencies


def load(
    port: int, path: str, forms: list[tuple[str, str, dict[str, str]]], clients: int, seconds: float, tag: str
) -> dict[str, float]:
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
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    return {"rps": ok / seconds, "errors": bad, "p50": q[49], "p99": q[98], "n": len(lat)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 2 repetitions")
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

    token, forms = seed()
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
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "real": []}
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
        phase("servers started and warmed")
        for rep in range(args.reps):
            runs["bare"].append(load(bare_port, "/submit/", forms, args.clients, args.seconds, f"bare{rep}"))
            runs["real"].append(load(real_port, real_path, forms, args.clients, args.seconds, f"real{rep}"))
            print(
                f"rep {rep + 1}: bare {runs['bare'][-1]['rps']:.0f} req/s, real {runs['real'][-1]['rps']:.0f} req/s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        stop(real)
        stop(bare)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    ratio = record(
        f"antigen submit, {args.clients} clients: req/s / bare one-INSERT view",
        median("real", "rps"),
        median("bare", "rps"),
        "req/s",
        lower_is_better=False,
    )
    errors = sum(r["errors"] for r in runs["real"])
    lines = [
        f"Antigen submit under gunicorn ({args.workers} workers × {args.threads} threads), {args.clients} clients, "
        f"{args.seconds:g} s per run, {args.reps} runs each, alternating; {connection.vendor}; "
        f"cache {'Redis' if 'CACHE_URL' in base_env else 'local memory'}.",
        "",
        "| server | req/s (median) | p50 ms | p99 ms | failed answers |",
        "|---|---:|---:|---:|---:|",
        f"| bare one-INSERT Django view (baseline) | {median('bare', 'rps'):.0f} | {median('bare', 'p50') * 1000:.1f} | "
        f"{median('bare', 'p99') * 1000:.1f} | {sum(r['errors'] for r in runs['bare'])} |",
        f"| Fangzhou public antigen submit | {median('real', 'rps'):.0f} | {median('real', 'p50') * 1000:.1f} | "
        f"{median('real', 'p99') * 1000:.1f} | {errors} |",
        "",
        f"Ratio (real / bare req/s): **{ratio:.2f}** (goal ≥ 0.50). "
        f"SQL statements per household submission: {statements} (transaction control not counted; pinned ≤ 2 "
        "on PostgreSQL, ≤ 4 on SQLite in testing/tests/test_pages.py).",
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
