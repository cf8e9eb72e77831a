"""A group's rows as one JSON value, so a list can ride on its owner's row.

A page that lists people with what each of them has (a schedule, open requests, orders) would
read the people, then each kind of thing in one more statement. :class:`JSONRows` folds one kind
into the owner's statement as a correlated subquery: each owner's things as a JSON array of
objects (``JSONObject``), ``None`` where it has none. PostgreSQL's ``JSONB_AGG`` (``jsonb``, which
Django reads as text and decodes like any JSONField) and SQLite's ``JSON_GROUP_ARRAY``.

In SQLite a JSON column inside ``JSON_OBJECT`` comes back as a string holding the JSON, in
PostgreSQL as the value itself: :func:`json_value` reads either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db.models import Aggregate, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject

__all__ = ["JSONRows", "json_value", "rows_of"]


class JSONRows(Aggregate):
    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


def rows_of(
    queryset: QuerySet[Any], names: Sequence[str], *, owner: str, outer: str = "pk", **renamed: Any
) -> Subquery:
    """For an annotation: the rows of ``queryset`` whose ``owner`` is the outer row's ``outer``,
    each as a JSON object of the fields ``names`` and of ``renamed`` (key -> field name or
    expression); ``None`` if there are none."""
    grouped = (
        queryset.filter(**{owner: OuterRef(outer)})
        .order_by()
        .values(owner)
        .annotate(rows=JSONRows(JSONObject(**{name: name for name in names}, **renamed)))
        .values("rows")
    )
    return Subquery(grouped, output_field=JSONField())


def json_value(value: Any) -> Any:
    """A JSON column read inside a JSON object: decoded on SQLite (a string), as is elsewhere."""
    return json.loads(value) if isinstance(value, str) else value
