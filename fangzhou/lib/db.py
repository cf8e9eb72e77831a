"""Fresh planner statistics after bulk writes (PostgreSQL).

A server may run with autovacuum off, and even with it on, the statistics of a table lag behind a
bulk import until the daemon gets round to it: the planner then takes a table of 250,000 samples
for an empty one and chooses nested loops (18 s instead of 1.9 s for one round's roll-up).
:func:`analyze` runs ``ANALYZE`` on the tables a bulk write touched, once the transaction commits
(``transaction.on_commit``; at once outside a transaction), and only when the write touched at
least :data:`ANALYZE_MIN_ROWS` rows: a form that saves three rows never pays for it. SQLite keeps
no such statistics that would go stale this way: there it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections, models, transaction

__all__ = ["ANALYZE_MIN_ROWS", "analyze"]

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
