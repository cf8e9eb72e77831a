"""One door, one task: the re-tests of two members of one household are one card in the volunteer's
queue; one tap claims both, one tap starts and finishes both, and each order keeps its own claim,
event, audit row and cause (a member's re-test coming back closes only that member's order)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import AuditLog
from fangzhou.registry.tests.factories import World
from fangzhou.testing.services import retest_open
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders import rules
from fangzhou.workorders.models import Kind, Status, WorkOrder
from fangzhou.workorders.services import work_order_claim, work_order_create, work_orders_close_in_transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def door(world: World) -> dict[str, Any]:
    """3号楼 101 (张伟, 李娜) both on the re-test list; 102 (王秀英) too; a household check of 101."""
    volunteer = approved(world.community, "甲", "13811110101", groups=("testing",))
    orders = {}
    for name in ("张伟", "李娜", "王秀英"):
        retest, _ = retest_open(resident=world.resident(name), reason="antigen_positive", actor=None, key="t1")
        orders[name] = retest.work_order
    check, _ = work_order_create(
        community=world.community,
        kind=Kind.HOUSEHOLD_CHECK,
        title="上门看看",
        actor=None,
        household=world.resident("张伟").household,
    )
    return {"volunteer": volunteer, "orders": orders, "check": check}


def daily_visits(world: World, resident: Any, days: tuple[int, ...]) -> list[WorkOrder]:
    """A re-test at ``resident``'s door due at 10:00 on each of ``days`` (0: today), like a close
    contact's daily tests."""
    today = timezone.localdate()
    orders = []
    for i in days:
        order, _ = work_order_create(
            community=world.community,
            kind=Kind.RETEST,
            title=f"day {i + 1}",
            actor=None,
            household=resident.household,
            resident=resident,
            due_at=timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=i), dt.time(10))),
            source_key=f"visit-{resident.pk}-{i}",
        )
        orders.append(order)
    return orders


def cards(html: str) -> list[str]:
    return re.findall(r'<article class="order card[^"]*" id="o(\d+)"', html)


def test_the_queue_shows_one_task_per_door_and_one_tap_claims_it(world: World, door: dict[str, Any]) -> None:
    user = door["volunteer"].user
    client = Client()
    client.force_login(user)
    page = client.get("/orders/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    zhang, li, wang = (door["orders"][n] for n in ("张伟", "李娜", "王秀英"))
    nearby = page[page.index('id="nearby"') :]
    # 101's two re-tests are one card listing both; 102 is its own card; the household check (another
    # purpose, another group) is not in this volunteer's groups
    assert sorted(cards(nearby)) == sorted([str(zhang.pk), str(wang.pk)])
    card_101 = nearby[nearby.index(f'id="o{zhang.pk}"') : nearby.index("</article>", nearby.index(f'id="o{zhang.pk}"'))]
    assert "张伟" in card_101 and "李娜" in card_101 and "一户" in card_101
    assert 'name="door" value="1"' in card_101

    answer = client.post(f"/orders/{zhang.pk}/claim/", {"door": "1"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert {o.status for o in WorkOrder.objects.filter(pk__in=[zhang.pk, li.pk])} == {Status.CLAIMED}
    assert WorkOrder.objects.get(pk=wang.pk).status == Status.OPEN  # another door
    assert "李娜" in answer.content.decode()  # the card after the tap still lists the door
    # each order is claimed and audited on its own
    assert AuditLog.objects.filter(action="work_order.claim", target_id__in=[str(zhang.pk), str(li.pk)]).count() == 2
    # a replay (the outbox sending the tap again) changes nothing
    client.post(f"/orders/{zhang.pk}/claim/", {"door": "1"}, HTTP_HX_REQUEST="true")
    assert AuditLog.objects.filter(action="work_order.claim", target_id__in=[str(zhang.pk), str(li.pk)]).count() == 2

    mine = client.get("/orders/").content.decode()
    assert cards(mine[mine.index('id="mine"') : mine.index('id="nearby"')]) == [str(zhang.pk)]

    client.post(f"/orders/{zhang.pk}/start/", {"door": "1"}, HTTP_HX_REQUEST="true")
    assert {o.status for o in WorkOrder.objects.filter(pk__in=[zhang.pk, li.pk])} == {Status.IN_PROGRESS}
    # 李娜's re-test comes back first: only her order closes; the door task goes on with 张伟
    work_orders_close_in_transaction(order_ids=[li.pk], reason="retest_negative", outcome="done", actor=None)
    client.post(f"/orders/{zhang.pk}/done/", {"door": "1", "note": "两人已采"}, HTTP_HX_REQUEST="true")
    zhang.refresh_from_db()
    li.refresh_from_db()
    assert zhang.status == Status.DONE and zhang.completion_note == "两人已采"
    assert li.status == Status.DONE and li.close_reason == "retest_negative"


def test_a_sibling_someone_else_took_stays_theirs(world: World, door: dict[str, Any]) -> None:
    zhang, li = door["orders"]["张伟"], door["orders"]["李娜"]
    other = approved(world.community, "乙", "13811110102", groups=("testing",))
    assert other.user is not None
    work_order_claim(order_id=li.pk, actor=other.user)
    client = Client()
    client.force_login(door["volunteer"].user)
    client.post(f"/orders/{zhang.pk}/claim/", {"door": "1"})
    assert WorkOrder.objects.get(pk=zhang.pk).assignee_id == door["volunteer"].user.pk
    assert WorkOrder.objects.get(pk=li.pk).assignee_id == other.user.pk


def test_door_grouping_is_by_household_purpose_and_holder() -> None:
    items = [
        ("a", rules.door_key(kind="retest", household_id=1, status="open", assignee_id=None)),
        ("b", rules.door_key(kind="retest", household_id=2, status="open", assignee_id=None)),
        ("c", rules.door_key(kind="retest", household_id=1, status="open", assignee_id=None)),
        ("d", rules.door_key(kind="resident_request", household_id=1, status="open", assignee_id=None)),
        ("e", rules.door_key(kind="resident_request", household_id=1, status="open", assignee_id=None)),
        ("f", rules.door_key(kind="retest", household_id=1, status="claimed", assignee_id=7)),
        ("g", rules.door_key(kind="retest", household_id=1, status="in_progress", assignee_id=7)),
        ("h", rules.door_key(kind="retest", household_id=None, status="open", assignee_id=None)),
    ]
    groups = rules.group_by_door(items, lambda item: item[1])
    assert [[name for name, _ in g] for g in groups] == [["a", "c"], ["b"], ["d"], ["e"], ["f", "g"], ["h"]]


def test_orders_due_on_different_days_are_different_knocks() -> None:
    monday, tuesday = dt.date(2022, 4, 4), dt.date(2022, 4, 5)
    items = [
        ("day1", rules.door_key(kind="retest", household_id=1, status="open", assignee_id=None, due_day=monday)),
        ("day2", rules.door_key(kind="retest", household_id=1, status="open", assignee_id=None, due_day=tuesday)),
        ("wife", rules.door_key(kind="retest", household_id=1, status="open", assignee_id=None, due_day=monday)),
    ]
    groups = rules.group_by_door(items, lambda item: item[1])
    assert [[name for name, _ in g] for g in groups] == [["day1", "wife"], ["day2"]]


def test_a_contacts_daily_tests_are_one_card_a_day_and_one_tap_takes_only_that_day(world: World) -> None:
    """A close contact at home is tested at the door every day for a week: seven visits. The queue
    shows seven cards (not "one door, 7 people"), and claiming the first day's leaves the others open."""
    volunteer = approved(world.community, "丙", "13811110103", groups=("testing",))
    resident = world.resident("王秀英")
    orders = daily_visits(world, resident, (0, 1))
    client = Client()
    client.force_login(volunteer.user)
    page = client.get("/orders/").content.decode()
    nearby = page[page.index('id="nearby"') :]
    assert {str(o.pk) for o in orders} <= set(cards(nearby))
    assert "2 people" not in page and "2 人" not in page
    client.post(f"/orders/{orders[0].pk}/claim/", {"door": "1"}, HTTP_HX_REQUEST="true")
    assert [WorkOrder.objects.get(pk=o.pk).status for o in orders] == [Status.CLAIMED, Status.OPEN]


def test_the_api_answers_one_task_per_door_too(world: World, door: dict[str, Any]) -> None:
    """What the phone's queue shows, a client of the API reads the same way: one item a door, the
    door's other orders named by id, in the nearby list, the caller's own queue and one order's detail."""
    zhang, li, wang = (door["orders"][n] for n in ("张伟", "李娜", "王秀英"))
    client = Client()
    client.force_login(door["volunteer"].user)
    nearby = {item["id"]: item["door_orders"] for item in client.get("/api/orders/nearby").json()["items"]}
    assert nearby == {zhang.pk: [li.pk], wang.pk: []}
    assert client.get(f"/api/orders/{li.pk}").json()["door_orders"] == [zhang.pk]

    client.post(f"/orders/{zhang.pk}/claim/", {"door": "1"})
    mine = client.get("/api/orders/?mine=true&by_door=true").json()
    assert [(item["id"], item["door_orders"]) for item in mine["items"]] == [(zhang.pk, [li.pk])]
    assert mine["count"] == 1
    # one item an order without by_door, as before
    assert sorted(item["id"] for item in client.get("/api/orders/?mine=true").json()["items"]) == sorted(
        [zhang.pk, li.pk]
    )

    refused = client.get("/api/orders/?by_door=true")
    assert refused.status_code == 400
    assert "mine=true" in refused.json()["en"] and "按门分组" in refused.json()["zh"]
    # someone outside the community sees neither the orders nor the door
    outsider = Client()
    outsider.force_login(world.outsider)
    assert outsider.get(f"/api/orders/{zhang.pk}").status_code == 404
    assert outsider.get("/api/orders/?mine=true&by_door=true").json()["items"] == []


def test_a_visit_planned_for_a_later_day_waits_for_its_day(world: World) -> None:
    """Today's list holds the contact's tests of today and tomorrow; day 5's appears on day 5."""
    volunteer = approved(world.community, "丁", "13811110104", groups=("testing",))
    resident = world.resident("王秀英")
    ids = [str(o.pk) for o in daily_visits(world, resident, (0, 1, 4))]
    client = Client()
    client.force_login(volunteer.user)
    page = client.get("/orders/").content.decode()
    shown = set(cards(page[page.index('id="nearby"') :]))
    assert ids[0] in shown and ids[1] in shown and ids[2] not in shown
    assert "到当天再显示" in page
