"""Declarative partitioning by community, measured: one table against the same table partitioned.

    python bench/partitioning.py --database-url postgres://…/fz_bench [--quick] [--out FILE]

PostgreSQL only. In a scratch schema of its own (``bench_partitioning``, dropped at the start and
at the end; nothing else in the database is touched) it builds two tables shaped like
``testing.AntigenReport`` once it carries ``community_id`` (id, community_id, household_id,
resident_id, day, result, submission_id, reported_at):

- ``flat``: one table, the baseline;
- ``part``: the same columns, ``PARTITION BY LIST (community_id)``, one partition per community.

LIST, not HASH: retention ends one community's data at a time (its own emergency end), and only a
partition that holds exactly one community can be detached and dropped for it; a HASH partition
mixes communities, so a community's end would still be a ``DELETE``. LIST also prunes a
``community_id = X`` query to one partition, which HASH does too, but nothing more.

Both get the same rows (generated in SQL, ``--residents`` per community every day for ``--days``
days, 90 % reporting, about 1 % positive) and the same index definitions: ``(community_id, day)``,
``(household_id, day)`` and the one-report-per-resident-per-day constraint (``(resident_id, day)``
on the flat table; a unique index on a partitioned table must contain the partition key, so
``(community_id, resident_id, day)`` there: the same rule, since a resident lives in one community).
Indexes are built after the load, then both tables are ANALYZEd. Measured, each against the flat
table in the same run (queries alternate between the two tables, ``--reps`` times, median; no
prepared statements, as Django sends them):

(a) a community's counts for one day (the daily report's GROUP BY),
(b) a community's last 7 days,
(c) the subdistrict's counts over every community for one day,
(d) a hot day's COPY of every community's reports (rolled back, so both tables stay equal),
(e) retention of one community: ``DELETE`` + ``VACUUM`` against ``DETACH PARTITION`` + ``DROP``,
(f) ANALYZE, a VACUUM of the whole table, and the size of the indexes.

This is run at two shapes, ``--communities 30 300`` (a subdistrict's and a district's number of
communities) with the same rows per community.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ratios import record

SCHEMA = "bench_partitioning"
FIRST_DAY = dt.date(2022, 4, 1)
COLUMNS = "id, community_id, household_id, resident_id, day, result, submission_id, reported_at"


def _connect(url: str) -> Any:
    import psycopg

    # prepare_threshold=None: every statement planned afresh, as Django sends them.
    return psycopg.connect(url, autocommit=True, prepare_threshold=None)


def _loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _create(conn: Any, communities: int) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.execute(f"SET search_path TO {SCHEMA}")
    body = """(
        id bigint NOT NULL,
        community_id integer NOT NULL,
        household_id integer NOT NULL,
        resident_id integer NOT NULL,
        day date NOT NULL,
        result varchar(12) NOT NULL,
        submission_id bigint NOT NULL,
        reported_at timestamptz NOT NULL
    )"""
    with conn.transaction():  # one commit for the hundreds of partitions
        conn.execute(f"CREATE TABLE flat {body}")
        conn.execute(f"CREATE TABLE part {body} PARTITION BY LIST (community_id)")
        for c in range(1, communities + 1):
            conn.execute(f"CREATE TABLE part_{c} PARTITION OF part FOR VALUES IN ({c})")


def _generate(conn: Any, *, communities: int, residents: int, days: int) -> int:
    """The same rows into both tables: resident i of community c is c*100000+i, three to a household;
    90 % report each day; 1 % positive, 0.5 % invalid (by a hash, so both tables get the same).
    Stored in the order they arrive — day by day, every community's reports interleaved through the
    day, as a district's phones send them — so that one community's day is spread over the flat
    table's pages as it would be in production (generated community by community, the flat table
    would be clustered by community and look better than it will ever be)."""
    conn.execute(
        f"""
        INSERT INTO flat ({COLUMNS})
        SELECT row_number() OVER (ORDER BY d, i, c), c, (c * 100000 + i) / 3, c * 100000 + i, %s::date + d, CASE
                 WHEN h < 10 THEN 'positive' WHEN h < 15 THEN 'invalid' ELSE 'negative' END,
               (c * 100000 + i) / 3 * 100 + d, (%s::date + d) + time '08:00' + (i %% 600) * interval '1 minute'
          FROM generate_series(1, %s) c, generate_series(0, %s - 1) d, generate_series(0, %s - 1) i,
               LATERAL (SELECT abs(hashint8((c * 100000 + i)::bigint * 1000 + d)) %% 1000 AS h) x
         WHERE abs(hashint8((c * 100000 + i)::bigint * 7919 + d)) %% 10 <> 0
         ORDER BY d, i, c
        """,
        (FIRST_DAY, FIRST_DAY, communities, days, residents),
    )
    conn.execute(f"INSERT INTO part ({COLUMNS}) SELECT {COLUMNS} FROM flat ORDER BY id")
    rows: int = conn.execute("SELECT count(*) FROM flat").fetchone()[0]
    return rows


def _index(conn: Any) -> None:
    conn.execute("ALTER TABLE flat ADD PRIMARY KEY (id)")
    conn.execute("ALTER TABLE part ADD PRIMARY KEY (community_id, id)")  # must contain the partition key
    conn.execute("CREATE UNIQUE INDEX flat_one_per_day ON flat (resident_id, day)")
    conn.execute("CREATE UNIQUE INDEX part_one_per_day ON part (community_id, resident_id, day)")
    for table in ("flat", "part"):
        conn.execute(f"CREATE INDEX {table}_community_day ON {table} (community_id, day)")
        conn.execute(f"CREATE INDEX {table}_household_day ON {table} (household_id, day)")


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _side_by_side(conn: Any, sql: str, params: list[tuple[Any, ...]], reps: int) -> tuple[float, float]:
    """Median seconds of ``sql`` on flat and on part, alternating which goes first."""
    flat: list[float] = []
    part: list[float] = []
    for n in range(reps):
        args = params[n % len(params)]
        order = [("flat", flat), ("part", part)]
        if n % 2:
            order.reverse()
        for table, times in order:
            query = sql.format(table=table)
            times.append(_timed(lambda q=query, a=args: conn.execute(q, a).fetchall()))
    return statistics.median(flat), statistics.median(part)


def _hot_day_copy(conn: Any, *, communities: int, residents: int, day: dt.date, reps: int) -> tuple[float, float, int]:
    """COPY of one new day's reports of every community into each table, in a transaction rolled back."""
    rng = random.Random(7)
    buf = io.StringIO()
    n = 0
    base = 10**12
    for c in range(1, communities + 1):
        for i in range(residents):
            r = c * 100000 + i
            result = "positive" if rng.random() < 0.01 else "negative"
            buf.write(f"{base + n}\t{c}\t{r // 3}\t{r}\t{day}\t{result}\t{r // 3 * 100}\t{day} 09:00:00+08\n")
            n += 1
    data = buf.getvalue()
    flat: list[float] = []
    part: list[float] = []
    for rep in range(reps):
        order = [("flat", flat), ("part", part)]
        if rep % 2:
            order.reverse()
        for table, times in order:
            t = time.perf_counter()
            with (
                conn.transaction(force_rollback=True),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy,
            ):
                copy.write(data)
            times.append(time.perf_counter() - t)
    return statistics.median(flat), statistics.median(part), n


def _sizes(conn: Any) -> dict[str, int]:
    def total(table: str, fn: str) -> int:
        name = f"{SCHEMA}.{table}"
        if table == "flat":  # pg_partition_tree lists nothing for a plain table
            one: int = conn.execute(f"SELECT {fn}(%s::regclass)", (name,)).fetchone()[0]
            return one
        got: int = conn.execute(
            f"SELECT coalesce(sum({fn}(relid)), 0)::bigint FROM pg_partition_tree(%s::regclass) WHERE isleaf", (name,)
        ).fetchone()[0]
        return got

    return {
        "flat_table": total("flat", "pg_table_size"),
        "part_table": total("part", "pg_table_size"),
        "flat_indexes": total("flat", "pg_indexes_size"),
        "part_indexes": total("part", "pg_indexes_size"),
    }


def run_shape(
    url: str, *, communities: int, residents: int, days: int, reps: int, keep: bool = False
) -> list[dict[str, Any]]:
    conn = _connect(url)
    started = time.perf_counter()
    load_before = _loadavg()
    _create(conn, communities)
    rows = _generate(conn, communities=communities, residents=residents, days=days)
    _index(conn)
    print(f"# {communities} communities: built in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    flat_analyze = _timed(lambda: conn.execute("ANALYZE flat"))
    part_analyze = _timed(lambda: conn.execute("ANALYZE part"))
    conn.execute("VACUUM flat")
    conn.execute("VACUUM part")
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    rng = random.Random(communities)
    picks = [
        (rng.randint(1, communities), last - dt.timedelta(days=rng.randint(0, min(days, 7) - 1))) for _ in range(16)
    ]
    out: list[dict[str, Any]] = []
    label = f"{communities} communities × {rows // communities:,} rows ({rows:,})"

    def add(what: str, flat: float, part: float, unit: str = "s", *, headline: bool = False) -> None:
        out.append({"shape": label, "what": what, "flat": flat, "part": part, "unit": unit, "headline": headline})

    day_sql = "SELECT result, count(*) FROM {table} WHERE community_id = %s AND day = %s GROUP BY result"
    add("(a) one community, one day: counts", *_side_by_side(conn, day_sql, picks, reps), headline=True)
    week_sql = (
        "SELECT day, result, count(*) FROM {table} WHERE community_id = %s"
        " AND day BETWEEN %s::date - 6 AND %s GROUP BY day, result"
    )
    add(
        "(b) one community, last 7 days",
        *_side_by_side(conn, week_sql, [(c, d, d) for c, d in picks], reps),
        headline=True,
    )
    all_sql = "SELECT community_id, result, count(*) FROM {table} WHERE day = %s GROUP BY community_id, result"
    add(
        "(c) every community, one day (subdistrict)",
        *_side_by_side(conn, all_sql, [(d,) for _, d in picks], max(3, reps // 4)),
        headline=True,
    )
    flat_copy, part_copy, copied = _hot_day_copy(
        conn, communities=communities, residents=residents, day=last + dt.timedelta(days=1), reps=3
    )
    add(f"(d) COPY of a hot day ({copied:,} rows), s", flat_copy, part_copy)
    add("(d) COPY of a hot day, rows/s", copied / flat_copy, copied / part_copy, "rows/s", headline=True)

    flat_vacuum = _timed(lambda: conn.execute("VACUUM flat"))
    part_vacuum = _timed(lambda: conn.execute("VACUUM part"))
    add("(f) ANALYZE of the whole table", flat_analyze, part_analyze)
    add("(f) VACUUM of the whole table (after the rolled-back COPYs)", flat_vacuum, part_vacuum)
    sizes = _sizes(conn)
    add("(f) size of the table", sizes["flat_table"] / 2**20, sizes["part_table"] / 2**20, "MB")
    add("(f) size of its indexes", sizes["flat_indexes"] / 2**20, sizes["part_indexes"] / 2**20, "MB")

    gone = communities  # the last community's emergency has ended: its rows go
    t = time.perf_counter()
    with conn.transaction():
        deleted = conn.execute("DELETE FROM flat WHERE community_id = %s", (gone,)).rowcount
    flat_delete = time.perf_counter() - t
    flat_reclaim = _timed(lambda: conn.execute("VACUUM flat"))
    t = time.perf_counter()
    with conn.transaction():
        conn.execute(f"ALTER TABLE part DETACH PARTITION part_{gone}")
        conn.execute(f"DROP TABLE part_{gone}")
    part_drop = time.perf_counter() - t
    add(f"(e) retention of one community ({deleted:,} rows): DETACH+DROP against DELETE", flat_delete, part_drop)
    add("(e) … counting the VACUUM the DELETE needs", flat_delete + flat_reclaim, part_drop, headline=True)
    if not keep:
        conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    conn.close()
    print(
        f"# {label}: {time.perf_counter() - started:.1f} s, load average {load_before} → {_loadavg()}",
        file=sys.stderr,
        flush=True,
    )
    for row in out:
        row["load"] = f"{load_before} → {_loadavg()}"
    return out


def _fmt(x: float, unit: str) -> str:
    if unit == "s":
        return f"{x * 1000:.2f} ms" if x < 1 else f"{x:.2f} s"
    if unit == "rows/s":
        return f"{x:,.0f}"
    return f"{x:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--communities", type=int, nargs="+", help="default 30 300 (--quick: 30 100)")
    parser.add_argument("--residents", type=int, default=1000, help="reports per community per day (90 %% report)")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument(
        "--quick", action="store_true", help="30 and 100 communities of 60 residents × 7 days, 8 reps: about 20 s"
    )
    parser.add_argument("--keep", action="store_true", help="leave the last shape's schema for EXPLAIN")
    parser.add_argument("--out", default="", help="write the markdown table here too")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("PostgreSQL only: --database-url postgres://…")
    if args.quick:
        args.residents, args.days, args.reps = 60, 7, 8
    # 300 partitions cost 20 s to create, index, analyse and drop on a loaded machine: the quick run stops at 100.
    args.communities = args.communities or ([30, 100] if args.quick else [30, 300])
    lines = [
        f"Partitioning by community, PostgreSQL, {args.residents} residents × {args.days} days per community, "
        f"median of {args.reps} (load average 1/5/15 min, before → after):",
        "",
        "| shape | measured | unpartitioned | partitioned | partitioned / unpartitioned |",
        "|---|---|---:|---:|---:|",
    ]
    for communities in args.communities:
        rows = run_shape(
            args.database_url,
            communities=communities,
            residents=args.residents,
            days=args.days,
            reps=args.reps,
            keep=args.keep,
        )
        last = communities == args.communities[-1]
        for row in rows:
            # The headline ratios of the largest shape go to run_all's table; every ratio is printed here.
            name = f"partitioning, {row['shape']}: {row['what']}: partitioned / unpartitioned"
            unit, better = row["unit"], row["unit"] != "rows/s"
            if row["headline"] and last:
                ratio = record(name, row["part"], row["flat"], unit, lower_is_better=better)
            else:
                ratio = row["part"] / row["flat"] if row["flat"] else float("inf")
            lines.append(
                f"| {row['shape']} | {row['what']} | {_fmt(row['flat'], row['unit'])} | "
                f"{_fmt(row['part'], row['unit'])} | {ratio:.2f} |"
            )
        lines.append(f"| {rows[0]['shape']} | load average | {rows[0]['load']} | | |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
