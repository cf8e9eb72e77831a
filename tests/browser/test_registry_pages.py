"""What a tired volunteer or a social worker sees on a phone and at a desk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import PASSWORD, World, build_world, make_id, place
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    world = place(build_world())
    return world


def test_sign_in_overview_and_search_on_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    sign_in(phone, live_server.url, "sec", PASSWORD)
    assert "测试居民区" in phone.inner_text("h1")
    # The site plan (first, coloured by zone) draws both buildings from their coordinates.
    assert phone.locator("#zone-plan svg.plan polygon").count() == 2
    # Nothing overflows a 390 px screen sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "overview-phone")
    phone.fill("form.search input[name=q]", "5678")
    phone.click("form.search button")
    phone.wait_for_selector(".results li")
    results = phone.inner_text(".results")
    assert "李娜" in results and "139****5678" in results
    assert "13900005678" not in phone.content()
    # Live search by name as the user types (htmx).
    phone.fill("input[type=search]", "王秀")
    expect(phone.locator(".results")).to_contain_text("王秀英")  # not wait_for_function: the CSP forbids eval
    shot(phone, "search-phone")


def test_building_page_masks_and_unmasking_is_logged(live_server: Any, phone: Any, live_world: World) -> None:
    from fangzhou.accounts.models import AuditLog

    sign_in(phone, live_server.url, "leader3", PASSWORD)
    phone.goto(f"{live_server.url}/b/{live_world.b3.pk}/")
    zhang = Resident.objects.get(name="张伟")
    row = phone.locator(f"#r{zhang.pk}")
    assert "3101**********" in row.inner_text()
    row.locator("button").click()
    phone.wait_for_selector(f"#s{zhang.pk}.shown")
    # A building leader calls households: the phone is shown, the ID number never (docs/security.md).
    assert zhang.phone == "+8613800001234" and "13800001234" in row.inner_text()  # stored E.164, shown as written
    assert zhang.id_number not in row.inner_text() and "3101**********" in row.inner_text()
    assert AuditLog.objects.filter(
        action="resident.unmask", target_id=str(zhang.pk), actor__username="leader3"
    ).exists()
    # Another building is not theirs: 404, not the data.
    response = phone.goto(f"{live_server.url}/b/{live_world.b5.pk}/")
    assert response.status == 404


def test_roster_upload_reports_the_bad_row(live_server: Any, desk: Any, live_world: World, tmp_path: Any) -> None:
    good = make_id("310104", dt.date(1990, 6, 1), 21, True)
    csv_file = tmp_path / "花名册.csv"
    csv_file.write_text(
        "居民花名册\n"
        "小区,楼号,室号,姓名,身份证号,手机号\n"
        f"阳光小区,3号楼,301,何平,{good},13811112222\n"
        "阳光小区,3号楼,302,邓超,310104199006011234,13811113333\n",
        encoding="utf-8-sig",
    )
    sign_in(desk, live_server.url, "sec", PASSWORD)
    desk.goto(f"{live_server.url}/c/{live_world.community.code}/roster/")
    desk.set_input_files("input[type=file]", str(csv_file))
    desk.click("button[value=preview]")
    desk.wait_for_selector("#report")
    assert desk.inner_text("#n-created") == "1"
    assert not Resident.objects.filter(name="何平").exists()
    desk.set_input_files("input[type=file]", str(csv_file))
    desk.click("button[value=import]")
    desk.wait_for_selector("#rejected")
    table = desk.inner_text("#rejected")
    # the column as the sheet names it (身份证号), never the importer's key (id_number)
    assert (
        "4" in table
        and "身份证号" in table
        and "id_number" not in table
        and "校验位" in table
        and "check digit" in table
    )
    assert Resident.objects.filter(name="何平").exists()
    shot(desk, "roster-upload-desk")


def test_language_switch_to_english(live_server: Any, phone: Any, live_world: World) -> None:
    phone.goto(f"{live_server.url}/accounts/login/")
    assert "登录" in phone.inner_text("h1")
    phone.click("button[name=language]")
    phone.wait_for_load_state("networkidle")
    assert "Sign in" in phone.inner_text("h1")
