"""Bulk writes for the large imports: COPY on PostgreSQL, batched INSERTs elsewhere; ANALYZE after.

A city round writes a quarter of a million samples in one import: one INSERT a row, or Django
compiling a model instance a row, costs more than everything else the import does.
``rows_copy`` streams plain tuples into a table with PostgreSQL's COPY (psycopg
``cursor.copy``), or with ``executemany`` in batches elsewhere (each value prepared by its field,
as the ORM would), inside the caller's transaction. It bypasses the ORM: no ``save()``, no
signals, no field defaults — the caller passes every column. ``tables_analyze`` refreshes the
planner's statistics after a bulk load (PostgreSQL only; a no-op elsewhere), so the next query
over the grown table does not plan for an empty one. Table and column names come from the models,
never from input.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

# Ids or keys one ``any_of`` look-up sends: one array on PostgreSQL; under SQLite's 32,766 variables.
LOOKUP_CHUNK = 30_000


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


BATCH = 5000  # rows a call to executemany (SQLite takes them in one pass; memory stays bounded)


def rows_copy(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``rows`` (tuples in the order of ``columns``, database column names) into ``model``'s
    table; returns how many. Two statements on PostgreSQL however many rows (one COPY), one
    ``executemany`` a batch of rows elsewhere."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    n = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw: Any = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {_table(model)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
            return n
        fields = {f.column: f for f in model._meta.concrete_fields}
        # Text, integers, booleans and keys go to the driver as they are; dates, times, JSON … are
        # prepared by their field, as the ORM would.
        prep = [(i, _preparer(fields[c])) for i, c in enumerate(columns) if not _plain(fields[c])]
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {_table(model)} ({names}) VALUES ({marks})"  # noqa: S608 - names from the model
        it = iter(rows)
        while batch := list(itertools.islice(it, BATCH)):
            if prep:
                batch = [_prepared(row, prep) for row in batch]
            cursor.executemany(sql, batch)
            n += len(batch)
    return n


_PLAIN = (models.CharField, models.TextField, models.BooleanField)


def _plain(field: models.Field[Any, Any]) -> bool:
    """Whether the driver takes this field's Python values as they are (no adaptation by Django)."""
    if isinstance(field, models.ForeignKey):
        return _plain(field.target_field)
    if isinstance(field, models.IntegerField):  # its own get_db_prep_value only validates on some backends
        return True
    return isinstance(field, _PLAIN) and type(field).get_db_prep_value is models.Field.get_db_prep_value


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """The field's ``get_db_prep_save`` for this connection, remembering what it gave: a date
    column's value once per distinct date (a date's preparation is a function of the date alone,
    and 50,000 people have a few thousand birth dates), any other column's once per object in a
    row (the import's one timestamp)."""
    prep = field.get_db_prep_save
    by_date: dict[dt.date, Any] = {}
    last: list[Any] = [object(), None]  # the object prepared last, and what it gave
    by_value = isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)

    def prepared(value: Any) -> Any:
        if value is None:
            return prep(value, connection)
        if by_value and type(value) is dt.date:
            found = by_date.get(value)
            if found is None:
                found = by_date[value] = prep(value, connection)
            return found
        if value is not last[0]:
            last[0], last[1] = value, prep(value, connection)
        return last[1]

    return prepared


def _prepared(row: Sequence[Any], prep: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for i, prepared in prep:
        values[i] = prepared(values[i])
    return values


def tables_analyze(*models_: type[models.Model]) -> None:
    """ANALYZE the tables of ``models_`` (PostgreSQL; elsewhere nothing)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(_table(m) for m in models_))


@models.Field.register_lookup
class AnyOf(models.Lookup):
    """``field__any_of=[…]``: ``field = ANY(%s)`` with one array parameter on PostgreSQL, ``IN (…)``
    elsewhere. An import looks up 5,000 ID numbers or tube codes at a time: building and sending a
    5,000-placeholder ``IN`` list costs more than the look-up itself."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            return "1 = 0", ()
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*lhs_params, *values)


models.ForeignKey.register_lookup(AnyOf)  # ``resident_id__any_of``: a key's related lookups are its own class's


def rows_stage(
    table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]], analyze: Sequence[str] = ()
) -> int:
    """Create the temporary table ``table`` (``columns``: (name, SQL type) pairs; any earlier one of
    that name on this connection dropped first) and fill it with ``rows``: one COPY on PostgreSQL,
    ``executemany`` a thousand rows at a time elsewhere. Returns how many rows. For a large import
    that checks its rows in SQL: the file's cells go in as plain values, the checks and the writes
    are then set-based statements over the staged table (``INSERT … SELECT``). Names are the
    caller's constants, never input. Drop it with :func:`stage_drop` (PostgreSQL drops it at commit
    too). ``analyze``: the columns the next statements join or filter on, whose statistics are
    gathered after the load (PostgreSQL: a temporary table is never analyzed by itself, and a plan
    for an unanalyzed one can loop over it once per row of another table)."""
    name = connection.ops.quote_name(table)
    names = ", ".join(connection.ops.quote_name(c) for c, _ in columns)
    n = 0
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        spec = ", ".join(f"{connection.ops.quote_name(c)} {t}" for c, t in columns)
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ({spec}) ON COMMIT DROP")
            raw: Any = cursor.cursor
            with raw.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ({spec})")
            sql = f"INSERT INTO {name} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
            it = iter(rows)
            while batch := list(itertools.islice(it, 1000)):
                cursor.executemany(sql, batch)
                n += len(batch)
    stage_analyze(table, analyze)
    return n


def stage_analyze(table: str, columns: Sequence[str]) -> None:
    """Gather the planner's statistics of ``columns`` of a temporary table (PostgreSQL; elsewhere
    nothing): after :func:`rows_stage`, or after a ``CREATE TEMPORARY TABLE … AS`` from one."""
    if connection.vendor != "postgresql" or not columns:
        return
    with connection.cursor() as cursor:
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)} ({names})")


def stage_drop(*tables: str) -> None:
    """Drop the temporary tables of :func:`rows_stage` (and any made from them) that are there."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}")
