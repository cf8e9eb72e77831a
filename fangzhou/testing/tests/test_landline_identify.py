"""An elderly resident whose only number is a landline (stored E.164, "+862164318888") still opens
the building's antigen page with the room and the last 4 digits of that number, and the list of
who has not reported shows it masked like a mobile."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from fangzhou.registry.models import Resident
from fangzhou.registry.services import building_tokens_ensure, roster_import
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def _landline_household(world: World) -> str:
    csv = "小区,楼号,室号,姓名,电话,特殊人群\n阳光小区,3号楼,301,周阿婆,021-6431 8888,独居老人\n".encode("gbk")
    report = roster_import(community=world.community, actor=None, data=csv, filename="r.csv")
    assert report.created == 1 and not report.rejected
    assert Resident.objects.filter(name="周阿婆").values_list("phone", "phone_kind").get() == (
        "+862164318888",
        "landline",
    )
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    return world.b3.public_token


def test_the_last_4_digits_of_a_landline_identify_the_household(world: World) -> None:
    token = _landline_household(world)
    cache.clear()
    client = Client()
    wrong = client.post(f"/testing/a/{token}/identify/", {"room": "301", "phone4": "0021"})
    assert wrong.status_code == 404
    ok = client.post(f"/testing/a/{token}/identify/", {"room": "301", "phone4": "8888"})
    assert ok.status_code == 200 and [m["name"] for m in ok.json()["members"]] == ["周阿婆"]


def test_a_landline_is_masked_in_lists_like_a_mobile(world: World) -> None:
    _landline_household(world)
    client = Client()
    client.force_login(world.secretary)
    page = client.get("/residents/", {"q": "8888"}).content.decode()
    assert "周阿婆" in page and "021-****8888" in page and "64318888" not in page
