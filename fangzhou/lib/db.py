"""Fresh planner statistics after bulk writes (PostgreSQL).

A server may run with autovacuum off, and even with it on, the statistics of a table lag behind a
bulk import until the daemon gets round to it: the planner then takes a table of 250,000 samples
for an empty one and chooses nested loops (18 s instead of 1.9 s for one round's roll-up).
:func:`analyze` runs ``ANALYZE`` on the tables a bulk write touched, once the transaction commits
(``transaction.on_commit``; at once outside a transaction), and only when the write touched at
least :data:`ANALYZE_MIN_ROWS` rows: a form that saves three rows never pays for it. SQLite keeps
no such statistics that would go stale this way: there it does nothing.

With autovacuum off nothing removes the dead row versions that updates leave behind either: every
household that reports again the same day updates its members' reports, and each upsert of that
row then walks all its earlier versions (measured: PostgreSQL's CPU per submission doubled within
20 s of repeated reports, docs/benchmarks.md). :func:`vacuum_due` does what the daemon would have
done, for the tables it is given: ``VACUUM (ANALYZE)`` of each one past autovacuum's own default
thresholds, and nothing at all while autovacuum runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connections, models, transaction

__all__ = ["ANALYZE_MIN_ROWS", "TableActivity", "analyze", "vacuum_due", "vacuum_wanted"]

# Fewer changed rows than this cannot move a table's statistics enough to matter to the planner.
ANALYZE_MIN_ROWS = 300


def _tables(model_list: Iterable[type[models.Model]]) -> list[str]:
    tables: list[str] = []
    for model in model_list:
        through = [f.remote_field.through for f in model._meta.local_many_to_many]
        for table in (model._meta.db_table, *(t._meta.db_table for t in through if t is not None)):
            if table not in tables:
                tables.append(table)
    return tables


def analyze(*model_list: type[models.Model], rows: int | None = None, using: str = "default") -> bool:
    """ANALYZE the tables of ``model_list`` (the whole database when none is given) after commit.

    ``rows`` is how many rows the bulk write touched: below :data:`ANALYZE_MIN_ROWS` nothing is
    done (``None``: always, as after the demo). Returns whether an ANALYZE was scheduled."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    if rows is not None and rows < ANALYZE_MIN_ROWS:
        return False
    tables = _tables(model_list)

    def run() -> None:
        with connections[using].cursor() as cursor:
            if tables:
                quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
                cursor.execute(f"ANALYZE {quoted}")
            else:
                cursor.execute("ANALYZE")

    transaction.on_commit(run, using=using)
    return True


@dataclass(frozen=True)
class TableActivity:
    """What PostgreSQL's statistics say of a table since its last vacuum."""

    live: int
    dead: int
    inserted: int  # rows inserted since the last vacuum


# autovacuum's defaults (PostgreSQL 13 and later): a table is due once its dead rows pass
# 50 + 20 % of its live rows, or its rows inserted since the last vacuum pass 1,000 + 20 % (the
# latter keeps an insert-only table's visibility map current, so index-only scans stay index-only).
VACUUM_THRESHOLD, VACUUM_SCALE = 50, 0.2
INSERT_THRESHOLD, INSERT_SCALE = 1000, 0.2


def vacuum_wanted(activity: Mapping[str, TableActivity]) -> list[str]:
    """The tables past autovacuum's default thresholds, in the order given."""
    return [
        table
        for table, a in activity.items()
        if a.dead > VACUUM_THRESHOLD + VACUUM_SCALE * a.live or a.inserted > INSERT_THRESHOLD + INSERT_SCALE * a.live
    ]


def vacuum_due(*model_list: type[models.Model], using: str = "default") -> dict[str, object]:
    """``VACUUM (ANALYZE)`` each table of ``model_list`` that autovacuum would have vacuumed by now,
    when autovacuum is off (PostgreSQL; elsewhere nothing). VACUUM cannot run inside a transaction:
    called in one (a test's), it does nothing. Returns what it did, for the job's record."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return {"skipped": "not PostgreSQL"}
    if connection.in_atomic_block:
        return {"skipped": "inside a transaction"}
    tables = _tables(model_list)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('autovacuum') = 'on'")
        (daemon_on,) = cursor.fetchone()
        cursor.execute(
            "SELECT s.relname, s.n_live_tup, s.n_dead_tup, s.n_ins_since_vacuum,"
            " COALESCE(c.reloptions @> ARRAY['autovacuum_enabled=false'], false)"
            " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
            " WHERE s.schemaname = current_schema() AND s.relname = ANY(%s)",
            [tables],
        )
        rows = cursor.fetchall()
        activity = {
            name: TableActivity(live, dead, inserted)
            for name, live, dead, inserted, table_off in rows
            if not daemon_on or table_off
        }
        if not activity:
            return {"skipped": "autovacuum is on"}
        due = vacuum_wanted({t: activity[t] for t in tables if t in activity})
        for table in due:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
    return {"vacuumed": due}
