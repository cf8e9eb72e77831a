"""The tables every public antigen submit writes carry no index another one already serves: each
index is an entry written on every row (a submission, a report per member, an audit row)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from fangzhou.accounts.models import AuditLog
from fangzhou.testing.models import AntigenReport, AntigenSubmission

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's catalogue"),
]

HOT = [AntigenSubmission, AntigenReport, AuditLog]


def _indexes(table: str) -> dict[str, tuple[list[str], str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        rows = cursor.fetchall()
    out = {}
    for name, definition in rows:
        columns = re.search(r"USING btree \((.*?)\)", definition)
        assert columns is not None, definition
        out[name] = ([c.strip().split()[0] for c in columns.group(1).split(",")], definition)
    return out


@pytest.mark.parametrize("model", HOT, ids=lambda m: m.__name__)
def test_no_index_is_the_leading_part_of_another(model: type) -> None:
    indexes = _indexes(model._meta.db_table)
    for name, (columns, definition) in indexes.items():
        if " UNIQUE " in definition:
            continue  # a constraint, not only a way in
        for other, (longer, _) in indexes.items():
            assert other == name or longer[: len(columns)] != columns, (name, "is served by", other)


@pytest.mark.parametrize("model", HOT, ids=lambda m: m.__name__)
def test_no_prefix_search_twin(model: type) -> None:
    """Nothing searches these columns by prefix: no ``varchar_pattern_ops`` twin of an index."""
    assert [n for n, (_c, d) in _indexes(model._meta.db_table).items() if "pattern_ops" in d] == []


@pytest.mark.parametrize(
    ("model", "column"), [(AntigenSubmission, "recorded_by_id"), (AuditLog, "actor_id")], ids=["recorded_by", "actor"]
)
def test_the_account_columns_are_indexed_only_where_set(model: type, column: str) -> None:
    """A household's own submission has no leader and its audit row no actor: no entry for them."""
    found = [d for _n, (c, d) in _indexes(model._meta.db_table).items() if c == [column]]
    assert len(found) == 1 and f"WHERE ({column} IS NOT NULL)" in found[0], found
