"""The household routes (no account, skipped by the staff outsider walk) walked by outsiders: a
signed-in secretary of another community, a visitor without a pass, and another household's pass.
Each is refused and shown nothing of the household."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import get_resolver

from fangzhou.portal.tests.conftest import Home, enter, notice_to
from fangzhou.registry.models import Building
from fangzhou.tests.test_every_route import _routes

pytestmark = pytest.mark.django_db

PASSED = ("home/p/<str:token>/", "home/left/", "home/leave/")  # the entry, the goodbye and the sign-out


def test_every_household_route_is_walked_here() -> None:
    household = sorted(r for r in set(_routes(get_resolver())) if r.startswith("home/"))
    assert household == sorted(
        ["home/", "home/p/<str:token>/", "home/leave/", "home/left/", "home/push/", "home/surveys/<int:survey_id>/"]
    )


@pytest.mark.parametrize("who", ["outsider", "anonymous", "other_household"])
def test_no_household_route_serves_anyone_but_the_household(home: Home, who: str) -> None:
    notice_to(home.h101, zh="101室：物资已放门口", key="n-101")
    client = Client()
    if who == "outsider":
        client.force_login(home.world.outsider)
    elif who == "other_household":
        other = Building.objects.get(pk=home.world.other_building.pk)
        assert enter(client, other.public_token, "301", "4321") == 303  # 赵敏's household elsewhere
    page = client.get("/home/")
    text = page.content.decode()
    if who == "other_household":
        assert page.status_code == 200 and "河畔小区" in text
    else:
        assert page.status_code == 403
    assert "101室：物资已放门口" not in text and "阳光小区 3号楼 101室" not in text
    body = json.dumps({"endpoint": "https://push.example.test/x", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}})
    push = client.post("/home/push/", data=body, content_type="application/json")
    assert push.status_code == (200 if who == "other_household" else 403)
    assert client.get("/home/push/").status_code == 405
    assert client.post("/home/").status_code == 405
    assert client.get("/home/leave/").status_code == 405
