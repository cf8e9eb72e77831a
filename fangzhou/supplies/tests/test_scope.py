"""Every supplies page and endpoint refuses outsiders; volunteers see only their assigned lists."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World
from fangzhou.supplies import services
from fangzhou.supplies.models import Delivery, DeliveryStatus, Distribution, RoutePlan

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def setup(placed: World, django_capture_on_commit_callbacks: Any) -> tuple[World, Distribution, RoutePlan]:
    dist = services.distribution_create(
        community=placed.community, name="包", kind="government", on=dt.date(2022, 4, 20), package={"米": 1}, actor=None
    )
    services.distribution_allocate(distribution=dist, actor=None)
    services.delivery_assign(distribution=dist, building=placed.b5, volunteer=placed.volunteer, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        plan = services.route_plan_request(
            community=placed.community,
            actor=None,
            building_ids=[placed.b3.pk, placed.b5.pk],
            volunteer_ids=[placed.volunteer.pk],
            capacity=10,
            distribution=dist,
        )
    return placed, dist, plan


def urls(world: World, dist: Distribution, plan: RoutePlan) -> list[tuple[str, str, Any]]:
    code = world.community.code
    d3 = Delivery.objects.get(distribution=dist, household__room="101")
    return [
        ("get", f"/supplies/c/{code}/", None),
        ("post", f"/supplies/c/{code}/", {"name": "x", "kind": "government", "package": "米:1"}),
        ("get", f"/supplies/c/{code}/routes/", None),
        ("post", f"/supplies/c/{code}/routes/", {"buildings": [world.b3.pk], "volunteers": [world.volunteer.pk]}),
        ("get", f"/supplies/d/{dist.pk}/", None),
        ("post", f"/supplies/d/{dist.pk}/allocate/", None),
        ("post", f"/supplies/d/{dist.pk}/order/", {"building": "3", "room": "101", "items": "米:1"}),
        ("post", f"/supplies/d/{dist.pk}/import/", None),
        ("post", f"/supplies/d/{dist.pk}/assign/", {"building": world.b3.pk}),
        ("post", f"/supplies/d/{dist.pk}/sweep/", None),
        ("get", f"/supplies/d/{dist.pk}/b/{world.b3.pk}/", None),
        ("get", f"/supplies/d/{dist.pk}/b/{world.b3.pk}/list.pdf", None),
        ("get", f"/supplies/d/{dist.pk}/b/{world.b3.pk}/list.xlsx", None),
        ("post", f"/supplies/delivery/{d3.pk}/mark/", None),
        ("get", f"/supplies/routes/{plan.pk}/", None),
        ("get", f"/api/supplies/c/{code}/distributions", None),
        ("post", f"/api/supplies/c/{code}/distributions", {"name": "x", "kind": "government", "on": "2022-04-20"}),
        ("get", f"/api/supplies/d/{dist.pk}", None),
        ("post", f"/api/supplies/d/{dist.pk}/allocate", None),
        ("post", f"/api/supplies/d/{dist.pk}/orders", {"building": "3", "room": "101", "items": {"米": 1}}),
        ("post", f"/api/supplies/d/{dist.pk}/assign", {"building_id": world.b3.pk}),
        ("post", f"/api/supplies/d/{dist.pk}/sweep", None),
        ("get", f"/api/supplies/d/{dist.pk}/b/{world.b3.pk}", None),
        ("post", f"/api/supplies/delivery/{d3.pk}/mark", None),
        (
            "post",
            f"/api/supplies/c/{code}/routes",
            {"building_ids": [world.b3.pk], "volunteer_ids": [world.volunteer.pk]},
        ),
        ("get", f"/api/supplies/routes/{plan.pk}", None),
    ]


def call(client: Client, method: str, url: str, data: Any) -> Any:
    if url.startswith("/api/") and method == "post" and data is not None:
        return client.post(url, json.dumps(data), content_type="application/json")
    return getattr(client, method)(url, data or {})


def test_anonymous_is_refused_everywhere(setup: Any) -> None:
    world, dist, plan = setup
    for method, url, data in urls(world, dist, plan):
        response = call(client_for(None), method, url, data)
        if url.startswith("/api/"):
            assert response.status_code == 401, url
        else:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_secretary_of_another_community_gets_nothing(setup: Any) -> None:
    world, dist, plan = setup
    client = client_for(world.outsider)
    for method, url, data in urls(world, dist, plan):
        response = call(client, method, url, data)
        assert response.status_code in {403, 404}, (url, response.status_code)
    assert Delivery.objects.filter(distribution=dist).exclude(status=DeliveryStatus.PENDING).count() == 0
    assert Distribution.objects.count() == 1


def test_volunteer_sees_only_the_assigned_list(setup: Any) -> None:
    world, dist, _plan = setup
    vol = client_for(world.volunteer)
    assert vol.get(f"/supplies/d/{dist.pk}/b/{world.b5.pk}/").status_code == 200
    assert vol.get(f"/supplies/d/{dist.pk}/b/{world.b3.pk}/").status_code == 404
    d3 = Delivery.objects.get(distribution=dist, household__room="101")
    assert vol.post(f"/supplies/delivery/{d3.pk}/mark/").status_code == 404
    page = vol.get(f"/supplies/d/{dist.pk}/").content.decode()
    assert "5号楼" in page and "3号楼" not in page
    mine = vol.get("/supplies/mine/").content.decode()
    assert f"/supplies/d/{dist.pk}/b/{world.b5.pk}/" in mine
    api = vol.get(f"/api/supplies/d/{dist.pk}").json()
    assert [b["label"] for b in api["buildings"]] == ["5号楼"]
    # A volunteer may not create, allocate or plan.
    assert vol.post(f"/supplies/d/{dist.pk}/allocate/").status_code == 403
    assert vol.get(f"/supplies/c/{world.community.code}/").status_code == 404


def test_building_leader_sees_only_their_building(setup: Any) -> None:
    world, dist, plan = setup
    leader = client_for(world.leader)
    assert leader.get(f"/supplies/d/{dist.pk}/b/{world.b5.pk}/").status_code == 404
    assert leader.get(f"/supplies/d/{dist.pk}/b/{world.b3.pk}/").status_code == 200
    assert leader.post(f"/supplies/d/{dist.pk}/sweep/").status_code == 403
    assert leader.get(f"/supplies/routes/{plan.pk}/").status_code == 404


def test_officer_reads_but_does_not_mark(setup: Any) -> None:
    world, dist, _plan = setup
    officer = client_for(world.officer)
    assert officer.get(f"/supplies/d/{dist.pk}/").status_code == 200
    d3 = Delivery.objects.get(distribution=dist, household__room="101")
    assert officer.post(f"/supplies/delivery/{d3.pk}/mark/").status_code == 403
