"""The zone plan on the community overview: every building is drawn, but a building is a link only
for someone who may open it (a building leader tapping a neighbour's building found a 404)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World, build_world, place


@pytest.fixture
def placed(db: None) -> World:
    return place(build_world())


def _zone_plan(user: User, world: World) -> str:
    client = Client()
    client.force_login(user)
    page = client.get(reverse("registry:community", args=[world.community.code])).content.decode()
    return page.split('id="zone-plan"', 1)[1].split("</section>", 1)[0]


def _linked(section: str) -> set[str]:
    return set(re.findall(r'<a href="(/b/\d+/)"', section))


def _drawn(section: str) -> set[str]:
    return set(re.findall(r'data-id="(\d+)"', section))


def test_a_building_leader_sees_every_building_but_may_tap_only_their_own(placed: World) -> None:
    section = _zone_plan(placed.leader, placed)
    assert _drawn(section) == {str(placed.b3.pk), str(placed.b5.pk)}  # the whole compound's zones
    assert _linked(section) == {f"/b/{placed.b3.pk}/"}  # only the building they lead
    for url in _linked(section):  # and every link opens
        client = Client()
        client.force_login(placed.leader)
        assert client.get(url).status_code == 200


def test_the_committee_may_tap_every_building(placed: World) -> None:
    section = _zone_plan(placed.secretary, placed)
    assert _linked(section) == {f"/b/{placed.b3.pk}/", f"/b/{placed.b5.pk}/"}
