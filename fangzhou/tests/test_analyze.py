"""Fresh planner statistics after a bulk import (PostgreSQL; the test server runs without autovacuum).

What the planner believes about a table is ``pg_class.reltuples`` (-1: never analysed). After a
bulk import it must be the real row count, or the planner takes a table of thousands of rows for
an empty one and chooses nested loops.
"""

from __future__ import annotations

import pytest
from django.db import connection

from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import Resident
from fangzhou.registry.services import community_create, roster_import
from fangzhou.registry.tests.test_services_roster import messy_rows, xlsx

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps no planner statistics to refresh"),
]


def _planner_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return float(cursor.fetchone()[0])


def _analysed(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = %s", [table])
        return bool(cursor.fetchone()[0])


def test_a_bulk_roster_import_leaves_the_planner_the_real_row_counts() -> None:
    result = demo_seed(size="small")  # one roster import of about 600 rows
    residents = Resident.objects.count()
    assert residents == result.residents > 300
    assert _planner_rows("registry_resident") == residents
    assert _planner_rows("registry_household") > 0
    assert _analysed("registry_resident")


def test_a_few_rows_do_not_pay_for_an_analyze() -> None:
    community = community_create(code="A01", name="统计居民区")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_resident")  # empty: the planner knows 0 rows
    report = roster_import(community=community, actor=None, data=xlsx(messy_rows()), filename="r.xlsx")
    assert report.created == 3
    assert _planner_rows("registry_resident") != Resident.objects.count()
