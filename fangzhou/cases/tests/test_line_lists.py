"""Line lists: the district's layout, masking by role, full values audited, outsiders refused."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog
from fangzhou.cases.linelists import LineListError, layout_parse
from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def _rows(response: object) -> list[list[object]]:
    book = load_workbook(io.BytesIO(response.content))  # type: ignore[attr-defined]
    return [list(r) for r in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]


def test_layout_text_is_checked_line_by_line() -> None:
    assert layout_parse("cases", "身份证号 = 证件号码\n\n名字=name") == [
        {"field": "id_number", "header": "身份证号"},
        {"field": "name", "header": "名字"},
    ]
    with pytest.raises(LineListError) as bad:
        layout_parse("cases", "身份证号 = 证件号码\n血型 = 血型")
    assert "第 2 行" in bad.value.zh
    with pytest.raises(LineListError):
        layout_parse("cases", "只有表头")


def test_the_district_layout_masks_by_default_and_full_values_are_audited(world: World) -> None:
    zhang = world.resident("张伟")
    case_confirm(resident=zhang, report_date=timezone.localdate(), source="pooled_pcr", actor=None)
    client = Client()
    client.force_login(world.secretary)
    saved = client.post(
        "/cases/c/T01/line-lists/layouts/",
        {
            "kind": "cases",
            "name": "区疾控",
            "columns": "患者姓名 = 姓名\n身份证号 = 证件号码\n电话 = 联系电话\n现住址 = 现住址",
        },
    )
    assert saved.status_code == 302
    layout = world.community.line_list_layouts.get()
    rows = _rows(client.get(f"/cases/c/T01/line-lists/download/?kind=cases&layout={layout.pk}"))
    assert rows[0] == ["患者姓名", "身份证号", "电话", "现住址"]
    assert rows[1][0] == "张伟" and zhang.id_number not in str(rows[1]) and "*" in str(rows[1][1])
    assert str(rows[1][3]).endswith("101室")
    full = _rows(client.get(f"/cases/c/T01/line-lists/download/?kind=cases&layout={layout.pk}&full=1"))
    assert full[1][1] == zhang.id_number and full[1][2] == "13800001234"
    exports = list(
        AuditLog.objects.filter(action=AuditAction.LINE_LIST_EXPORT).order_by("id").values_list("detail", flat=True)
    )
    assert [(d["rows"], d["full"]) for d in exports] == [(1, False), (1, True)]
    assert zhang.id_number not in str(exports)
    # Contacts in the standard layout: the household member, masked.
    contacts = _rows(client.get("/cases/c/T01/line-lists/download/?kind=contacts"))
    assert contacts[0][:3] == ["关联病例", "姓名", "类别"] and contacts[1][:2] == ["张伟", "李娜"]


def test_only_the_committee_exports(world: World) -> None:
    case_confirm(resident=world.resident("张伟"), report_date=timezone.localdate(), source="staff", actor=None)
    for user in (world.leader, world.grid_leader, world.officer, world.outsider, world.volunteer):
        client = Client()
        client.force_login(user)
        assert client.get("/cases/c/T01/line-lists/download/?kind=cases").status_code == 404
        assert client.get("/cases/c/T01/line-lists/").status_code == 404
    assert not AuditLog.objects.filter(action=AuditAction.LINE_LIST_EXPORT).exists()
