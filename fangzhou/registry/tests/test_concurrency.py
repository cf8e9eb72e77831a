"""Nothing doubled under concurrency: real connections on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from fangzhou.registry.models import Building, Household, Resident
from fangzhou.registry.services import community_create, roster_import
from fangzhou.registry.tests.test_services_roster import messy_rows, xlsx

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks and real connections"),
]


def test_simultaneous_imports_of_one_roster_create_each_resident_once() -> None:
    community = community_create(code="P01", name="并发居民区")
    data = xlsx(messy_rows())
    barrier = threading.Barrier(4)
    reports: list[object] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            barrier.wait()
            reports.append(roster_import(community=community, actor=None, data=data, filename="r.xlsx"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Resident.objects.filter(community=community).count() == 3
    assert Building.objects.filter(community=community).count() == 1
    assert Household.objects.filter(building__community=community).count() == 2
    created = sorted(r.created for r in reports)  # type: ignore[attr-defined]
    assert created == [0, 0, 0, 3]
