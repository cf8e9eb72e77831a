"""Issue 17's tools at 390 px in the browser: the call button (audited, the number never on the
page), the import template and the rejected-rows round trip, the leader's one-tap "all negative"."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from openpyxl import Workbook, load_workbook

from fangzhou.accounts.models import AuditLog
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import HEADER, PASSWORD, World, build_world, make_id
from fangzhou.testing.models import AntigenReport
from tests.browser.conftest import PHONE, shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    cache.clear()
    return build_world()


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_call_template_rejected_rows_and_all_negative_at_390px(
    live_server: Any, phone: Any, live_world: World, tmp_path: Any
) -> None:
    base = live_server.url
    phone.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    sign_in(phone, base, "leader3", PASSWORD)
    # The leader's not-reported list: a call button per person, never the number.
    phone.goto(f"{base}/testing/antigen/b/{live_world.b3.pk}/")
    call = phone.locator("#not-reported a.call").first
    href = call.get_attribute("href")
    assert href and "13800001234" not in phone.content()
    answer = phone.request.get(base + href, max_redirects=0)
    assert answer.status == 302 and answer.headers["location"].startswith("tel:")
    assert AuditLog.objects.filter(action="resident.call").count() == 1
    # One tap ticks negative for every member of a household; each stays listed, then one send.
    household = phone.locator("#on-behalf li", has_text="101").first
    household.locator("summary").click()
    household.locator("button[data-check-all]").click()
    radios = household.locator("input[type=radio][value=negative]")
    assert radios.count() == 2 and all(radios.nth(i).is_checked() for i in range(2))
    _fits(phone)
    shot(phone, "field-all-negative")
    household.locator("button.primary").click()
    phone.wait_for_function(
        "() => document.querySelector('#said" + household.get_attribute("id")[2:] + "').textContent.length > 0"
    )
    assert AntigenReport.objects.filter(resident__household__room="101", result="negative").count() == 2

    # The committee: the roster's template, an upload with a bad row, the rejected rows back, fixed.
    phone.context.clear_cookies()
    phone.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    sign_in(phone, base, "sec", PASSWORD)
    phone.goto(f"{base}/c/T01/roster/")
    with phone.expect_download() as template:
        phone.click("text=下载模板")
    assert template.value.suggested_filename.endswith(".xlsx")
    born = dt.date(1990, 3, 4)
    good = ["阳光小区", "3号楼", "103", "孙六", make_id("310104", born, 7, True), "13500001111", "", "一网格"]
    bad = ["阳光小区", "3号楼", "104", "周七", make_id("310104", born, 8, True), "12345", "", "一网格"]
    first = tmp_path / "roster.xlsx"
    first.write_bytes(_xlsx([list(HEADER), good, bad]))
    phone.set_input_files("input[type=file]", str(first))
    phone.click("main form button[value=import]")
    phone.wait_for_selector("#rejected-download")
    _fits(phone)
    shot(phone, "field-rejected-rows")
    with phone.expect_download() as rejected:
        phone.click("#rejected-download")
    book = load_workbook(io.BytesIO(Path(rejected.value.path()).read_bytes()))
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    assert [r[3] for r in rows[1:]] == ["周七"]
    rows[1][5] = "13500003333"
    fixed = tmp_path / "fixed.xlsx"
    fixed.write_bytes(_xlsx(rows))
    phone.set_input_files("input[type=file]", str(fixed))
    phone.click("main form button[value=import]")
    phone.wait_for_selector("#report")
    assert Resident.objects.filter(name__in=["孙六", "周七"]).count() == 2
