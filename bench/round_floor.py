"""The city round's table floor: the same rows written straight into the round's real tables.

    python bench/round_floor.py --work DIR --round ID [--database-url postgres://...]

(run by ``round_import.py`` as a phase of its own; prints one JSON line like its other phases).

``round_import.py``'s first baseline copies both files into two plain tables with no index, no key
and no check. This one is the floor of the tables themselves: the samples file's tubes and
samples, and the lab file's results, as the rows the import would leave (ids, round, community,
resident and tube resolved *before* the clock starts, as the roster benchmark's raw floor does),
written by COPY on PostgreSQL (``executemany`` on SQLite) into ``testing_tube``, ``testing_sample``
and ``testing_labresult`` with every index and foreign key they carry, in one transaction,
committed: the commit is where PostgreSQL checks the deferred foreign keys. The clock covers the
writes and the commit. Afterwards the rows are deleted and the tables vacuumed, so the import
measured next starts from the same empty round. The re-tests, orders, events and audit rows the
results import also writes have no floor here: they are the import's own work.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TUBE_COLUMNS = (
    "id, round_id, code, kind, pool_size, status, site_id, site_label, station, door_to_door, "
    "opened_by_id, opened_at, closed_at, imported"
)
SAMPLE_COLUMNS = "community_id, round_id, resident_id, tube_id, kind, sampled_at, site_id, door_to_door, taken_by_id"
RESULT_COLUMNS = "tube_id, result, ct_orf1ab, ct_n, tested_at, imported_at, imported_by_id, filename"
RESULT_WORDS = {"阳性": "positive", "阴性": "negative"}


def _when(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)


def _ct(text: str) -> float | None:
    return float(text) if text else None


def prepare(work: Path, round_id: int) -> tuple[list[tuple[object, ...]], ...]:
    """The three tables' rows, as the import would leave them (not timed)."""
    from django.db import connection

    from fangzhou.registry.models import Resident
    from fangzhou.testing.models import Round

    rnd = Round.objects.get(pk=round_id)
    residents = dict(Resident.objects.filter(community_id=rnd.community_id).values_list("id_number", "id"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM testing_tube")
        next_id = int(cursor.fetchone()[0]) + 1
    now = dt.datetime.now(dt.UTC)
    tube_ids: dict[str, int] = {}
    tubes: list[tuple[object, ...]] = []
    samples: list[tuple[object, ...]] = []
    with open(work / "samples.csv", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for code, id_number, _name, when, site in reader:
            tube = tube_ids.get(code)
            if tube is None:
                tube = tube_ids[code] = next_id + len(tubes)
                tubes.append(
                    (
                        tube,
                        round_id,
                        code,
                        "pooled",
                        rnd.pool_size,
                        "closed",
                        None,
                        site,
                        "",
                        False,
                        None,
                        now,
                        now,
                        True,
                    )
                )
            samples.append(
                (rnd.community_id, round_id, residents[id_number], tube, "pooled", _when(when), None, False, None)
            )
    results: list[tuple[object, ...]] = []
    with open(work / "results.csv", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for code, word, orf1ab, n, when in reader:
            results.append(
                (tube_ids[code], RESULT_WORDS[word], _ct(orf1ab), _ct(n), _when(when), now, None, "results.csv")
            )
    return tubes, samples, results


def write(tubes: list[tuple[object, ...]], samples: list[tuple[object, ...]], results: list[tuple[object, ...]]) -> int:
    """The timed part: the three tables' rows in one committed transaction; returns the COPY
    statements sent past Django's cursor (which its execute wrapper does not see)."""
    from django.db import connection, transaction

    copies = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in (
            ("testing_tube", TUBE_COLUMNS, tubes),
            ("testing_sample", SAMPLE_COLUMNS, samples),
            ("testing_labresult", RESULT_COLUMNS, results),
        ):
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                copies += 1
            else:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    return copies


def clear(round_id: int) -> None:
    """Leave the round as empty as it was (not timed)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM testing_sample WHERE round_id = %s", [round_id])
        cursor.execute(
            "DELETE FROM testing_labresult WHERE tube_id IN (SELECT id FROM testing_tube WHERE round_id = %s)",
            [round_id],
        )
        cursor.execute("DELETE FROM testing_tube WHERE round_id = %s", [round_id])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE testing_sample, testing_tube, testing_labresult")
        else:
            cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.db import connection
    from round_import import _maxrss_mb  # type: ignore[import-not-found]

    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    tubes, samples, results = prepare(Path(args.work), args.round)
    connection.ensure_connection()
    with connection.execute_wrapper(count):
        t = time.perf_counter()
        copies = write(tubes, samples, results)
        seconds = time.perf_counter() - t
    statements += copies
    clear(args.round)
    print(
        json.dumps(
            {
                "phase": "floor",
                "seconds": seconds,
                "maxrss_mb": _maxrss_mb(),
                "statements": statements,
                "rows": len(tubes) + len(samples) + len(results),
                "report": {},
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
