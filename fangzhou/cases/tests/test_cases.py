"""Cases: confirming, isolation, discharge rule, close contacts, work orders, import, scope."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.cases.discharge import PcrFact, discharge_check
from fangzhou.cases.models import Case, CloseContact
from fangzhou.cases.selectors import residents_exempt_from_testing
from fangzhou.cases.services import (
    CaseError,
    case_confirm,
    case_discharge,
    case_pcr_record,
    case_settings_update,
    case_transfer,
)
from fangzhou.cli import main
from fangzhou.registry.tests.factories import World
from fangzhou.workorders.models import Kind, WorkOrder

D = dt.date


def at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def T(h: float) -> dt.datetime:
    return dt.datetime(2022, 4, 10, tzinfo=dt.UTC) + dt.timedelta(hours=h)


class TestDischargeRule:
    def test_two_negatives_24_hours_apart(self) -> None:
        assert discharge_check([PcrFact(T(0), True), PcrFact(T(24), True)]).ok
        assert not discharge_check([PcrFact(T(0), True), PcrFact(T(23.5), True)]).ok

    def test_a_positive_between_restarts_the_count(self) -> None:
        facts = [PcrFact(T(0), True), PcrFact(T(12), False), PcrFact(T(30), True)]
        assert not discharge_check(facts).ok
        check = discharge_check([*facts, PcrFact(T(54), True)])
        assert check.ok and check.pair == (facts[2], PcrFact(T(54), True))

    def test_ct_below_35_does_not_count_where_ct_is_given(self) -> None:
        assert not discharge_check([PcrFact(T(0), True, 34.9), PcrFact(T(30), True, 36)]).ok
        assert discharge_check([PcrFact(T(0), True, 35.0), PcrFact(T(30), True, 38)]).ok
        # the numbers are settings
        assert discharge_check([PcrFact(T(0), True, 33), PcrFact(T(13), True, 33)], gap_hours=12, min_ct=32).ok

    def test_order_of_entry_does_not_matter(self) -> None:
        assert discharge_check([PcrFact(T(48), True), PcrFact(T(0), True)]).ok


@pytest.mark.django_db
class TestLifecycle:
    def test_confirm_creates_tasks_and_close_contacts_once(self, world: World) -> None:
        zhang = world.resident("张伟")
        case, created = case_confirm(resident=zhang, report_date=D(2022, 4, 10), source="pooled_pcr", actor=None)
        again, created_again = case_confirm(resident=zhang, report_date=D(2022, 4, 10), source="pooled_pcr", actor=None)
        assert created and not created_again and again.pk == case.pk
        kinds = sorted(
            WorkOrder.objects.filter(source_key__startswith=f"case:{case.pk}:").values_list("kind", flat=True)
        )
        # transfer, disinfection, household check, and 7 daily door-to-door tests for the contact
        assert kinds.count(Kind.TRANSFER) == 1 and kinds.count(Kind.DISINFECTION) == 1
        assert kinds.count(Kind.HOUSEHOLD_CHECK) == 1 and kinds.count(Kind.RETEST) == 7
        (contact,) = CloseContact.objects.filter(case=case)
        assert contact.resident.name == "李娜" and contact.until == D(2022, 4, 16)

    def test_contact_days_are_a_setting(self, world: World) -> None:
        case_settings_update(
            community=world.community,
            actor=world.secretary,
            discharge_gap_hours=24,
            discharge_min_ct=35,
            monitoring_days=7,
            contact_days=3,
        )
        case, _ = case_confirm(resident=world.resident("李娜"), report_date=D(2022, 4, 10), source="staff", actor=None)
        assert CloseContact.objects.get(case=case).until == D(2022, 4, 12)
        assert WorkOrder.objects.filter(source_key__startswith=f"case:{case.pk}:contact-test").count() == 3

    def test_transfer_discharge_and_monitoring(self, world: World) -> None:
        liu = world.resident("刘洋")
        case, _ = case_confirm(resident=liu, report_date=D(2022, 4, 10), source="antigen_pcr", actor=None)
        case_transfer(
            case_id=case.pk, site_kind="shelter", site_name="国博方舱", transferred_on=D(2022, 4, 11), actor=None
        )
        case_pcr_record(case_id=case.pk, sampled_at=at(D(2022, 4, 18), 8), negative=True, ct=36.0, actor=None)
        with pytest.raises(CaseError):
            case_discharge(case_id=case.pk, discharged_on=D(2022, 4, 19), actor=None)
        case_pcr_record(case_id=case.pk, sampled_at=at(D(2022, 4, 19), 7), negative=True, ct=37.0, actor=None)
        with pytest.raises(CaseError):  # 23 hours apart
            case_discharge(case_id=case.pk, discharged_on=D(2022, 4, 19), actor=None)
        case_pcr_record(case_id=case.pk, sampled_at=at(D(2022, 4, 19), 9), negative=True, ct=None, actor=None)
        done = case_discharge(case_id=case.pk, discharged_on=D(2022, 4, 20), actor=None)
        assert done.monitoring_until == D(2022, 4, 27)
        assert WorkOrder.objects.filter(source_key=f"case:{case.pk}:monitoring").count() == 1
        # Exempt from mass testing while isolated and monitored, expected again afterwards.
        assert liu.pk in residents_exempt_from_testing(world.community, D(2022, 4, 15))
        assert liu.pk in residents_exempt_from_testing(world.community, D(2022, 4, 27))
        assert liu.pk not in residents_exempt_from_testing(world.community, D(2022, 4, 28))
        assert liu.pk not in residents_exempt_from_testing(world.community, D(2022, 4, 9))

    def test_timeline_page_lists_the_steps(self, world: World) -> None:
        zhang = world.resident("张伟")
        case, _ = case_confirm(resident=zhang, report_date=D(2022, 4, 10), source="pooled_pcr", actor=None)
        case_transfer(
            case_id=case.pk, site_kind="isolation_point", site_name="某酒店", transferred_on=D(2022, 4, 10), actor=None
        )
        case_pcr_record(case_id=case.pk, sampled_at=at(D(2022, 4, 15), 8), negative=False, ct=28, actor=None)
        client = Client()
        client.force_login(world.secretary)
        html = client.get(f"/cases/r/{zhang.pk}/").content.decode()
        assert html.index("2022-04-10") < html.index("某酒店") < html.index("2022-04-15")
        data = client.get(f"/api/cases/residents/{zhang.pk}/timeline").json()
        assert [i["kind"] for i in data["items"]] == ["reported", "transferred", "pcr"]
        # The household member's timeline shows the close-contact isolation.
        li = world.resident("李娜")
        assert [i["kind"] for i in client.get(f"/api/cases/residents/{li.pk}/timeline").json()["items"]] == ["contact"]

    def test_staff_enter_a_case_on_the_page(self, world: World) -> None:
        client = Client()
        client.force_login(world.secretary)
        page = client.get("/cases/c/T01/new/?q=王秀英").content.decode()
        wang = world.resident("王秀英")
        assert f'value="{wang.pk}"' in page
        response = client.post(
            "/cases/c/T01/new/", {"resident": wang.pk, "report_date": "2022-04-12", "source": "staff"}
        )
        case = Case.objects.get(resident=wang)
        assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
        bad = client.post("/cases/c/T01/new/", {"resident": wang.pk, "report_date": "12/04", "source": "staff"})
        assert bad.status_code == 400 and "2022-04-28" in bad.content.decode()
        # transfer and a bad PCR entry through the page
        client.post(
            f"/cases/{case.pk}/transfer/",
            {"site_kind": "shelter", "site_name": "新国博方舱", "transferred_on": "2022-04-13"},
        )
        case.refresh_from_db()
        assert case.site_name == "新国博方舱"
        response = client.post(
            f"/cases/{case.pk}/pcr/", {"sampled_at": "2022-04-15T08:00", "result": "negative", "ct": "x"}
        )
        assert "Ct" in client.get(response["Location"]).content.decode()


def write_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "district.csv"
    path.write_text("\n".join(["证件号码,姓名,报告日期,来源,隔离点,转运日期,出舱日期", *rows]) + "\n", encoding="utf-8")
    return path


def run_import(path: Path) -> dict[str, object]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["cases", "import", str(path), "--community", "T01", "--json"]) == 0
    data: dict[str, object] = json.loads(out.getvalue())
    return data


@pytest.mark.django_db
def test_import_reports_bad_rows_and_reimport_changes_nothing(world: World, tmp_path: Path) -> None:
    zhang, liu = world.resident("张伟"), world.resident("刘洋")
    path = write_csv(
        tmp_path,
        [
            f"{zhang.id_number},张伟,2022-04-10,区推送,国博方舱,2022/4/11,2022年4月20日",
            "310104199001011234,无名,2022-04-10,,,,",
            f"{liu.id_number},刘洋,2022-04-12,抗原,,,",
            f"{liu.id_number},错名,2022-04-13,,,,",
            f"{liu.id_number},刘洋,04/13,,,,",
            f"{liu.id_number},刘洋,2022-04-12,,,,",
        ],
    )
    data = run_import(path)
    assert data["created"] == 2 and data["unchanged"] == 0
    rejected = {r["row"]: r["reason"] for r in data["rejected"]}  # type: ignore[attr-defined]
    assert sorted(rejected) == [3, 5, 6, 7]
    assert "ID" in rejected[3] and "name" in rejected[5] and "date" in rejected[6] and "row 4" in rejected[7]
    case = Case.objects.get(resident=zhang)
    assert (case.site_kind, case.transferred_on, case.discharged_on) == ("shelter", D(2022, 4, 11), D(2022, 4, 20))
    orders = WorkOrder.objects.count()
    again = run_import(path)
    assert again["created"] == 0 and again["updated"] == 0 and again["unchanged"] == 2
    assert Case.objects.count() == 2 and WorkOrder.objects.count() == orders
    conflict = write_csv(tmp_path, [f"{zhang.id_number},张伟,2022-04-10,,国博方舱,2022-04-12,"])
    assert run_import(conflict)["rejected"][0]["row"] == 2  # type: ignore[index]


@pytest.mark.django_db
class TestScope:
    def urls(self, world: World, case: Case) -> list[tuple[str, str, dict[str, object]]]:
        zhang = case.resident
        return [
            ("get", "/cases/c/T01/", {}),
            ("get", "/cases/c/T01/new/", {}),
            ("post", "/cases/c/T01/new/", {"resident": zhang.pk, "report_date": "2022-04-11"}),
            ("get", f"/cases/{case.pk}/", {}),
            (
                "post",
                f"/cases/{case.pk}/transfer/",
                {"site_kind": "shelter", "site_name": "x", "transferred_on": "2022-04-11"},
            ),
            ("post", f"/cases/{case.pk}/pcr/", {"sampled_at": "2022-04-11T08:00", "result": "negative"}),
            ("post", f"/cases/{case.pk}/discharge/", {"discharged_on": "2022-04-20"}),
            ("get", f"/cases/r/{zhang.pk}/", {}),
            ("get", "/api/cases/communities/T01/cases", {}),
            ("get", "/api/cases/communities/T01/counts", {}),
            ("post", "/api/cases/communities/T01/cases", {"resident_id": zhang.pk, "report_date": "2022-04-11"}),
            ("get", f"/api/cases/{case.pk}", {}),
            (
                "post",
                f"/api/cases/{case.pk}/transfer",
                {"site_kind": "shelter", "site_name": "x", "transferred_on": "2022-04-11"},
            ),
            ("post", f"/api/cases/{case.pk}/pcr", {"sampled_at": "2022-04-11T08:00:00+08:00", "negative": True}),
            ("post", f"/api/cases/{case.pk}/discharge", {"discharged_on": "2022-04-20"}),
            ("get", f"/api/cases/residents/{zhang.pk}/timeline", {}),
        ]

    def test_outsider_and_anonymous_are_refused_everywhere(self, world: World) -> None:
        case, _ = case_confirm(resident=world.resident("张伟"), report_date=D(2022, 4, 10), source="staff", actor=None)
        for user in (world.outsider, None):
            client = Client()
            if user is not None:
                client.force_login(user)
            for method, url, payload in self.urls(world, case):
                if "/api/" in url and method == "post":
                    response = client.post(url, json.dumps(payload), content_type="application/json")
                else:
                    response = getattr(client, method)(url, payload)
                if user is None:
                    assert response.status_code in (302, 401), url
                else:
                    assert response.status_code == 404, url
                assert "张伟" not in response.content.decode()
        case.refresh_from_db()
        assert case.transferred_on is None and Case.objects.count() == 1

    def test_building_leader_sees_own_buildings_counts_only(self, world: World) -> None:
        case_confirm(resident=world.resident("张伟"), report_date=D(2022, 4, 10), source="staff", actor=None)
        case, _ = case_confirm(resident=world.resident("刘洋"), report_date=D(2022, 4, 11), source="staff", actor=None)
        client = Client()
        client.force_login(world.leader)  # building 3 only
        page = client.get("/cases/c/T01/").content.decode()
        assert "3号楼" in page and "5号楼" not in page and "张伟" not in page and "刘洋" not in page
        counts = client.get("/api/cases/communities/T01/counts").json()["items"]
        assert counts == [{"compound": "阳光小区", "building": "3号楼", "cases": 1, "last_report": "2022-04-10"}]
        assert client.get("/api/cases/communities/T01/cases").status_code == 403
        assert client.get(f"/cases/{case.pk}/").status_code == 404
        zhang = world.resident("张伟")
        assert client.get(f"/cases/r/{zhang.pk}/").status_code == 404
        assert client.post("/cases/c/T01/new/").status_code == 403

    def test_secretary_sees_names_and_volunteer_nothing(self, world: World) -> None:
        case_confirm(resident=world.resident("张伟"), report_date=D(2022, 4, 10), source="staff", actor=None)
        client = Client()
        client.force_login(world.secretary)
        assert "张伟" in client.get("/cases/c/T01/").content.decode()
        assert [c["name"] for c in client.get("/api/cases/communities/T01/cases").json()["items"]] == ["张伟"]
        volunteer = Client()
        volunteer.force_login(User.objects.get(username="vol"))
        assert volunteer.get("/cases/c/T01/").status_code == 404
