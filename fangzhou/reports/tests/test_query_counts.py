"""The hot report pages answer in a fixed, small number of queries whatever the size: the
subdistrict table does not grow with the number of communities, the daily report not with the
size of the community, and the work-order queue not with the number of orders."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangzhou.care.models import CareProfile
from fangzhou.care.services import (
    care_escorts_ensure,
    care_registry_sync,
    medicine_request_create,
    treatment_schedule_set,
)
from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.registry.services import community_create, roster_import
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.reports.tests.helpers import busy_day, client_for
from fangzhou.testing.services import antigen_report_submit
from fangzhou.workorders.models import Kind, Priority
from fangzhou.workorders.services import work_order_create
from fangzhou.zones.services import microzone_draw, zone_override_create

pytestmark = pytest.mark.django_db

MAX_QUERIES = 10
# The daily report: session, user, one statement for the access check and every count (cases by
# stage, the round, zone settings, the care count while no profile has a treatment schedule), two
# for the zones, the distributions; the care list (profiles with their schedules, escort orders and
# medicine) when a profile has a schedule. Was 40, then 19.
DAILY_MAX_QUERIES = 10


def _count(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries), [q["sql"] for q in queries.captured_queries]


def _another_community(world: World, n: int) -> Community:
    """A further community of the officer's subdistrict, with residents, a case, a micro-zone and
    antigen reports, so that every figure of its row has something to count."""
    code = f"T1{n}"
    community = community_create(code=code, name=f"加测{n}居民区", subdistrict_name=world.community.subdistrict.name)
    born = dt.date(1970, 3, 4)
    rows = [
        [
            f"{n}号小区",
            str(b),
            str(100 + r),
            f"居民{chr(0x4E00 + n * 40 + b * 5 + r)}",
            make_id("310106", born, n * 50 + b * 5 + r, True),
            f"1380000{n:02d}{b}{r}",
            "",
            "",
        ]
        for b in range(1, 4)
        for r in range(1, 4)
    ]
    roster_import(community=community, actor=None, sheet=roster_sheet(rows), filename=f"{code}.xlsx")
    today = timezone.localdate()
    first = Resident.objects.filter(community=community).order_by("id").first()
    assert first is not None
    case_confirm(resident=first, report_date=today, source="staff", actor=world.secretary)
    building = Building.objects.filter(community=community).order_by("id").first()
    assert building is not None
    microzone_draw(
        compound=building.compound,
        name="封控楼",
        building_ids=[building.pk],
        drawn_on=today,
        actor=None,
        accept_cut_off=True,
    )
    antigen_report_submit(
        household=first.household,
        day=today,
        results={first.pk: "negative"},
        client_id=uuid.uuid4().hex,
    )
    return community


def _block_and_dialysis(world: World) -> None:
    """A micro-zone around building 5, and special care with a daily dialysis schedule whose
    sessions fall in the next 48 hours."""
    building = Building.objects.get(community=world.community, number="5")
    microzone_draw(
        compound=building.compound,
        name="五号楼",
        building_ids=[building.pk],
        drawn_on=timezone.localdate(),
        actor=None,
        accept_cut_off=True,
    )
    care_registry_sync(community=world.community, actor=None)
    profile = CareProfile.objects.get(resident__name="刘洋")
    treatment_schedule_set(
        profile_id=profile.pk, actor=None, kind="dialysis", weekdays="1,2,3,4,5,6,7", at=dt.time(8), hospital="瑞金医院"
    )


class TestSubdistrictTable:
    def test_constant_in_the_number_of_communities(self, world: World) -> None:
        busy_day(world)
        officer = client_for(world.officer)
        urls = ["/reports/", "/api/reports/subdistrict"]
        one = [_count(officer, u) for u in urls]
        for n in range(1, 3):
            _another_community(world, n)
        three = [_count(officer, u) for u in urls]
        table = officer.get("/api/reports/subdistrict").json()["communities"]
        assert len(table) == 3
        for (small, _), (large, sql) in zip(one, three, strict=True):
            assert large == small and large <= MAX_QUERIES, "\n".join(sql)


class TestDailyReport:
    def test_bounded_for_a_small_and_a_bigger_community(self, world: World) -> None:
        busy_day(world)
        client = client_for(world.secretary)
        urls = ["/reports/c/T01/", "/api/reports/communities/T01/daily"]
        small = [_count(client, u) for u in urls]
        more = [["阳光小区", "3", str(300 + n), f"新住户{chr(0x4E00 + n)}", "", "", "", ""] for n in range(20)]
        more += [["新建小区", str(n), "101", f"新区户{chr(0x5000 + n)}", "", "", "", ""] for n in range(5)]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
        _block_and_dialysis(world)
        large = [_count(client, u) for u in urls]
        for n_large, sql in large:
            assert n_large <= DAILY_MAX_QUERIES, "\n".join(sql)
        assert large[0][0] - small[0][0] <= 2  # the care list (once a schedule exists), not the size

    def test_the_overview_with_its_figures_is_bounded(self, world: World) -> None:
        busy_day(world)
        client = client_for(world.secretary)
        # Once per connection, Django's SQLite backend asks whether JSON is supported (three statements).
        client.get("/c/T01/")
        small, small_sql = _count(client, "/c/T01/")
        # With everything its panels read: a micro-zone and an override (the zone plan), treatment
        # sessions with an escort order and open medicine (the at-risk list).
        _block_and_dialysis(world)
        zone_override_create(
            community=world.community,
            compound=world.b3.compound,
            status="sealed",
            reason="上级要求",
            until=timezone.localdate() + dt.timedelta(days=3),
            actor=world.secretary,
            since=timezone.localdate(),
        )
        assert care_escorts_ensure(community=world.community, now=timezone.now() + dt.timedelta(hours=12)).order_ids
        medicine_request_create(
            resident=Resident.objects.get(name="王秀英"),
            actor=None,
            medicines=[{"name": "胰岛素"}],
            pharmacy="华山医院",
        )
        page = client.get("/c/T01/").content.decode()
        assert "瑞金医院" in page, "no session"
        assert "胰岛素" in page, "no medicine"
        full, sql = _count(client, "/c/T01/")
        assert full <= MAX_QUERIES, "\n".join(sql)
        more = [
            ["新建小区", str(n), str(100 + r), f"新区户{chr(0x5000 + n * 9 + r)}", "", "", "", ""]
            for n in range(8)
            for r in range(6)
        ]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
        large, sql = _count(client, "/c/T01/")
        assert large == full and large <= MAX_QUERIES, "\n".join(sql)
        # the escort orders' and the medicine's rows ride on the profiles: at most one statement more
        assert small <= full <= small + 1, "\n".join(small_sql)


class TestWorkOrderQueue:
    def test_bounded_for_few_and_many_orders(self, world: World) -> None:
        client = client_for(world.secretary)
        zhang = Resident.objects.get(name="张伟")

        def add(n: int) -> None:
            for i in range(n):
                order, _ = work_order_create(
                    community=world.community,
                    kind=Kind.MEDICINE if i % 2 else Kind.SUPPLY_DELIVERY,
                    title=f"工单{i}",
                    actor=world.secretary,
                    priority=Priority.URGENT if i % 3 == 0 else Priority.NORMAL,
                    due_at=timezone.now() - dt.timedelta(hours=1) if i % 2 else None,
                    resident=zhang,
                    building=world.b3,
                    source_key=f"q:{n}:{i}:{uuid.uuid4().hex[:6]}x",
                )
                assert order.pk

        add(2)
        few, _ = _count(client, "/orders/")
        add(20)
        many, sql = _count(client, "/orders/")
        assert many == few and many <= MAX_QUERIES, "\n".join(sql)


def test_each_shape_of_the_figures_statement_is_compiled_once_and_reused(world: World) -> None:
    """A shape whose stand-in check fails falls back to the ORM on every request: the same figures,
    at several times the cost. Each shape the hot pages use passes its check."""
    from fangzhou.reports import selectors

    busy_day(world)
    selectors._COMPILED.clear()
    for user, url in [(world.secretary, "/reports/c/T01/"), (world.officer, "/reports/"), (world.secretary, "/c/T01/")]:
        assert client_for(user).get(url).status_code == 200
    assert selectors._COMPILED and all(c is not None for c in selectors._COMPILED.values())
