"""Hand-made work orders (endpoint and the board's form) and the committee board as JSON: they work for
the committee and are refused to an outsider (the secretary of another community), an anonymous client
and a volunteer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, Priority, Status, WorkOrder
from fangzhou.workorders.services import work_order_claim, work_order_create

JSON = "application/json"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type=JSON)


def in_hours(hours: float) -> str:
    return (timezone.localtime() + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def body(world: World) -> dict[str, Any]:
    return {
        "community": world.community.code,
        "kind": Kind.DISINFECTION,
        "title": "消毒 3号楼楼道",
        "detail": "阳性住户转运后",
        "priority": Priority.URGENT,
        "due_at": in_hours(3),
        "building_id": world.b3.pk,
        "room": "101",
        "client_id": "c" * 32,
    }


# --- the endpoint ------------------------------------------------------------------------------


def test_committee_creates_an_order_by_hand(world: World, body: dict[str, Any]) -> None:
    sec = client_for(world.secretary)
    answer = post_json(sec, "/api/orders/", body)
    assert answer.status_code == 201
    out = answer.json()
    assert out["title"] == "消毒 3号楼楼道" and out["kind"] == "disinfection" and out["priority"] == 1
    assert out["group"] == "disinfection" and out["status"] == "open" and out["room"] == "101"
    assert out["building"] == world.b3.label
    order = WorkOrder.objects.get(pk=out["id"])
    assert order.created_by == world.secretary and order.community == world.community
    assert order.household == Household.objects.get(building=world.b3, room="101")
    assert order.events.get().to_status == Status.OPEN
    # A retry of the same form (same client id) returns the same order.
    assert post_json(sec, "/api/orders/", body).json()["id"] == out["id"]
    assert WorkOrder.objects.count() == 1
    # The group may be chosen, acute illness jumps the queue, and the community defaults to one's own.
    acute = post_json(
        sec,
        "/api/orders/",
        {"kind": Kind.MEDICAL_ESCORT, "title": "送医", "group": "patrol", "acute": True},
    ).json()
    assert acute["priority"] == Priority.EMERGENCY and acute["group"] == "patrol" and acute["emergency_reason"]
    assert WorkOrder.objects.get(pk=acute["id"]).community == world.community


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "cooking"}, "kind of job"),
        ({"title": "   "}, "enter a title"),
        ({"priority": 9}, "priority"),
        ({"group": "choir"}, "work group"),
        ({"due_at": in_hours(-5)}, "in the past"),
        ({"room": "999"}, "no room 999"),
        ({"building_id": None}, "choose a building before the room"),
        ({"household_id": -1}, "household is not in the chosen building"),
    ],
)
def test_bad_input_is_a_clear_400(world: World, body: dict[str, Any], change: dict[str, Any], words: str) -> None:
    answer = post_json(client_for(world.secretary), "/api/orders/", {**body, **change})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert words in detail and " / " in detail  # Chinese / English
    assert not WorkOrder.objects.exists()


def test_places_of_another_community_are_refused(world: World, body: dict[str, Any]) -> None:
    sec = client_for(world.secretary)
    foreign = post_json(sec, "/api/orders/", {**body, "building_id": world.other_building.pk, "room": ""})
    assert foreign.status_code == 400 and "not in this community" in foreign.json()["detail"]
    household = Household.objects.get(building=world.other_building)
    stolen = post_json(sec, "/api/orders/", {**body, "building_id": None, "room": "", "household_id": household.pk})
    assert stolen.status_code == 400
    assert post_json(sec, "/api/orders/", {**body, "community": world.other.code}).status_code == 404
    assert not WorkOrder.objects.exists()


def test_outsiders_anonymous_and_volunteers_cannot_create(world: World, body: dict[str, Any]) -> None:
    assert post_json(client_for(world.outsider), "/api/orders/", body).status_code == 404
    anonymous = post_json(Client(), "/api/orders/", body)
    assert anonymous.status_code == 401
    volunteer = approved(world.community, "甲", "13811113301", groups=("disinfection",))
    for user in (volunteer.user, world.leader, world.officer):
        refused = post_json(client_for(user), "/api/orders/", body)
        assert refused.status_code == 403 and "only the committee" in refused.json()["detail"]
    assert not WorkOrder.objects.exists()
    # The outsider makes orders in their own community only.
    own = post_json(client_for(world.outsider), "/api/orders/", {**body, "community": None, "building_id": None})
    assert own.status_code == 400  # a room without a building
    own = post_json(
        client_for(world.outsider),
        "/api/orders/",
        {"kind": Kind.PATROL, "title": "巡逻", "building_id": world.other_building.pk},
    )
    assert own.status_code == 201 and WorkOrder.objects.get().community == world.other


# --- the board as JSON -------------------------------------------------------------------------


@pytest.fixture
def busy(world: World, settings: Any) -> dict[str, Any]:
    settings.FANGZHOU_OVERLOAD_ORDERS = 2
    worker = approved(world.community, "甲", "13811113311", groups=("supplies",))
    idle = approved(world.community, "乙", "13811113312", groups=("supplies",))
    for n in range(3):
        order, _created = work_order_create(
            community=world.community, kind=Kind.SUPPLY_DELIVERY, title=f"送菜{n}", actor=None
        )
        work_order_claim(order_id=order.pk, actor=worker.user)
    one, _created = work_order_create(community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜乙", actor=None)
    work_order_claim(order_id=one.pk, actor=idle.user)
    late, _created = work_order_create(
        community=world.community,
        kind=Kind.DISINFECTION,
        title="过期消毒",
        actor=None,
        due_at=timezone.now() - dt.timedelta(hours=1),
    )
    urgent, _created = work_order_create(
        community=world.community, kind=Kind.RETEST, title="上门复检", actor=None, priority=Priority.EMERGENCY
    )
    work_order_create(community=world.other, kind=Kind.RETEST, title="外区", actor=None)
    return {"worker": worker, "idle": idle, "late": late, "urgent": urgent}


def test_board_json_for_the_committee(world: World, busy: dict[str, Any]) -> None:
    url = f"/api/orders/board/{world.community.code}"
    board = client_for(world.secretary).get(url).json()
    assert board["community"] == world.community.code
    assert board["open_total"] == 6  # four claimed + two open; the other community's is not counted
    assert {k["key"]: k["open"] for k in board["by_kind"]} == {"disinfection": 1, "retest": 1}
    assert {p["key"]: p["open"] for p in board["by_priority"]} == {"0": 1, "2": 5}
    assert sum(a["open"] for a in board["by_age"]) == 6 and board["by_age"][0]["label"] == "< 2 h"
    assert [o["title"] for o in board["overdue"]] == ["过期消毒"]
    assert [o["title"] for o in board["oldest_open"]] == ["上门复检", "过期消毒"]  # emergency first
    assert board["overloaded"] == [{"user_id": busy["worker"].user.pk, "name": "甲", "orders": 3}]
    # The subdistrict officer reads the board too.
    assert client_for(world.officer).get(url).json()["open_total"] == 6


def test_board_json_is_refused_to_others(world: World, busy: dict[str, Any]) -> None:
    url = f"/api/orders/board/{world.community.code}"
    assert client_for(world.outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 401
    for user in (busy["worker"].user, world.leader):
        refused = client_for(user).get(url)
        assert refused.status_code == 403 and "only the committee" in refused.json()["detail"]
    assert client_for(world.outsider).get(f"/api/orders/board/{world.other.code}").json()["open_total"] == 1


# --- the page: a form on the committee board ---------------------------------------------------


def form(world: World, **change: str) -> dict[str, str]:
    data = {
        "c": world.community.code,
        "client_id": "f" * 32,
        "title": "给 101 送药",
        "kind": Kind.MEDICINE,
        "priority": str(Priority.URGENT),
        "due_at": in_hours(2),
        "group": "",
        "building": str(world.b3.pk),
        "room": "101",
        "detail": "降压药",
    }
    data.update(change)
    return data


def test_committee_creates_an_order_on_the_board(world: World) -> None:
    sec = client_for(world.secretary)
    page = sec.get("/orders/").content.decode()
    assert 'id="new-order"' in page and 'name="title"' in page and 'type="datetime-local"' in page
    assert world.b3.label in page and world.other_building.label not in page
    answer = sec.post("/orders/new/", form(world))
    order = WorkOrder.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/orders/{order.pk}/"
    assert order.kind == Kind.MEDICINE and order.group == "medical" and order.priority == Priority.URGENT
    assert order.household == Household.objects.get(building=world.b3, room="101")
    assert order.due_at is not None and order.due_at > timezone.now()
    detail = sec.get(answer["Location"]).content.decode()
    assert "给 101 送药" in detail
    # A double tap (same form id) makes one order.
    sec.post("/orders/new/", form(world))
    assert WorkOrder.objects.count() == 1
    assert "给 101 送药" in sec.get("/orders/").content.decode()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"room": "909"}, "no room 909"),
        ({"title": ""}, "enter a title"),
        ({"due_at": "tomorrow"}, "invalid input"),
        ({"priority": "x"}, "invalid input"),
        ({"building": "abc"}, "choose from the list"),
        ({"building": "999999"}, "not in this community"),
    ],
)
def test_bad_form_input_says_why_on_the_page(world: World, change: dict[str, str], words: str) -> None:
    answer = client_for(world.secretary).post("/orders/new/", form(world, **change))
    assert answer.status_code == 400
    page = answer.content.decode()
    assert words in page and 'role="alert"' in page
    assert "降压药" in page  # what was typed is kept
    assert not WorkOrder.objects.exists()


def test_the_form_is_refused_to_others(world: World) -> None:
    assert client_for(world.outsider).post("/orders/new/", form(world)).status_code == 404
    anonymous = Client().post("/orders/new/", form(world))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    volunteer = approved(world.community, "甲", "13811113321", groups=("medical",))
    volunteer_client = client_for(volunteer.user)
    assert volunteer_client.post("/orders/new/", form(world)).status_code == 403
    assert 'id="new-order"' not in volunteer_client.get("/orders/").content.decode()
    assert client_for(world.leader).post("/orders/new/", form(world)).status_code == 403
    # The subdistrict officer sees the board but not the form, and cannot post it.
    officer = client_for(world.officer)
    board = officer.get(f"/orders/?c={world.community.code}")
    assert board.status_code == 200 and 'id="new-order"' not in board.content.decode()
    assert officer.post("/orders/new/", form(world)).status_code == 404
    assert not WorkOrder.objects.exists()
