"""Pages and endpoints of the queue: what a volunteer, the committee, a resident and an outsider see."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, ResidentRequest, Status, WorkOrder
from fangzhou.workorders.services import resident_request_submit, work_order_claim, work_order_create


@pytest.fixture
def orders(world: World) -> dict[str, Any]:
    """Two volunteers in supplies, one in patrol; one order each kind; one in the other community."""
    from fangzhou.registry.services import PlacedBuilding, site_plan_apply

    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 40, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 40, 280, 40, 12, 6, []),
        ],
    )
    a = approved(world.community, "甲", "13811110101", groups=("supplies",), building=world.b3)
    b = approved(world.community, "乙", "13811110102", groups=("supplies",))
    c = approved(world.community, "丙", "13811110103", groups=("patrol",))
    supply, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜 5号楼", actor=None, building=world.b5
    )
    near, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜 3号楼", actor=None, building=world.b3
    )
    patrol, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    taken, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="乙的单", actor=None, building=world.b5
    )
    assert b.user is not None
    work_order_claim(order_id=taken.pk, actor=b.user)
    foreign, _created = work_order_create(community=world.other, kind=Kind.SUPPLY_DELIVERY, title="外区", actor=None)
    return {
        "a": a,
        "b": b,
        "c": c,
        "supply": supply,
        "near": near,
        "patrol": patrol,
        "taken": taken,
        "foreign": foreign,
    }


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_volunteer_sees_own_and_open_orders_of_their_groups_only(world: World, orders: dict[str, Any]) -> None:
    a = client_for(orders["a"].user)
    page = a.get("/orders/").content.decode()
    assert "送菜 5号楼" in page and "送菜 3号楼" in page
    assert "巡逻" not in page and "乙的单" not in page and "外区" not in page
    # Nearest to the volunteer's building first (same priority).
    assert page.index("送菜 3号楼") < page.index("送菜 5号楼")
    api = json.loads(a.get("/api/orders/").content)["items"]
    assert {o["title"] for o in api} == {"送菜 5号楼", "送菜 3号楼"}
    for key in ("patrol", "taken", "foreign"):
        assert a.get(f"/orders/{orders[key].pk}/").status_code == 404
        assert a.get(f"/api/orders/{orders[key].pk}").status_code == 404
    for key in ("patrol", "foreign"):
        assert a.post(f"/orders/{orders[key].pk}/claim/").status_code == 404
        assert a.post(f"/api/orders/{orders[key].pk}/claim").status_code == 404
    # An order of their group taken by a colleague: the claim is refused and says who has it.
    assert json.loads(a.post(f"/api/orders/{orders['taken'].pk}/claim").content)["holder"] == "乙"
    # The colleague who holds an order still sees it.
    assert client_for(orders["b"].user).get(f"/orders/{orders['taken'].pk}/").status_code == 200


def test_losing_claimer_is_told_who_won(world: World, orders: dict[str, Any]) -> None:
    a, b = client_for(orders["a"].user), client_for(orders["b"].user)
    order = orders["supply"]
    won = b.post(f"/orders/{order.pk}/claim/", HTTP_HX_REQUEST="true")
    assert won.status_code == 200 and 'class="holder">乙<' in won.content.decode()
    lost = a.post(f"/api/orders/{order.pk}/claim")
    assert lost.status_code == 409 and json.loads(lost.content)["holder"] == "乙"
    # The card on the loser's phone, opened before the claim, says who took it.
    page = a.post(f"/orders/{order.pk}/claim/", HTTP_HX_REQUEST="true")
    assert 'role="alert"' in page.content.decode() and "乙" in page.content.decode()
    # Someone outside the group learns nothing.
    assert client_for(orders["c"].user).post(f"/orders/{order.pk}/claim/").status_code == 404


def test_one_tap_start_and_done_and_only_the_holder_may(world: World, orders: dict[str, Any]) -> None:
    order = orders["taken"]
    a, b = client_for(orders["a"].user), client_for(orders["b"].user)
    assert b.post(f"/orders/{order.pk}/start/", HTTP_HX_REQUEST="true").status_code == 200
    assert a.post(f"/orders/{order.pk}/done/").status_code == 404  # not visible to a
    assert b.post(f"/orders/{order.pk}/cancel/").status_code == 403
    done = b.post(f"/orders/{order.pk}/done/", {"note": "放门口了"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    order.refresh_from_db()
    assert order.status == Status.DONE and order.completion_note == "放门口了"
    history = json.loads(b.get(f"/api/orders/{order.pk}/history").content)["items"]
    assert [e["to_status"] for e in history] == ["open", "claimed", "in_progress", "done"]


def test_committee_board_shows_kinds_and_overloaded(world: World, orders: dict[str, Any], settings: Any) -> None:
    settings.FANGZHOU_OVERLOAD_ORDERS = 1
    page = client_for(world.secretary).get("/orders/").content.decode()
    assert 'id="open-total">4<' in page  # three open + one claimed in this community
    assert "外区" not in page
    assert "乙" in page.split('id="overloaded"')[1].split("</section>")[0]


def test_outsiders_and_anonymous_are_refused_everywhere(world: World, orders: dict[str, Any]) -> None:
    building_tokens_ensure(community=world.community)
    req, _ = resident_request_submit(building=world.b3, kind="food", text="没有菜了", client_id="q" * 32)
    outsider = client_for(world.outsider)
    anonymous = Client()
    pk = orders["supply"].pk
    for url in (f"/orders/{pk}/", f"/api/orders/{pk}", f"/api/orders/{pk}/history"):
        assert outsider.get(url).status_code == 404
        assert anonymous.get(url).status_code in {302, 401}
    for url in (
        f"/orders/{pk}/claim/",
        f"/orders/{pk}/start/",
        f"/api/orders/{pk}/claim",
        f"/orders/requests/{req.pk}/escalate/",
    ):
        assert outsider.post(url).status_code == 404
        assert anonymous.post(url).status_code in {302, 401, 403}
    assert (
        outsider.post(f"/api/orders/requests/{req.pk}/escalate", "{}", content_type="application/json").status_code
        == 404
    )
    assert "没有菜了" not in outsider.get("/orders/requests/").content.decode()
    assert json.loads(outsider.get("/api/orders/requests").content)["items"] == []
    assert (
        "外区" in outsider.get("/orders/").content.decode() and "送菜" not in outsider.get("/orders/").content.decode()
    )
    assert anonymous.get("/orders/").status_code == 302
    assert anonymous.get("/orders/requests/").status_code == 302
    assert anonymous.get("/api/orders/").status_code == 401
    # A volunteer does not see residents' requests at all.
    assert client_for(orders["a"].user).get("/orders/requests/").status_code == 403
    assert WorkOrder.objects.get(pk=pk).status == Status.OPEN


def test_resident_request_from_the_qr_page_and_its_status(world: World) -> None:
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    token = world.b3.public_token
    resident = Client()
    form = resident.get(f"/orders/p/{token}/").content.decode()
    assert "3号楼" in form
    data = {"kind": "medical", "urgency": "0", "text": "老人胸闷气短", "room": "102", "client_id": "r" * 32}
    first = resident.post(f"/orders/p/{token}/", data)
    second = resident.post(f"/orders/p/{token}/", data)  # a double tap
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    req = ResidentRequest.objects.get()
    assert req.order is not None and req.order.priority == 0 and req.order.emergency_reason == "acute_illness"
    status = resident.get(first["Location"]).content.decode()
    assert req.reference in status and 'id="status">' in status
    # The committee sees it; the resident can look it up by reference; another building cannot.
    assert req.reference in client_for(world.secretary).get("/orders/requests/").content.decode()
    assert resident.get(f"/orders/p/{token}/?ref={req.reference}").status_code == 302
    world.b5.refresh_from_db()
    assert resident.get(f"/orders/p/{world.b5.public_token}/r/{req.reference}/").status_code == 404
    assert resident.get("/orders/p/not-a-real-token-000000/").status_code == 404
    api = resident.get(f"/api/orders/public/{token}/requests/{req.reference}")
    assert json.loads(api.content)["status"] == "open"
    bad = resident.post(f"/orders/p/{token}/", {"kind": "food", "text": "", "client_id": "s" * 32})
    assert bad.status_code == 400 and "请写下需要什么帮助" in bad.content.decode()


def test_public_api_submission_is_idempotent(world: World) -> None:
    building_tokens_ensure(community=world.community)
    world.b5.refresh_from_db()
    body = json.dumps({"kind": "food", "text": "需要米面", "client_id": "t" * 32})
    url = f"/api/orders/public/{world.b5.public_token}/requests"
    one = Client().post(url, body, content_type="application/json")
    two = Client().post(url, body, content_type="application/json")
    assert one.status_code == 200 and json.loads(one.content)["reference"] == json.loads(two.content)["reference"]
    assert ResidentRequest.objects.count() == 1
