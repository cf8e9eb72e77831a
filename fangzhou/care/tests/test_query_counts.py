"""The special-care registry page and the at-risk list cost the same however many people need care."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fangzhou.care.services import care_registry_sync
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, roster_sheet

pytestmark = pytest.mark.django_db


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_care_page_and_overview_do_not_grow_with_the_registry(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    care_registry_sync(community=world.community, actor=None)
    pages = (
        f"/care/c/{world.community.code}/",
        f"/c/{world.community.code}/",
        f"/care/c/{world.community.code}/?need=elderly_alone&building={world.b3.pk}&on=2022-04-20",
    )
    small = [_count(client, url) for url in pages]
    more = [["阳光小区", "3", str(400 + n), f"老人{chr(0x4E00 + n)}", "", "", "独居老人", ""] for n in range(15)]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
    care_registry_sync(community=world.community, actor=None)
    large = [_count(client, url) for url in pages]
    assert "老人" in client.get(pages[0]).content.decode()
    assert large == small
