"""The backfill fills the search key of residents that existed before the column."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World

BEFORE = [("registry", "0006_compound_short_name_resident_search_key")]
AFTER = [("registry", "0008_resident_trigram_indexes")]


@pytest.mark.django_db(transaction=True)
def test_backfill_fills_every_key(world: World) -> None:
    Resident.objects.update(search_key="")  # as the rows were before the column had values
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    keys = dict(Resident.objects.values_list("name", "search_key"))
    # Back to the latest migrations: later tests need the columns added after 0008.
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert keys["张伟"] == "zhangwei zw"
    assert keys["王秀英"] == "wangxiuying wxy"
    assert all(keys.values())
