"""The floor under a city round's import: COPY of its rows into the real tables' shape.

    python bench/round_floor.py --database-url postgres://…/fz_bench   # after bench/round_import.py

``round_import.py`` compares the imports with COPY of the two files into plain tables with no
index, no key and no check. This measures what the real tables cost on their own, on the rows a
round import left in the database: the tubes, samples and lab results are read out (COPY … TO)
and written back by COPY, each table in its own transaction through commit, into (a) a bare copy
of the table (its columns only), (b) a copy with every index, unique and check constraint
(``LIKE … INCLUDING ALL``), and (c) the same with its foreign keys, ``DEFERRABLE INITIALLY
DEFERRED`` as Django makes them (checked at commit). No import can be faster than (c): it is the
rows going into the tables they must go into. Best of ``--repeat`` runs. PostgreSQL only.
"""

from __future__ import annotations

import argparse
import time

import psycopg

TABLES = ("testing_tube", "testing_sample", "testing_labresult")


def _copy_out(conn: psycopg.Connection, table: str) -> bytes:
    out = bytearray()
    with conn.cursor() as cur, cur.copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
        for block in copy:
            out += block
    conn.commit()
    return bytes(out)


def _foreign_keys(conn: psycopg.Connection, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            (table,),
        )
        return [r[0] for r in cur.fetchall()]


def _load(conn: psycopg.Connection, table: str, data: bytes, *, indexes: bool, keys: bool) -> float:
    copy_name = f"floor_{int(indexes)}{int(keys)}_{table}"
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {copy_name}")
        cur.execute(f"CREATE TABLE {copy_name} (LIKE {table}{' INCLUDING ALL' if indexes else ''})")
        if keys:
            for i, definition in enumerate(_foreign_keys(conn, table)):
                cur.execute(f"ALTER TABLE {copy_name} ADD CONSTRAINT {copy_name}_fk{i} {definition}")
        conn.commit()
        t = time.perf_counter()
        with cur.copy(f"COPY {copy_name} FROM STDIN") as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
        conn.commit()  # the deferred keys are checked here
        seconds = time.perf_counter() - t
        cur.execute(f"DROP TABLE {copy_name}")
        conn.commit()
    return seconds


def measure(database_url: str, *, repeat: int = 3) -> dict[str, object]:
    """The three floors summed over the tables (seconds: ``bare``, ``indexed``, ``full``), each the
    best of ``repeat``; ``lines``: the table per table."""
    with psycopg.connect(database_url) as conn:
        lines = [
            "| table | rows | bare COPY s | with its indexes s | with its indexes and keys s | ratio to bare |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        total_bare = total_indexed = total_full = 0.0
        for table in TABLES:
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {table}")
                rows = cur.fetchone()[0]  # type: ignore[index]
            data = _copy_out(conn, table)
            bare = min(_load(conn, table, data, indexes=False, keys=False) for _ in range(repeat))
            indexed = min(_load(conn, table, data, indexes=True, keys=False) for _ in range(repeat))
            full = min(_load(conn, table, data, indexes=True, keys=True) for _ in range(repeat))
            total_bare += bare
            total_indexed += indexed
            total_full += full
            lines.append(f"| {table} | {rows:,} | {bare:.2f} | {indexed:.2f} | {full:.2f} | {full / bare:.1f}× |")
        lines.append(
            f"| all three | | {total_bare:.2f} | {total_indexed:.2f} | {total_full:.2f} | "
            f"{total_full / total_bare:.1f}× |"
        )
    return {"bare": total_bare, "indexed": total_indexed, "full": total_full, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(measure(args.database_url, repeat=args.repeat)["lines"]))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
