"""The secretary's day on a phone (390 px), in Chinese and in English: the overview's figures of
today, on to the daily report (the same numbers), then its Excel and PDF."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    world = build_world()
    case_confirm(
        resident=world.resident("刘洋"), report_date=timezone.localdate(), source="staff", actor=world.secretary
    )
    return world


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_overview_to_daily_report_and_its_files(live_server: Any, phone: Any, live_world: World, lang: str) -> None:
    base = live_server.url
    phone.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": base}])
    sign_in(phone, base, "sec", PASSWORD)
    phone.goto(f"{base}/c/T01/")
    panel = phone.locator("#today-figures")
    panel.wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    figures = {key: phone.inner_text(f"#ov-{key}") for key in ("new-cases", "awaiting-transfer", "in-isolation")}
    assert figures == {"new-cases": "1", "awaiting-transfer": "1", "in-isolation": "0"}
    words = panel.inner_text()
    assert ("Awaiting transfer" in words) if lang == "en" else ("待转运" in words and "Awaiting" not in words)
    shot(phone, f"secretary-day-overview-{lang}")

    panel.locator("a.more").click()
    phone.wait_for_selector("#key-figures")
    assert phone.url.split("?")[0].endswith("/reports/c/T01/")
    assert phone.inner_text("#new-cases") == figures["new-cases"]
    cases = phone.inner_text("#cases")
    assert ("Awaiting transfer" in cases) if lang == "en" else ("待转运" in cases)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, f"secretary-day-report-{lang}")

    with phone.expect_download() as download:
        phone.get_by_role("link", name="Excel").click()
    path = download.value.path()
    assert path is not None
    sheet = load_workbook(io.BytesIO(Path(path).read_bytes())).active  # the download has no .xlsx name
    assert sheet is not None
    cells = {row[1]: row[2] for row in sheet.iter_rows(values_only=True) if row and len(row) > 2}
    assert cells["当日新增病例 New cases today"] == 1 and cells["待转运 Awaiting transfer"] == 1

    href = phone.get_by_role("link", name="PDF").get_attribute("href")
    pdf = phone.request.get(f"{base}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "待转运 Awaiting transfer" in text and "测试居民区" in text
