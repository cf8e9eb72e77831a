"""Supplies from allocation to every door, through the pages and the services."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import PASSWORD, World
from fangzhou.supplies import selectors, services
from fangzhou.supplies.models import Delivery, DeliveryStatus, Distribution, PlanStatus, RoutePlan
from fangzhou.supplies.tests.conftest import seal_b5
from fangzhou.workorders.models import WorkOrder
from fangzhou.zones.routing import RoadGraph
from fangzhou.zones.selectors import building_is_sealed
from fangzhou.zones.sitegraph import community_road_graph, community_site_graph, walk_order

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def government(world: World, scaling: str = "per_household") -> Distribution:
    return services.distribution_create(
        community=world.community,
        name="政府包1",
        kind="government",
        on=dt.date(2022, 4, 20),
        package={"大米": 1, "食用油": 1},
        scaling=scaling,
        actor=world.secretary,
    )


class TestDistributionThroughThePages:
    def test_allocation_to_all_doors_delivered(self, placed: World) -> None:
        world = placed
        sec = client_for(world.secretary)
        response = sec.post(
            f"/supplies/c/{world.community.code}/",
            {
                "name": "第一批政府包",
                "kind": "government",
                "on": "2022-04-20",
                "package": "大米:1, 食用油：2",
                "scaling": "per_household",
            },
        )
        assert response.status_code == 302
        dist = Distribution.objects.get(name="第一批政府包")
        assert dist.package == {"大米": 1, "食用油": 2}
        assert sec.post(f"/supplies/d/{dist.pk}/allocate/").status_code == 302
        assert sec.post(f"/supplies/d/{dist.pk}/allocate/").status_code == 302  # twice: still one per door
        assert Delivery.objects.filter(distribution=dist).count() == 3
        page = sec.get(f"/supplies/d/{dist.pk}/").content.decode()
        assert "0/2" in page and "0/1" in page and "all-delivered" not in page
        # The building-5 list goes to the volunteer; the leader of building 3 takes building 3.
        sec.post(f"/supplies/d/{dist.pk}/assign/", {"building": world.b5.pk, "volunteer": world.volunteer.pk})
        vol, leader = client_for(world.volunteer), client_for(world.leader)
        for client, building in ((leader, world.b3), (vol, world.b5)):
            page = client.get(f"/supplies/d/{dist.pk}/b/{building.pk}/").content.decode()
            ids = re.findall(r'id="door(\d+)"', page)
            assert ids
            for delivery_id in ids:
                r = client.post(f"/supplies/delivery/{delivery_id}/mark/", HTTP_HX_REQUEST="true")
                assert r.status_code == 200 and "✓" in r.content.decode()
        page = sec.get(f"/supplies/d/{dist.pk}/").content.decode()
        assert "all-delivered" in page and "2/2" in page and "1/1" in page
        assert set(Delivery.objects.filter(distribution=dist).values_list("status", flat=True)) == {"delivered"}
        assert AuditLog.objects.filter(action="delivery.mark").count() == 3

    def test_bad_input_is_a_clear_message(self, placed: World) -> None:
        sec = client_for(placed.secretary)
        r = sec.post(f"/supplies/c/{placed.community.code}/", {"name": "x", "kind": "government", "package": "大米"})
        assert r.status_code == 400 and "物品:数量" in r.content.decode()
        r = sec.post(f"/supplies/c/{placed.community.code}/", {"name": "x", "kind": "government", "package": ""})
        assert r.status_code == 400 and "at least one item" in r.content.decode()


class TestAllocation:
    def test_scaled_by_household_size(self, placed: World) -> None:
        dist = government(placed, "by_size")
        services.distribution_allocate(distribution=dist, actor=None)
        rice = {
            d.household.room: {line.item: line.quantity for line in d.lines.all()}["大米"]
            for d in Delivery.objects.filter(distribution=dist).select_related("household")
        }
        assert rice == {"101": 2, "102": 1, "201": 1}

    def test_one_per_household_and_idempotent(self, placed: World) -> None:
        dist = government(placed)
        first = services.distribution_allocate(distribution=dist, actor=None)
        again = services.distribution_allocate(distribution=dist, actor=None)
        assert (first.created, again.created, again.unchanged) == (3, 0, 3)
        progress = selectors.distribution_progress(placed.secretary, dist)
        assert progress.items == {"大米": 3, "食用油": 3}


def order_sheet(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["楼号", "室号", "商品", "数量"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class TestGroupPurchase:
    def test_import_reports_bad_rows_and_reimport_changes_nothing(self, placed: World) -> None:
        dist = services.distribution_create(
            community=placed.community, name="团购牛奶", kind="group_purchase", on=dt.date(2022, 4, 20), actor=None
        )
        data = order_sheet(
            [
                ["3号楼", "101", "牛奶", 2],
                ["3", "101", "牛奶", 1],  # same door and item: added up
                ["3", 102, "鸡蛋", 1],
                ["5号楼", "201", "牛奶", 3],
                ["9", "101", "牛奶", 1],  # no building 9
                ["3", "999", "牛奶", 1],  # no room
                ["5", "201", "面包", "两"],  # not a number
                ["5", "201", "", 1],  # no item
            ]
        )
        report = services.group_purchase_import(distribution=dist, actor=None, data=data, filename="o.xlsx")
        assert [(r["row"], r["column"]) for r in report.rejected] == [
            (6, "楼号"),
            (7, "室号"),
            (8, "数量"),
            (9, "商品"),
        ]
        assert report.created == 3
        again = services.group_purchase_import(distribution=dist, actor=None, data=data, filename="o.xlsx")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        progress = selectors.distribution_progress(placed.secretary, dist)
        assert progress.items == {"牛奶": 6, "鸡蛋": 1}
        per_building = {b.label: b.total for b in progress.buildings}
        assert per_building == {"3号楼": 2, "5号楼": 1}

    def test_order_entered_per_household_on_the_page(self, placed: World) -> None:
        dist = services.distribution_create(
            community=placed.community, name="团购", kind="group_purchase", on=dt.date(2022, 4, 20), actor=None
        )
        sec = client_for(placed.secretary)
        sec.post(f"/supplies/d/{dist.pk}/order/", {"building": "3", "room": "102", "items": "牛奶:2, 鸡蛋 1"})
        delivery = Delivery.objects.get(distribution=dist)
        assert {line.item: line.quantity for line in delivery.lines.all()} == {"牛奶": 2, "鸡蛋": 1}
        r = sec.post(f"/supplies/d/{dist.pk}/import/", {"file": SimpleUploadedFile("x.xlsx", b"not a sheet")})
        assert r.status_code == 302


class TestMarking:
    def test_sealed_building_is_contactless_with_photo_and_idempotent(self, placed: World) -> None:
        seal_b5(placed)
        assert building_is_sealed(placed.b5, timezone.localdate())
        dist = government(placed)
        services.distribution_allocate(distribution=dist, actor=None)
        delivery = Delivery.objects.get(distribution=dist, building=placed.b5, household__room="201")
        page = client_for(placed.secretary).get(f"/supplies/d/{dist.pk}/b/{placed.b5.pk}/").content.decode()
        assert 'name="photo"' in page
        # A word on the photo button, not a picture a phone without an emoji font shows as a box.
        assert '">拍照<input type="file" name="photo"' in page and "📷" not in page
        photo = SimpleUploadedFile("door.jpg", b"\xff\xd8\xff" + b"0" * 100, content_type="image/jpeg")
        r = client_for(placed.secretary).post(f"/supplies/delivery/{delivery.pk}/mark/", {"photo": photo})
        assert r.status_code == 302
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.LEFT_AT_DOOR and delivery.photo
        page = client_for(placed.secretary).get(f"/supplies/d/{dist.pk}/b/{placed.b5.pk}/").content.decode()
        assert "有照片" in page and "📷" not in page
        first_at = delivery.delivered_at
        services.delivery_mark(delivery_id=delivery.pk, actor=placed.secretary)
        delivery.refresh_from_db()
        assert delivery.delivered_at == first_at
        assert AuditLog.objects.filter(action="delivery.mark", target_id=str(delivery.pk)).count() == 1

    def test_undelivered_doors_become_work_orders_once(self, placed: World) -> None:
        dist = government(placed)
        services.distribution_allocate(distribution=dist, actor=None)
        services.delivery_mark(
            delivery_id=Delivery.objects.get(distribution=dist, household__room="101").pk, actor=placed.secretary
        )
        r = client_for(placed.secretary).post(f"/supplies/d/{dist.pk}/sweep/")
        assert r.status_code == 302
        orders = WorkOrder.objects.filter(kind="supply_delivery")
        assert sorted(o.household.room for o in orders) == ["102", "201"]
        report = services.deliveries_sweep(distribution=dist, actor=None)
        assert (report.orders, report.created) == (2, 0)
        assert WorkOrder.objects.filter(kind="supply_delivery").count() == 2

    def test_lists_as_pdf_and_excel(self, placed: World) -> None:
        dist = government(placed)
        services.distribution_allocate(distribution=dist, actor=None)
        client = client_for(placed.leader)
        pdf = client.get(f"/supplies/d/{dist.pk}/b/{placed.b3.pk}/list.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        xlsx = client.get(f"/supplies/d/{dist.pk}/b/{placed.b3.pk}/list.xlsx")
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert rows[1][:3] == ["室号 Room", "大米", "食用油"]
        assert [r[0] for r in rows[2:4]] == ["101", "102"]
        assert rows[-1][1] == 2


class TestRoutes:
    def test_road_graph_from_buildings(self, placed: World) -> None:
        graph = community_road_graph(placed.community)
        assert isinstance(graph, RoadGraph)
        site = community_site_graph(placed.community)
        assert set(site.entrances) == {placed.b3.pk, placed.b5.pk} and site.gates

    def test_routes_planned_and_drawn(self, placed: World, django_capture_on_commit_callbacks: Any) -> None:
        dist = government(placed)
        services.distribution_allocate(distribution=dist, actor=None)
        v2 = user_upsert(username="vol2", password=PASSWORD, role=Role.VOLUNTEER, community=placed.community)
        sec = client_for(placed.secretary)
        with django_capture_on_commit_callbacks(execute=True):
            r = sec.post(
                f"/supplies/c/{placed.community.code}/routes/",
                {
                    "buildings": [placed.b3.pk, placed.b5.pk],
                    "volunteers": [placed.volunteer.pk, v2.pk],
                    "capacity": "2",
                    "distribution": dist.pk,
                },
            )
        assert r.status_code == 302
        plan = RoutePlan.objects.get()
        assert plan.status == PlanStatus.DONE and plan.solve_time_s > 0  # how fast is bench/routes_demo's business
        legs = list(plan.legs.all())
        served = sorted(s["label"] for leg in legs for s in leg.stops)
        assert served == ["阳光小区 3号楼 101室", "阳光小区 3号楼 102室", "阳光小区 5号楼 201室"]
        assert all(leg.load <= 2 for leg in legs) and len(legs) >= 2
        page = sec.get(f"/supplies/routes/{plan.pk}/").content.decode()
        assert page.count("<polyline") == len(legs) and '<b>阳光小区 5号楼</b> <span class="rooms">201</span>' in page
        # Each volunteer sees only their own trips.
        mine = client_for(placed.volunteer).get(f"/supplies/routes/{plan.pk}/").content.decode()
        own = [leg for leg in legs if leg.volunteer_id == placed.volunteer.pk]
        assert mine.count("<polyline") == len(own)

    def test_walk_order_for_others(self, placed: World) -> None:
        households = list(Household.objects.filter(building__community=placed.community).order_by("-room"))
        ordered = walk_order(placed.community, households)
        assert sorted(h.pk for h in ordered) == sorted(h.pk for h in households)
        # The two doors of building 3 are next to each other on the walk.
        rooms = [h.room for h in ordered]
        assert abs(rooms.index("101") - rooms.index("102")) == 1


@pytest.mark.django_db
def test_group_purchase_rejected_rows_come_back_to_fix(world: World) -> None:
    dist = services.distribution_create(
        community=world.community,
        kind="group_purchase",
        name="蔬菜团购",
        on=timezone.localdate(),
        actor=world.secretary,
    )
    client = Client()
    client.force_login(world.secretary)
    data = "楼号,室号,商品,数量\n3,101,蔬菜包,1\n3,999,蔬菜包,1\n".encode()
    client.post(f"/supplies/d/{dist.pk}/import/", {"file": SimpleUploadedFile("o.csv", data)})
    assert 'id="rejected-download"' in client.get(f"/supplies/d/{dist.pk}/").content.decode()
    response = client.get(f"/supplies/d/{dist.pk}/import/rejected.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert len(rows) == 2 and str(rows[1][1]) == "999" and rows[1][-1]  # the one rejected row, with its reason
    other = Client()
    other.force_login(world.outsider)
    assert other.get(f"/supplies/d/{dist.pk}/import/rejected.xlsx").status_code in (403, 404)
