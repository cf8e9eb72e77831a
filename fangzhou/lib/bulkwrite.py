"""``rows_write``: :func:`lib.bulk.rows_copy` with each value of a column prepared once.

The same write as ``rows_copy`` — COPY on PostgreSQL (it is ``rows_copy`` there), ``executemany``
elsewhere, inside the caller's transaction, no ORM — for imports whose rows repeat values that
Django must prepare: on SQLite every date goes through its field's ``get_db_prep_save`` (a text
for the driver), and a roster of 50,000 people has a few thousand distinct birth dates. Here a
date column's value is prepared once per distinct date (the field's own preparation, remembered
by value: a date's is a function of the date alone), any other prepared column's once per object
in a row (the import's one timestamp), as ``rows_copy`` does. A separate module so that the
writes of other imports in ``lib/bulk.py`` stay as they are.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

from fangzhou.lib.bulk import _plain, rows_copy

BATCH = 5000  # rows a call to executemany (SQLite takes them in one pass; memory stays bounded)


def rows_write(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``rows`` (tuples in the order of ``columns``, database column names) into ``model``'s
    table; returns how many. One COPY on PostgreSQL, one ``executemany`` a batch elsewhere."""
    if connection.vendor == "postgresql":
        return rows_copy(model, columns, rows)
    fields = {f.column: f for f in model._meta.concrete_fields}
    q = connection.ops.quote_name
    names = ", ".join(q(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {q(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608 - names from the model
    preparers = [(i, _preparer(fields[c])) for i, c in enumerate(columns) if not _plain(fields[c])]
    n = 0
    it = iter(rows)
    with connection.cursor() as cursor:
        while batch := list(itertools.islice(it, BATCH)):
            if preparers:
                batch = [_row_prepared(row, preparers) for row in batch]
            cursor.executemany(sql, batch)
            n += len(batch)
    return n


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """The field's ``get_db_prep_save`` for this connection, remembering what it gave."""
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


def _row_prepared(row: Sequence[Any], preparers: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for i, prepared in preparers:
        values[i] = prepared(values[i])
    return values
