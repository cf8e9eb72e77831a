"""The daily report on a phone (the secretary) and at a desk (the subdistrict officer), and printed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

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


def test_the_secretary_reads_the_report_on_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    sign_in(phone, live_server.url, "sec", PASSWORD)
    phone.goto(f"{live_server.url}/reports/")
    phone.wait_for_selector("#key-figures")
    assert phone.url.endswith("/reports/c/T01/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.inner_text("#new-cases") == "1"
    assert "封控区" in phone.inner_text("#zones")
    for link in ("Excel", "PDF"):
        box = phone.get_by_role("link", name=link).bounding_box()
        assert box is not None and box["height"] >= 44
    shot(phone, "reports-daily-phone")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    phone.fill("input[name=day]", yesterday.isoformat())
    phone.locator("form.report-day button").tap()
    phone.wait_for_url(f"**/reports/c/T01/?day={yesterday.isoformat()}")
    assert phone.inner_text("#new-cases") == "0"


def test_the_officer_lands_on_the_subdistrict_table_and_prints_a_report(
    live_server: Any, desk: Any, live_world: World
) -> None:
    sign_in(desk, live_server.url, "officer", PASSWORD)
    desk.goto(f"{live_server.url}/reports/")
    desk.wait_for_selector("#communities")
    assert desk.locator("#communities tbody tr").count() == 1
    assert "测试居民区" in desk.inner_text("#row-T01")
    shot(desk, "reports-subdistrict-desk")
    desk.click("#row-T01 a")
    desk.wait_for_selector("#key-figures")
    desk.emulate_media(media="print")
    assert not desk.locator("nav.sections").is_visible()
    assert not desk.locator("form.report-day").is_visible()
    assert desk.locator("#cases").is_visible()
    shot(desk, "reports-daily-print")
