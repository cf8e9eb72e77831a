"""The charts' JSON against hand-made data, the same figures as the daily report, scope, bad input,
and the big screen (its numbers are the daily report's)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangzhou.accounts.models import Role
from fangzhou.accounts.services import user_upsert
from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building, Resident
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, roster_sheet
from fangzhou.reports.tests.helpers import busy_day, client_for
from fangzhou.testing.services import antigen_report_submit
from fangzhou.workorders.models import WorkOrder
from fangzhou.workorders.services import work_order_claim, work_order_transition
from fangzhou.zones.selectors import rule_set_for

pytestmark = pytest.mark.django_db

ENDPOINTS = ["cases", "antigen", "pcr", "orders", "siteplan"]


def _get(client: Client, url: str) -> dict:  # type: ignore[type-arg]
    response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def _report(client: Client) -> dict:  # type: ignore[type-arg]
    return _get(client, "/api/reports/communities/T01/daily")


@pytest.fixture
def day(world: World) -> dt.date:
    """busy_day (a round today with one positive tube, 3-101's antigen results, 刘洋 in 5-201 a
    case today) and a district case two days ago: 张伟 in 3-101."""
    busy_day(world)
    today = timezone.localdate()
    case_confirm(
        resident=world.resident("张伟"),
        report_date=today - dt.timedelta(days=2),
        source="district",
        actor=world.secretary,
    )
    return today


class TestCaseCurve:
    def test_new_cases_per_day_by_source_and_compound(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        data = _get(client, "/reports/c/T01/charts/cases.json?days=7")
        assert data["days"][-1] == day.isoformat() and len(data["days"]) == 7
        assert data["total"]["values"] == [0, 0, 0, 0, 1, 0, 1]
        by_source = {s["key"]: s["values"] for s in data["by_source"]}
        assert by_source["district"] == [0, 0, 0, 0, 1, 0, 0]
        assert by_source["staff"] == [0, 0, 0, 0, 0, 0, 1]
        assert by_source["pooled_pcr"] == [0] * 7
        assert [(s["name"], sum(s["values"])) for s in data["by_place"]] == [("阳光小区", 2)]
        report = _report(client)
        assert data["days_without_case"] == report["zones"]["days_without_case"] == 0
        assert [c["place"] for c in data["countdowns"]] == [p["name"] for p in report["zones"]["places"]]
        assert data["countdowns"][0]["status"] == report["zones"]["places"][0]["label_zh"]

    def test_labels_come_translated(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        zh = _get(client, "/reports/c/T01/charts/cases.json")
        assert zh["title"] == "疫情曲线：每日新增病例"
        assert (
            "区级名单" in [s["name"] for s in zh["by_source"]][2]
            or zh["by_source"][2]["name"] != "Reported by the district"
        )
        client.cookies["django_language"] = "en"
        en = _get(client, "/reports/c/T01/charts/cases.json")
        assert en["title"] == "Epidemic curve: new cases per day"
        assert en["by_source"][2]["name"] == "Reported by the district"


class TestAntigen:
    def test_reported_and_positive_per_day_building_and_grid(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        li = world.resident("李娜")
        antigen_report_submit(
            household=li.household,
            day=day - dt.timedelta(days=1),
            results={li.pk: "positive"},
            client_id=uuid.uuid4().hex,
        )
        data = _get(client, "/reports/c/T01/charts/antigen.json?days=3")
        report = _report(client)
        assert data["reported"]["values"] == [0, 1, 2]
        assert data["positive"]["values"] == [0, 1, 0]
        assert data["residents"] == report["antigen"]["residents"]
        assert data["reported"]["values"][-1] == report["antigen"]["reported"]
        assert data["rate"]["values"][-1] == round(100 * report["antigen"]["rate"])
        b3 = next(b for b in data["buildings"] if b["name"] == "阳光小区 3号楼")
        assert (b3["residents"], b3["reported"], b3["positive"]) == (3, 2, 0)
        grid = next(g for g in data["grids"] if g["name"] == "一网格")
        assert (grid["residents"], grid["reported"]) == (3, 2)


class TestPcr:
    def test_each_round_has_the_daily_reports_figures(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        data = _get(client, "/reports/c/T01/charts/pcr.json")
        rnd = _report(client)["testing"]["round"]
        assert len(data["rounds"]) == 1
        got = data["rounds"][0]
        assert got["sampled"] == rnd["sampled"] == 2
        assert (got["missing"], got["exempt"]) == (rnd["missing"], rnd["exempt"])
        assert got["positive_tubes"] == rnd["positive_tubes"] == 1
        assert got["tubes_resulted"] == 1 and got["positivity"] == 100.0


class TestOrders:
    def test_opened_done_ages_and_deliveries(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        order = WorkOrder.objects.filter(community=world.community).order_by("id").first()
        assert order is not None
        work_order_claim(order_id=order.pk, actor=world.secretary)
        work_order_transition(order_id=order.pk, actor=world.secretary, action="done")
        data = _get(client, "/reports/c/T01/charts/orders.json?days=2")
        report = _report(client)
        assert data["opened"]["values"][-1] == report["work_orders"]["new"] > 0
        assert data["done"]["values"] == [0, 1] and report["work_orders"]["done"] == 1
        assert data["open_total"] == report["work_orders"]["open"]
        assert data["ages"][0]["value"] == report["work_orders"]["open"]  # all opened today
        assert data["deliveries"]["values"] == [0, 0]


class TestSitePlan:
    def test_zone_and_days_since_the_last_case_per_day(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        data = _get(client, "/reports/c/T01/charts/siteplan.json?days=5")
        codes = [s["code"] for s in data["statuses"]]
        rules = rule_set_for(world.community)
        b3, b5 = str(world.b3.pk), str(world.b5.pk)
        assert data["since"][b5] == [None, None, None, None, 0]
        assert data["since"][b3] == [None, None, 0, 1, 2]
        zone = [codes[i] for i in data["zone"][b3]]
        assert zone[:2] == [rules.lowest] * 2  # before the first case
        assert zone[2:] == [rules.most_severe] * 3  # the compound is sealed from the case day
        assert data["zone"][b5] == data["zone"][b3]  # one compound, one status


class TestScope:
    def test_outsiders_are_refused_every_chart(self, world: World, day: dt.date) -> None:
        outsider = client_for(world.outsider)
        for name in ENDPOINTS:
            assert outsider.get(f"/reports/c/T01/charts/{name}.json").status_code == 404
        assert outsider.get("/reports/c/T01/charts/").status_code == 404
        for user in (world.volunteer, world.leader):
            assert client_for(user).get("/reports/c/T01/charts/cases.json").status_code == 403
        assert Client().get("/reports/c/T01/charts/cases.json").status_code == 302

    def test_the_big_screen_is_the_subdistricts_own(self, world: World, day: dt.date) -> None:
        sid = world.community.subdistrict_id
        other = world.other.subdistrict_id
        assert client_for(world.officer).get(f"/reports/s/{sid}/screen/").status_code == 200
        for url in (
            f"/reports/s/{other}/screen/",
            f"/reports/s/{other}/screen/live/",
            f"/reports/s/{other}/screen/cases.json",
        ):
            assert client_for(world.officer).get(url).status_code == 404
        for user in (world.secretary, world.outsider, world.volunteer):
            assert client_for(user).get(f"/reports/s/{sid}/screen/").status_code == 404
        assert client_for(world.officer).get("/reports/s/999999/screen/").status_code == 404


class TestBadInput:
    def test_bad_days_are_refused_in_both_languages(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        for query in ("days=abc", "days=0", "days=999", "day=2022-13-01", f"day={day + dt.timedelta(days=1)}"):
            response = client.get(f"/reports/c/T01/charts/cases.json?{query}")
            assert response.status_code == 400, query
            error = response.json()["error"]
            assert error["zh"] and error["en"]
            page = client.get(f"/reports/c/T01/charts/?{query}")
            assert page.status_code == 400 and error["zh"] in page.content.decode()


class TestBigScreen:
    def test_the_screen_shows_the_daily_reports_figures(self, world: World, day: dt.date) -> None:
        officer = client_for(world.officer)
        sid = world.community.subdistrict_id
        page = officer.get(f"/reports/s/{sid}/screen/").content.decode()
        report = _get(officer, "/api/reports/communities/T01/daily")
        row = page.split('id="row-T01"', 1)[1].split("</tr>", 1)[0]

        def cell(figure: str) -> str:
            return row.split(f'data-figure="{figure}">', 1)[1].split("<", 1)[0].strip()

        assert cell("new") == str(report["cases"]["new"]) == "1"
        assert cell("total") == str(report["cases"]["total"]) == "2"
        assert cell("awaiting_transfer") == str(report["cases"]["awaiting_transfer"])
        assert cell("in_isolation") == str(report["cases"]["in_isolation"])
        assert cell("days_without_case") == str(report["zones"]["days_without_case"])
        assert cell("orders_open") == str(report["work_orders"]["open"])
        assert cell("positive_tubes") == str(report["testing"]["round"]["positive_tubes"])
        assert cell("antigen_rate") == f"{round(100 * report['antigen']['rate'])}%"
        curve = _get(officer, f"/reports/s/{sid}/screen/cases.json?days=3")
        assert curve["total"]["values"] == [1, 0, 1]
        assert [s["name"] for s in curve["by_place"]] == ["测试居民区"]

    def test_the_screen_refreshes_itself(self, world: World, day: dt.date) -> None:
        officer = client_for(world.officer)
        sid = world.community.subdistrict_id
        page = officer.get(f"/reports/s/{sid}/screen/").content.decode()
        assert f'hx-get="/reports/s/{sid}/screen/live/?' in page and 'hx-trigger="every 60s"' in page
        live = officer.get(f"/reports/s/{sid}/screen/live/").content.decode()
        assert live.startswith('<div id="screen-body"') and "<html" not in live
        assert 'id="row-T01"' in live


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


class TestQueryCounts:
    # session, user, the community with the access check, then the figure's own grouped queries
    LIMITS = {"cases": 8, "antigen": 6, "pcr": 4, "orders": 7, "siteplan": 9}

    def test_each_endpoint_is_constant_in_residents_buildings_and_days(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        urls = {name: f"/reports/c/T01/charts/{name}.json?days=7" for name in ENDPOINTS}
        small = {name: _count(client, url) for name, url in urls.items()}
        more = [["新建小区", str(n), "101", f"新区户{chr(0x5000 + n)}", "", "", "", "一网格"] for n in range(1, 9)]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
        for n, resident in enumerate(Resident.objects.filter(household__building__compound__name="新建小区")[:4]):
            case_confirm(
                resident=resident, report_date=day - dt.timedelta(days=n + 1), source="staff", actor=world.secretary
            )
        assert Building.objects.filter(community=world.community).count() > 8
        large = {name: _count(client, url) for name, url in urls.items()}
        longer = {name: _count(client, url.replace("days=7", "days=60")) for name, url in urls.items()}
        for name in ENDPOINTS:
            assert small[name] == large[name] == longer[name] <= self.LIMITS[name], (name, small, large, longer)

    def test_the_charts_page_and_the_big_screen(self, world: World, day: dt.date) -> None:
        client = client_for(world.secretary)
        page = _count(client, "/reports/c/T01/charts/")
        officer = client_for(world.officer)
        sid = world.community.subdistrict_id
        screen = _count(officer, f"/reports/s/{sid}/screen/")
        live = _count(officer, f"/reports/s/{sid}/screen/live/")
        curve = _count(officer, f"/reports/s/{sid}/screen/cases.json")
        user_upsert(username="sec2", password="x-long-password-2", role=Role.SECRETARY, community=world.community)
        more = [["新建小区", str(n), "101", f"新区户{chr(0x5000 + n)}", "", "", "", ""] for n in range(1, 6)]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
        case_confirm(resident=world.resident("李娜"), report_date=day, source="antigen_pcr", actor=world.secretary)
        assert _count(client, "/reports/c/T01/charts/") == page <= 22
        assert _count(officer, f"/reports/s/{sid}/screen/") == screen <= 9
        assert _count(officer, f"/reports/s/{sid}/screen/live/") == live <= 9
        assert _count(officer, f"/reports/s/{sid}/screen/cases.json") == curve <= 4
