"""Hot pages on a phone: the number of queries does not grow with the number of doors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, roster_sheet
from fangzhou.supplies import services

pytestmark = pytest.mark.django_db


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_door_list_and_progress_pages_have_a_fixed_number_of_queries(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    dist = services.distribution_create(
        community=world.community, name="包", kind="government", on=dt.date(2022, 4, 20), package={"米": 1}, actor=None
    )
    services.distribution_allocate(distribution=dist, actor=None)
    door_list = f"/supplies/d/{dist.pk}/b/{world.b3.pk}/"
    progress = f"/supplies/d/{dist.pk}/"
    undelivered = door_list + "?undelivered=1"
    small = (_count(client, door_list), _count(client, progress), _count(client, undelivered))
    # Twenty more doors in building 3, and more buildings: the pages cost the same.
    more = [["阳光小区", "3", str(300 + n), f"新住户{chr(0x4E00 + n)}", "", "", "", ""] for n in range(20)]
    more += [["阳光小区", str(20 + n), "101", f"新楼户{chr(0x4F00 + n)}", "", "", "", ""] for n in range(10)]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
    services.distribution_allocate(distribution=dist, actor=None)
    large = (_count(client, door_list), _count(client, progress), _count(client, undelivered))
    assert "319" in client.get(door_list).content.decode()  # the new doors are on the list
    assert large == small
