"""The figures a committee checks before sending the daily report up."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.care.models import CareProfile
from fangzhou.care.selectors import at_risk_next_48h, at_risk_window_end
from fangzhou.care.services import (
    care_profile_update,
    care_registry_sync,
    medicine_request_create,
    treatment_schedule_set,
)
from fangzhou.cases.services import case_confirm
from fangzhou.cli import main
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.reports import selectors
from fangzhou.reports.tests.helpers import busy_day, client_for
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery
from fangzhou.volunteers.services import shift_assign, shift_create, work_groups_ensure
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, RequestKind
from fangzhou.workorders.services import (
    resident_request_submit,
    work_order_claim,
    work_order_create,
    work_order_transition,
)

pytestmark = pytest.mark.django_db


def api(world: World, day: dt.date | None = None) -> dict:  # type: ignore[type-arg]
    query = f"?day={day.isoformat()}" if day else ""
    response = client_for(world.secretary).get(f"/api/reports/communities/T01/daily{query}")
    assert response.status_code == 200, response.content
    data: dict = response.json()  # type: ignore[type-arg]
    return data


class TestCommunityReport:
    def test_a_case_today_is_one_new_case_and_seals_the_compound_until_its_next_change(self, world: World) -> None:
        today = timezone.localdate()
        case_confirm(resident=world.resident("刘洋"), report_date=today, source="staff", actor=world.secretary)
        data = api(world)
        assert data["cases"]["new"] == 1 and data["cases"]["total"] == 1
        assert data["cases"]["awaiting_transfer"] == 1
        compound = data["zones"]["places"][0]
        assert compound["name"] == "阳光小区" and compound["status"] == "sealed" and compound["label_zh"] == "封控区"
        assert compound["next_change_on"] == (today + dt.timedelta(days=7)).isoformat()
        assert compound["next_status"] == "controlled"
        assert data["zones"]["days_without_case"] == 0
        assert data["zones"]["buildings_by_status"] == {"sealed": 2, "controlled": 0, "prevention": 0}
        page = client_for(world.secretary).get("/reports/c/T01/").content.decode()
        assert 'id="new-cases" class="alert">1<' in page
        assert "封控区" in page and (today + dt.timedelta(days=7)).isoformat() in page

    def test_a_case_of_a_household_makes_its_members_close_contacts(self, world: World) -> None:
        case_confirm(
            resident=world.resident("张伟"), report_date=timezone.localdate(), source="staff", actor=world.secretary
        )
        assert api(world)["cases"]["close_contacts"] == 1  # 李娜, same room

    def test_yesterdays_case_is_not_new_today_but_was_new_yesterday(self, world: World) -> None:
        yesterday = timezone.localdate() - dt.timedelta(days=1)
        case_confirm(resident=world.resident("刘洋"), report_date=yesterday, source="staff", actor=world.secretary)
        today = api(world)
        assert today["cases"]["new"] == 0 and today["cases"]["total"] == 1
        assert today["zones"]["days_without_case"] == 1
        assert api(world, yesterday)["cases"]["new"] == 1
        before = api(world, yesterday - dt.timedelta(days=1))
        assert before["cases"]["total"] == 0 and before["zones"]["places"][0]["status"] == "prevention"

    def test_mass_round_antigen_and_retests(self, world: World) -> None:
        day = busy_day(world)
        data = api(world)
        rnd = data["testing"]["round"]
        assert rnd["id"] == day.round.pk and rnd["date"] == day.today.isoformat()
        # 张伟 and 李娜 sampled; 刘洋 is a case (not expected); 王秀英 was missed.
        assert (rnd["sampled"], rnd["expected"], rnd["missing"], rnd["exempt"]) == (2, 3, 1, 1)
        assert (rnd["tubes"], rnd["tubes_resulted"], rnd["positive_tubes"]) == (1, 1, 1)
        assert data["testing"]["pending_retests"] == 2
        assert data["antigen"] == {"residents": 4, "reported": 2, "rate": 0.5, "positive": 0}
        page = client_for(world.secretary).get("/reports/c/T01/").content.decode()
        assert 'id="antigen-rate">50%<' in page
        assert 'id="round-rate">2 / 3<' in page
        assert f'href="/testing/r/{day.round.pk}/"' in page  # the details are one tap away

    def test_work_orders_open_overdue_done_and_requests(self, world: World) -> None:
        c = world.community
        done, _created = work_order_create(community=c, kind=Kind.PATROL, title="巡逻 东门", actor=world.secretary)
        work_order_claim(order_id=done.pk, actor=world.secretary)
        work_order_transition(order_id=done.pk, actor=world.secretary, action="done")
        work_order_create(
            community=c,
            kind=Kind.PATROL,
            title="巡逻 西门",
            actor=world.secretary,
            due_at=timezone.now() - dt.timedelta(hours=1),
        )
        work_order_create(community=c, kind=Kind.OTHER, title="整理物资", actor=world.secretary)
        request, _ = resident_request_submit(
            building=world.b3, kind=RequestKind.FOOD, text="家里没有米了", room="101", client_id=uuid.uuid4().hex
        )
        resident_request_submit(
            building=world.b5, kind=RequestKind.MEDICINE, text="需要降压药", room="201", client_id=uuid.uuid4().hex
        )
        data = api(world)
        # Three orders by hand plus one per request.
        assert data["work_orders"] == {"open": 4, "overdue": 1, "done": 1, "new": 5}
        assert data["requests"] == {"open": 2, "closed": 0, "new": 2}
        assert request.order is not None
        work_order_claim(order_id=request.order.pk, actor=world.secretary)
        work_order_transition(order_id=request.order.pk, actor=world.secretary, action="done")
        data = api(world)
        assert data["requests"] == {"open": 1, "closed": 1, "new": 2}
        assert data["work_orders"]["done"] == 2 and data["work_orders"]["open"] == 3
        # Yesterday none of this existed yet.
        yesterday = api(world, timezone.localdate() - dt.timedelta(days=1))
        assert yesterday["work_orders"] == {"open": 0, "overdue": 0, "done": 0, "new": 0}
        assert yesterday["requests"] == {"open": 0, "closed": 0, "new": 0}

    def test_deliveries_care_and_volunteers(self, world: World) -> None:
        dist = supplies.distribution_create(
            community=world.community,
            name="第三批政府物资",
            kind="government",
            on=timezone.localdate(),
            package={"米": 1},
            actor=None,
        )
        supplies.distribution_allocate(distribution=dist, actor=None)
        first = Delivery.objects.filter(distribution=dist, building=world.b3).order_by("household__room").first()
        assert first is not None
        supplies.delivery_mark(delivery_id=first.pk, actor=world.secretary)
        care_registry_sync(community=world.community, actor=None)
        volunteer = approved(world.community, "志愿者甲", "13512345678")
        group = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
        start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
        shift, _ = shift_create(
            group=group, post="gate", starts_at=start, ends_at=start + dt.timedelta(hours=4), actor=None
        )
        shift_assign(shift=shift, volunteer=volunteer, actor=None)
        data = api(world)
        assert data["supplies"]["distributions"] == [
            {
                "id": dist.pk,
                "name": "第三批政府物资",
                "kind": "government",
                "on": timezone.localdate().isoformat(),
                "total": 3,
                "done": 1,
                "pending": 2,
            }
        ]
        assert (data["supplies"]["deliveries_done"], data["supplies"]["deliveries_pending"]) == (1, 2)
        # 王秀英 lives alone and 刘洋 needs dialysis; neither has a carer or a ride yet.
        assert data["care"]["at_risk_48h"] >= 1
        from fangzhou.care.selectors import at_risk_next_48h

        assert data["care"]["at_risk_48h"] == len(
            {r.profile.pk for r in at_risk_next_48h(world.secretary, world.community)}
        )
        assert data["volunteers"] == {"approved": 1, "on_duty": 1}
        supplies.distribution_close(distribution=dist, actor=None)
        assert api(world)["supplies"]["distributions"] == []

    def test_the_whole_report_on_the_page(self, world: World) -> None:
        busy_day(world)
        response = client_for(world.secretary).get("/reports/c/T01/")
        assert response.status_code == 200
        page = response.content.decode()
        for section in ("zones", "cases", "testing", "antigen", "orders", "supplies", "people"):
            assert f'id="{section}"' in page
        assert "/reports/c/T01/daily.xlsx?day=" in page and "/reports/c/T01/daily.pdf?day=" in page
        assert 'href="/cases/c/T01/"' in page and 'href="/zones/c/T01/?on=' in page

    def test_english_page(self, world: World) -> None:
        client = client_for(world.secretary)
        client.cookies["django_language"] = "en"
        page = client.get("/reports/c/T01/").content.decode()
        assert "Daily report" in page and "days without a new case" in page
        client.cookies["django_language"] = "zh-hans"
        assert "日报" in client.get("/reports/c/T01/").content.decode()


class TestDates:
    def test_a_bad_date_is_a_clear_message_not_a_crash(self, world: World) -> None:
        client = client_for(world.secretary)
        response = client.get("/reports/c/T01/?day=2022-13-45")
        assert response.status_code == 400
        page = response.content.decode()
        assert "日期格式应为" in page and "the date must look like" in page
        api_response = client.get("/api/reports/communities/T01/daily?day=tomorrow")
        assert api_response.status_code == 400 and "YYYY-MM-DD" in api_response.json()["zh"]
        assert client.get("/reports/c/T01/daily.xlsx?day=nope").status_code == 400

    def test_no_report_for_a_future_day(self, world: World) -> None:
        future = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
        client = client_for(world.secretary)
        response = client.get(f"/reports/c/T01/?day={future}")
        assert response.status_code == 400 and "未来" in response.content.decode()
        assert client.get(f"/api/reports/subdistrict?day={future}").status_code == 400

    def test_report_day_parsing(self) -> None:
        today = dt.date(2022, 4, 28)
        assert selectors.report_day(None, today=today) == today
        assert selectors.report_day(" 2022-04-20 ", today=today) == dt.date(2022, 4, 20)
        with pytest.raises(selectors.ReportError):
            selectors.report_day("2022-04-29", today=today)
        with pytest.raises(selectors.ReportError):
            selectors.report_day("28/04/2022", today=today)


class TestExports:
    def test_excel_of_the_community_report(self, world: World) -> None:
        busy_day(world)
        response = client_for(world.secretary).get("/reports/c/T01/daily.xlsx")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        rows = {(r[1]): r[2] for r in sheet.iter_rows(min_row=4, values_only=True)}
        assert rows["当日新增病例 New cases today"] == 1
        assert len(rows) == sheet.max_row - 3  # each figure once
        assert rows["已采 / 应采 Sampled / expected"] == "2 / 3"
        assert rows["阳性管 Positive tubes"] == 1
        assert rows["报告率 Reporting rate"] == "50.0%"
        assert "封控区" in str(rows["小区 Compound: 阳光小区"])

    def test_pdf_of_the_community_report(self, world: World) -> None:
        busy_day(world)
        response = client_for(world.secretary).get("/reports/c/T01/daily.pdf")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        text = pdf_text(response.content)
        if text is not None:
            assert "测试居民区" in text and "阳光小区" in text

    def test_excel_of_the_subdistrict_table(self, world: World) -> None:
        busy_day(world)
        response = client_for(world.officer).get("/reports/subdistrict.xlsx")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        assert [r[0] for r in rows] == ["T01", "合计 Total"]  # only the officer's subdistrict
        header = [c.value for c in sheet[2]]
        row = dict(zip(header, rows[0], strict=True))
        assert row["新增病例 New cases"] == 1 and row["居民 Residents"] == 4
        assert row["三区 Zone"] == "封控区 Sealed zone"


def pdf_text(content: bytes) -> str | None:
    """The PDF's text through poppler's pdftotext, or None where it is not installed."""
    import shutil
    import subprocess
    import tempfile

    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(content)
        handle.flush()
        out = subprocess.run([tool, "-layout", handle.name, "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


class TestSubdistrict:
    def test_the_officer_lands_on_one_row_per_community_with_the_same_figures(self, world: World) -> None:
        busy_day(world)
        client = client_for(world.officer)
        response = client.get("/reports/")
        assert response.status_code == 200
        page = response.content.decode()
        assert 'id="row-T01"' in page and 'id="row-T02"' not in page and "另一居民区" not in page
        assert 'href="/reports/c/T01/?day=' in page
        table = client.get("/api/reports/subdistrict").json()
        assert [c["code"] for c in table["communities"]] == ["T01"]
        row = table["communities"][0]
        report = client.get("/api/reports/communities/T01/daily").json()
        # The table says what the community's own report says.
        assert row["cases"] == report["cases"]
        assert row["antigen"] == report["antigen"]
        assert row["residents"] == report["residents"]
        assert row["pending_retests"] == report["testing"]["pending_retests"]
        assert row["round"] == {
            "date": report["testing"]["round"]["date"],
            "sampled": report["testing"]["round"]["sampled"],
            "positive_tubes": report["testing"]["round"]["positive_tubes"],
        }
        assert row["work_orders"] == report["work_orders"] and row["requests"] == report["requests"]
        assert row["zone"]["status"] == "sealed" and row["zone"]["sealed_places"] == 1
        assert row["zone"]["days_without_case"] == report["zones"]["days_without_case"] == 0

    def test_the_table_row_prints_the_rows_figures_in_both_languages(self, world: World) -> None:
        day = busy_day(world)
        client = client_for(world.officer)
        # The busy day's case opens a call due at 23:00: overdue in the day's last hour (it was, once,
        # when the suite ran at 23:5x in the community's clock).
        before = client.get("/api/reports/subdistrict").json()["communities"][0]["work_orders"]["overdue"]
        work_order_create(
            community=world.community,
            kind=Kind.PATROL,
            title="巡逻 西门",
            actor=world.secretary,
            due_at=timezone.now() - dt.timedelta(hours=1),
        )
        row = client.get("/api/reports/subdistrict").json()["communities"][0]
        overdue_n = row["work_orders"]["overdue"]
        assert overdue_n == before + 1 and row["zone"]["sealed_places"] == 1
        rate = round(row["antigen"]["reported"] / row["antigen"]["residents"] * 100)
        for lang, label, overdue in (
            ("zh-hans", row["zone"]["label_zh"], f"{overdue_n} 张超时"),
            ("en", row["zone"]["label_en"], f"{overdue_n} overdue"),
        ):
            client.cookies["django_language"] = lang
            page = client.get("/reports/").content.decode()
            tr = page[page.index('<tr id="row-T01">') : page.index("</tr>", page.index('<tr id="row-T01">'))]
            cells = [c.split(">", 1)[1] for c in tr.split("<td")[1:]]
            assert cells[1] == f"{row['residents']:,}</td>\n  "
            assert cells[2].startswith(f"<strong>{row['cases']['new']}</strong>")
            assert cells[3].startswith(f"{row['cases']['total']}<")
            assert cells[7].startswith(f"{rate}%<")
            assert cells[8].startswith(f"{day.today:%m-%d} · {row['round']['sampled']}<")
            assert cells[11].startswith('<span class="zone-badge sev-') and f">{label}</span><" in cells[11]
            assert cells[13].startswith(f"{row['work_orders']['open']} <small")
            assert overdue in cells[13]

    def test_the_committee_goes_to_its_own_report(self, world: World) -> None:
        response = client_for(world.secretary).get("/reports/?day=2022-04-20")
        assert response.status_code == 302 and response["Location"] == "/reports/c/T01/?day=2022-04-20"


class TestCli:
    def test_daily_json_has_stable_keys(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        busy_day(world)
        assert main(["reports", "daily", "--community", "T01", "--json"]) == 0
        data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert list(data) == [
            "community",
            "day",
            "as_of",
            "residents",
            "households",
            "cases",
            "testing",
            "antigen",
            "zones",
            "work_orders",
            "requests",
            "supplies",
            "care",
            "volunteers",
        ]
        assert data["community"] == {"code": "T01", "name": "测试居民区", "subdistrict": "测试街道"}
        assert data["cases"]["new"] == 1 and data["testing"]["round"]["positive_tubes"] == 1
        assert data == client_for(world.secretary).get("/api/reports/communities/T01/daily").json() | {
            "as_of": data["as_of"]
        }

    def test_daily_text_and_a_past_day(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        busy_day(world)
        yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
        assert main(["reports", "daily", "--community", "T01", "--on", yesterday]) == 0
        out = capsys.readouterr().out
        assert f"daily report {yesterday}" in out and "当日新增病例 New cases today" in out

    def test_refusals(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["reports", "daily", "--community", "NOPE", "--json"]) == 2
        assert main(["reports", "daily", "--community", "T01", "--on", "2022-02-30"]) == 2
        assert "YYYY-MM-DD" in capsys.readouterr().err


def test_residents_count_is_the_registry_count(world: World) -> None:
    assert api(world)["residents"] == Resident.objects.filter(community=world.community).count() == 4


class TestAtRisk:
    def test_the_reports_count_is_the_care_lists_as_needs_change(self, world: World) -> None:
        """Counted inside the report's statement while no profile has a treatment schedule, by the
        care list's own rules otherwise: the same number either way, for each reader."""
        now = timezone.now()
        today = timezone.localdate()

        def listed() -> int:
            return len({r.profile.pk for r in at_risk_next_48h(world.secretary, world.community, now=now)})

        def reported() -> tuple[int, int, list[str]]:
            with CaptureQueriesContext(connection) as queries:
                secretary = selectors.daily_report(world.secretary, world.community, today, now=now).at_risk_48h
            officer = selectors.daily_report(world.officer, world.community, today, now=now).at_risk_48h
            return secretary, officer, [q["sql"] for q in queries.captured_queries if "care_careprofile" in q["sql"]]

        care_registry_sync(community=world.community, actor=None)  # 王秀英 lives alone, 刘洋 needs dialysis
        secretary, officer, care_sql = reported()
        assert secretary == officer == listed() >= 1
        assert len(care_sql) == 1  # the report's own statement: no query of the care list
        liu = CareProfile.objects.get(resident__name="刘洋")
        last_day = at_risk_window_end(now)
        care_profile_update(profile_id=liu.pk, actor=world.secretary, needs=["pregnant"], due_date=last_day)
        before = listed()
        assert reported()[:2] == (before, before)
        care_profile_update(profile_id=liu.pk, actor=world.secretary, due_date=last_day + dt.timedelta(days=1))
        assert listed() == before - 1 and reported()[:2] == (before - 1, before - 1)
        medicine_request_create(resident=liu.resident, actor=None, medicines=[{"name": "叶酸"}], pharmacy="华山医院")
        assert listed() == before and reported()[:2] == (before, before)
        wang = CareProfile.objects.get(resident__name="王秀英")
        care_profile_update(profile_id=wang.pk, actor=world.secretary, carer=world.volunteer)
        assert listed() == before - 1 and reported()[:2] == (before - 1, before - 1)
        treatment_schedule_set(
            profile_id=wang.pk,
            actor=None,
            kind="dialysis",
            weekdays="1,2,3,4,5,6,7",
            at=dt.time(8),
            hospital="瑞金医院",
        )
        secretary, officer, care_sql = reported()
        assert secretary == officer == listed() == before and len(care_sql) > 1
