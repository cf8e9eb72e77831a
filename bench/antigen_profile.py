"""Where one public antigen submission's time goes, in one process, without a load generator.

    python bench/antigen_profile.py --database-url postgres://fangzhou:fangzhou@127.0.0.1:5432/fz_bench \
        [--n 500] [--households N] [--profile 30]

Seeds the same building as ``bench/antigen_load.py`` (the database is flushed), then calls the
production WSGI application (``FANGZHOU_ENV=production``, every middleware, the shared cache in
Redis when one answers) with the bench's form and CSRF cookie, ``--n`` household submissions one
after another. Prints the CPU time and wall time per submission (and, when PostgreSQL runs on this machine, the
CPU its backend spent on them), the SQL statements the view
sends through Django's cursor, and the statements the driver itself sees (transaction control
and the connection health check included: every one a round trip). ``--profile N`` prints the
N most expensive functions by cumulative and own time (cProfile on a CPU clock: waits for the
database and Redis are not counted).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local PostgreSQL backend so far, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wal_lsn(connection: Any) -> int:
    """PostgreSQL's current write-ahead log position, in bytes (includes other databases' writes)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--households", type=int, default=0, help="households of two (default: antigen_load's)")
    parser.add_argument("--profile", type=int, default=0, help="print the N top functions by cumulative time")
    parser.add_argument("--dump", default="", help="write the profile (pstats) to this file (implies profiling)")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("give --database-url postgres://… (a database of its own: it is flushed)")
    import antigen_load

    data_dir = tempfile.mkdtemp(prefix="fz-bench-profile-")
    env = {
        "DATABASE_URL": args.database_url,
        "FANGZHOU_DATA_DIR": data_dir,
        "PYTHONPATH": str(ROOT),
        **antigen_load.PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
    }
    if antigen_load.redis_up():
        env["CACHE_URL"] = args.cache_url
    os.environ.update(env)
    import django

    django.setup()
    antigen_load.static_cached(Path(data_dir) / "static", {**os.environ})
    from django.db import connection

    token, forms = antigen_load.seed(args.households or antigen_load.HOUSEHOLDS)
    connection.close()
    from fangzhou.wsgi import application

    def call(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[str, bytes]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            **(headers or {}),
        }
        status: list[str] = []
        cookies: list[str] = []

        def start_response(s: str, h: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(s)
            cookies.extend(v for k, v in h if k.lower() == "set-cookie")

        chunks = application(environ, start_response)
        out = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        return status[0] + "|" + ";".join(cookies), out

    page = f"/testing/a/{token}/"
    head, _ = call("GET", page)
    csrf = head.split("csrftoken=", 1)[1].split(";", 1)[0]
    headers = {"HTTP_COOKIE": f"csrftoken={csrf}", "HTTP_X_CSRFTOKEN": csrf}
    stamp = time.time_ns()

    def body(i: int) -> bytes:
        room, phone4, results = forms[i % len(forms)]
        return urllib.parse.urlencode(
            {"room": room, "phone4": phone4, "results": json.dumps(results), "client_id": f"prof-{stamp}-{i}"}
        ).encode()

    for i in range(20):  # warm: URL configuration, templates, prepared statements
        call("POST", f"{page}submit/", body(i), headers)

    statements: Counter[str] = Counter()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    # What reaches the server, including what Django sends past its cursor wrappers (BEGIN,
    # COMMIT, the health check's SELECT 1): psycopg's own query log.
    import psycopg

    sent: Counter[str] = Counter()
    original = psycopg.Cursor.execute
    original_conn = psycopg.Connection.execute

    def cursor_execute(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        sent[str(query if isinstance(query, str) else getattr(query, "as_string", lambda c: query)(None))[:6]] += 1
        return original(self, query, *a, **k)

    def conn_execute(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        sent["conn:" + str(query)[:12]] += 1
        return original_conn(self, query, *a, **k)

    original_commit = psycopg.Connection.commit

    def commit(self: Any) -> None:
        sent["COMMIT (and its BEGIN)"] += 1
        original_commit(self)

    psycopg.Cursor.execute = cursor_execute  # type: ignore[method-assign]
    psycopg.Connection.execute = conn_execute  # type: ignore[method-assign]
    psycopg.Connection.commit = commit  # type: ignore[method-assign]
    n = args.n
    profiler = cProfile.Profile(time.process_time) if args.profile or args.dump else None  # CPU, not waits
    backend = connection.connection.info.backend_pid  # the PostgreSQL process serving this connection
    with connection.execute_wrapper(count):
        wal = _wal_lsn(connection)
        server_cpu = backend_cpu(backend)
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(20, 20 + n):
            head, out = call("POST", f"{page}submit/", body(i), headers)
            assert head.startswith("200") and b'"ok": true' in out, (head, out)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        server_cpu = backend_cpu(backend) - server_cpu if server_cpu is not None else None
        wal = _wal_lsn(connection) - wal
    psycopg.Cursor.execute = original  # type: ignore[method-assign]
    psycopg.Connection.execute = original_conn  # type: ignore[method-assign]
    psycopg.Connection.commit = original_commit  # type: ignore[method-assign]
    print(f"{n} submissions: CPU {cpu / n * 1000:.2f} ms, wall {wall / n * 1000:.2f} ms per submission")
    if server_cpu is not None:
        print(f"PostgreSQL backend CPU {server_cpu / n * 1000:.2f} ms per submission (its /proc clock, 10 ms ticks)")
    # Write-ahead log per submission: every row and index entry written is a WAL record, so this
    # counts the write's work whatever else the machine is doing (nothing else writes to this database).
    print(f"WAL {wal / n:,.0f} bytes per submission")
    print("Django cursor statements per submission:", {k: v / n for k, v in statements.items()})
    print("psycopg executes per submission:", {k: v / n for k, v in sent.items()})
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements")
        plans = cursor.fetchall()
        print(
            f"statements prepared on the connection: {len(plans)}; generic plans "
            f"{sum(g for g, _ in plans)}, custom plans {sum(c for _, c in plans)} (a custom plan is made anew on every run)"
        )
    if profiler and args.dump:
        profiler.dump_stats(args.dump)
    if profiler and args.profile:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
