"""Door lists and trips in stair order; the pending button says what it does; the route map is
cropped to the trip with labels sized for a phone."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, roster_sheet
from fangzhou.supplies import services
from fangzhou.supplies.models import RoutePlan
from fangzhou.supplies.selectors import leg_stop_groups
from fangzhou.supplies.services import _stair_order
from fangzhou.supplies.tests.test_supplies import client_for, government

pytestmark = pytest.mark.django_db


def _more_rooms(world: World) -> None:
    rows: list[list[object]] = [
        ["阳光小区", "3号楼", room, name, "", phone, "", "一网格"]
        for room, name, phone in (
            ("1001", "赵一", "13811110001"),
            ("201", "钱二", "13811110002"),
            ("1201", "孙三", "13811110003"),
            ("702", "李四", "13811110004"),
        )
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="more.xlsx")


def test_door_list_is_floor_by_floor_and_the_button_says_mark_delivered(placed: World) -> None:
    _more_rooms(placed)
    dist = government(placed)
    services.distribution_allocate(distribution=dist, actor=None)
    page = client_for(placed.secretary).get(f"/supplies/d/{dist.pk}/b/{placed.b3.pk}/").content.decode()
    rooms = re.findall(r'<span class="room">([^<]+)</span>', page)
    assert rooms == ["101", "102", "201", "702", "1001", "1201"]  # the text order put 1001 before 101
    pending = re.findall(r'<button class="primary">([^<]+)</button>', page)
    assert pending and set(pending) == {"标记送达"}  # an action, not a status that reads as done
    english = client_for(placed.secretary)
    english.cookies["django_language"] = "en"
    page = english.get(f"/supplies/d/{dist.pk}/b/{placed.b3.pk}/").content.decode()
    assert set(re.findall(r'<button class="primary">([^<]+)</button>', page)) == {"Mark delivered"}


def test_doors_of_a_building_on_a_trip_are_put_in_stair_order_runs_kept() -> None:
    doors = {"a": (3, "1201"), "b": (3, "101"), "c": (5, "301"), "d": (5, "201"), "e": (3, "702")}
    assert _stair_order(["a", "b", "c", "d", "e"], doors) == ["b", "a", "d", "c", "e"]


def test_trip_is_shown_building_by_building_floor_by_floor(
    placed: World, django_capture_on_commit_callbacks: Any
) -> None:
    _more_rooms(placed)
    dist = government(placed)
    services.distribution_allocate(distribution=dist, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.route_plan_request(
            community=placed.community,
            actor=None,
            building_ids=[placed.b3.pk, placed.b5.pk],
            volunteer_ids=[placed.volunteer.pk],
            capacity=20,
            distribution=dist,
        )
    plan = RoutePlan.objects.get()
    (leg,) = plan.legs.all()
    groups = leg_stop_groups(leg.stops)
    by_building = {g.building: g.rooms for g in groups}
    assert by_building["阳光小区 3号楼"] == ["101", "102", "201", "702", "1001", "1201"]
    assert by_building["阳光小区 5号楼"] == ["201"]
    page = client_for(placed.secretary).get(f"/supplies/routes/{plan.pk}/").content.decode()
    assert "101 → 102 → 201 → 702 → 1001 → 1201" in page
    # The map: labels sized to the crop, about 1/28 of its width (≥ 11 px on a 390 px phone).
    box = re.search(r'class="plan routes" viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"', page)
    assert box is not None
    width = float(box.group(3))
    sizes = {float(s) for s in re.findall(r'class="route-label[^"]*" font-size="([\d.]+)"', page)}
    assert sizes and all(width / size <= 30 for size in sizes)
    assert "inf" not in page


def test_old_plans_without_rooms_apart_still_group() -> None:
    stops = [
        {"key": "h1", "label": "3号楼 101室", "building_id": 1},
        {"key": "h2", "label": "3号楼 102室", "building_id": 1},
        {"key": "h3", "label": "5号楼 201室", "building_id": 2},
    ]
    assert [(g.building, g.rooms) for g in leg_stop_groups(stops)] == [("3号楼", ["101", "102"]), ("5号楼", ["201"])]


def test_a_distance_to_a_place_off_the_plan_is_not_shown() -> None:
    from django.template.loader import render_to_string

    from fangzhou.workorders.models import WorkOrder
    from fangzhou.workorders.rules import distance, distance_shown

    assert distance_shown(distance((None, None), (10.0, 20.0))) is None
    assert distance_shown(distance((0.0, 0.0), (30.0, 40.0))) == 50
    order = WorkOrder(pk=1, title="送菜", kind="supply_delivery")
    order.distance_m = math.inf  # type: ignore[attr-defined]
    order.distance_shown = None  # type: ignore[attr-defined]
    assert "inf" not in render_to_string("workorders/_card.html", {"o": order})
    order.distance_shown = 50  # type: ignore[attr-defined]
    assert "50 m" in render_to_string("workorders/_card.html", {"o": order})
