"""Contacts beyond the household: the district's list (row-level errors), by hand, follow-up, chains."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fangzhou.cases.contacts import contacts_follow_up, contacts_import, transmission
from fangzhou.cases.models import CloseContact
from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import World
from fangzhou.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

HEADER = "病例证件号码,姓名,证件号码,电话,类别,接触日期,隔离地点,关联密接证件号码"


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _setup(world: World) -> tuple[str, str, str]:
    zhang = world.resident("张伟")
    case_confirm(resident=zhang, report_date=timezone.localdate() - dt.timedelta(days=1), source="staff", actor=None)
    return zhang.id_number, world.resident("刘洋").id_number, world.resident("王秀英").id_number


def test_the_district_list_links_residents_keeps_outsiders_and_reports_bad_rows(world: World) -> None:
    case_id, liu_id, wang_id = _setup(world)
    day = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    data = _csv(
        f"{case_id},刘洋,{liu_id},,密接,{day},,",  # our resident, at home: daily tests
        f"{case_id},陈外人,310101199001011234,13912345678,密接,{day},某酒店隔离点,",  # an outside person
        f"{case_id},王秀英,{wang_id},,次密接,{day},,{liu_id}",  # secondary, via 刘洋
        f"310000000000000000,某人,,,密接,{day},,",  # no such case
        f"{case_id},李四,,,亲戚,{day},,",  # unknown kind
        f"{case_id},赵六,,,次密接,{day},,",  # secondary without its close contact
        f"{case_id},钱七,,,密接,昨天,,",  # bad date
    )
    report = contacts_import(community=world.community, actor=world.secretary, data=data, filename="c.csv")
    assert report.created == 3
    assert [(r.row, r.column) for r in sorted(report.rejected, key=lambda r: r.row)] == [
        (5, "case_id_number"),
        (6, "degree"),
        (7, "via_id_number"),
        (8, "since"),
    ]
    liu = CloseContact.objects.get(resident=world.resident("刘洋"))
    outside = CloseContact.objects.get(outside_name="陈外人")
    wang = CloseContact.objects.get(resident=world.resident("王秀英"))
    assert liu.origin == "district" and liu.degree == "close" and liu.until - liu.since == dt.timedelta(days=6)
    assert outside.resident is None and outside.outside_phone == "+8613912345678" and outside.place
    assert "310101199001011234" not in str(CloseContact.objects.values_list().filter(pk=outside.pk).first())
    assert wang.degree == "secondary" and wang.via == liu
    # 刘洋 at home gets one door-to-door test a day; the outside person none.
    assert WorkOrder.objects.filter(source_key__startswith=f"contact:{liu.pk}:test:").count() == 7
    assert not WorkOrder.objects.filter(source_key__startswith=f"contact:{outside.pk}:").exists()
    again = contacts_import(community=world.community, actor=None, data=data, filename="c.csv")
    assert again.created == 0 and again.unchanged == 3 and CloseContact.objects.count() == 4  # + 李娜 (household)


def test_follow_up_and_the_chain_show_who_became_a_case(world: World) -> None:
    case_id, liu_id, _ = _setup(world)
    day = timezone.localdate() - dt.timedelta(days=1)
    contacts_import(
        community=world.community, actor=None, data=_csv(f"{case_id},刘洋,{liu_id},,密接,{day},,"), filename="c.csv"
    )
    case_confirm(resident=world.resident("刘洋"), report_date=timezone.localdate(), source="staff", actor=None)
    rows = {f.name: f for f in contacts_follow_up(world.community, timezone.localdate())}
    assert rows["刘洋"].day_number == 2 and rows["刘洋"].test_today and rows["刘洋"].became_case
    assert rows["李娜"].where.endswith("101室")
    (first, second) = transmission(world.community)
    assert first.name == "张伟" and ("刘洋", "close", True, second.case_id) in first.contacts


def test_the_page_imports_adds_by_hand_and_refuses_others(world: World) -> None:
    case_id, liu_id, _ = _setup(world)
    client = Client()
    client.force_login(world.secretary)
    upload = SimpleUploadedFile("c.csv", _csv(f"{case_id},刘洋,{liu_id},,密接,2099-01-01,,"))
    page = client.post("/cases/c/T01/contacts/import/", {"file": upload}).content.decode()
    assert "接触日期" in page and "the contact date is in the future" in page  # the header, not a code
    case = world.resident("张伟").cases.get()
    r = client.post(
        "/cases/c/T01/contacts/new/",
        {"case": case.pk, "degree": "close", "name": "孙外", "phone": "13800001111", "since": timezone.localdate()},
    )
    assert r.status_code == 302 and CloseContact.objects.filter(outside_name="孙外", origin="staff").exists()
    bad = client.post(
        "/cases/c/T01/contacts/new/", {"case": case.pk, "degree": "close", "name": "孙外", "phone": "12", "since": "x"}
    )
    assert bad.status_code == 400
    page = client.get("/cases/c/T01/contacts/").content.decode()
    assert "孙外" in page and "13800001111" not in page  # the phone is never shown
    for user in (world.leader, world.outsider):
        other = Client()
        other.force_login(user)
        assert other.get("/cases/c/T01/contacts/").status_code == 404
        assert other.post("/cases/c/T01/contacts/new/", {"case": case.pk}).status_code == 404


def test_the_rejected_contact_rows_come_back_to_fix_and_go_in_once_fixed(world: World) -> None:
    case_id, liu_id, _ = _setup(world)
    day = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    client = Client()
    client.force_login(world.secretary)
    data = _csv(f"{case_id},刘洋,{liu_id},,密接,{day},,", f"{case_id},钱七,,,亲戚,{day},,")
    page = client.post("/cases/c/T01/contacts/import/", {"file": SimpleUploadedFile("c.csv", data)}).content.decode()
    assert 'id="rejected-download"' in page
    rows = [
        list(r)
        for r in load_workbook(io.BytesIO(client.get("/cases/c/T01/contacts/rejected.xlsx").content)).active.iter_rows(
            values_only=True
        )
    ]  # type: ignore[union-attr]
    assert len(rows) == 2 and rows[1][1] == "钱七" and "密接" in str(rows[1][-1])  # the reason names the kinds
    rows[1][4] = "密接"
    book = Workbook()
    for row in rows:
        book.active.append(row)  # type: ignore[union-attr]
    out = io.BytesIO()
    book.save(out)
    client.post("/cases/c/T01/contacts/import/", {"file": SimpleUploadedFile("fixed.xlsx", out.getvalue())})
    assert CloseContact.objects.filter(outside_name="钱七").exists()
    assert CloseContact.objects.filter(resident__name="刘洋", origin="district").count() == 1
