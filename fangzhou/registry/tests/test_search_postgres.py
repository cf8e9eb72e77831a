"""On PostgreSQL the pinyin and name searches are answered from trigram indexes, not a table scan."""

from __future__ import annotations

import pytest
from django.db import connection

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's"),
]


def test_the_extension_and_both_indexes_exist(world: World) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'registry_resident'")
        defs = dict(cursor.fetchall())
    assert "gin_trgm_ops" in defs["registry_resident_search_key_trgm"]
    assert "gin_trgm_ops" in defs["registry_resident_name_trgm"]


@pytest.mark.parametrize(("field", "value"), [("search_key__contains", "zhangsan"), ("name__contains", "张三丰")])
def test_the_planner_can_use_the_trigram_index(world: World, field: str, value: str) -> None:
    query = Resident.objects.filter(**{field: value}).order_by().only("pk")  # no sort that another index serves
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "_trgm" in plan, plan
