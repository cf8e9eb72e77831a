"""After a roster upload with rejected rows: a download of exactly those rows with a reason column;
fixed and uploaded again, they are taken and the rows already imported stay as they were."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook, load_workbook

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import HEADER, World, make_id

pytestmark = pytest.mark.django_db


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(client: Client, data: bytes) -> str:
    upload = SimpleUploadedFile("roster.xlsx", data)
    return client.post("/c/T01/roster/", {"file": upload, "mode": "import"}).content.decode()


def test_the_rejected_rows_come_back_with_their_reason_and_go_in_once_fixed(world: World) -> None:
    born = dt.date(1990, 3, 4)
    good = ["阳光小区", "3号楼", "103", "孙六", make_id("310104", born, 7, True), "13500001111", "", "一网格"]
    bad_phone = ["阳光小区", "3号楼", "104", "周七", make_id("310104", born, 8, True), "12345", "", "一网格"]
    bad_id = ["阳光小区", "5号楼", "202", "吴八", "310104199003040000", "13500002222", "", "二网格"]
    client = Client()
    client.force_login(world.secretary)
    before = Resident.objects.count()
    page = _upload(client, _xlsx([list(HEADER), good, bad_phone, bad_id]))
    assert 'id="rejected-download"' in page
    assert Resident.objects.count() == before + 1  # the good row kept
    sunliu = Resident.objects.get(name="孙六")
    stamp = sunliu.updated_at
    response = client.get("/c/T01/roster/rejected.xlsx")
    assert response.status_code == 200
    rows = [list(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    assert rows[0][: len(HEADER)] == list(HEADER) and rows[0][-1] == "退回原因 Reason"
    assert [r[3] for r in rows[1:]] == ["周七", "吴八"] and all(r[-1] for r in rows[1:])
    # fix the two rows in the downloaded file and upload it as it is (the reason column is ignored)
    rows[1][5] = "13500003333"
    rows[2][4] = make_id("310104", born, 9, True)
    _upload(client, _xlsx(rows))
    assert Resident.objects.count() == before + 3
    assert Resident.objects.get(name="周七").phone.endswith("13500003333")
    assert Resident.objects.get(pk=sunliu.pk).updated_at == stamp  # the row already imported untouched
    # nothing left to download after a clean upload; another community's secretary is refused
    assert client.get("/c/T01/roster/rejected.xlsx").status_code == 404
    outsider = Client()
    outsider.force_login(world.outsider)
    assert outsider.get("/c/T01/roster/rejected.xlsx").status_code == 404
