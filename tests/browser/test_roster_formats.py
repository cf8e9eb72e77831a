"""The secretary's roster upload in a real browser: a Big5 file is refused with the reason in
Chinese and English (never imported as garbage); Excel's Unicode text with a landline is read, and
the landline is masked on the building page and shown as written when revealed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from tests.browser.conftest import shot, sign_in

DESK_WIDE = {"width": 1366, "height": 900}
BIG5 = "樓號,室號,姓名,電話\n3號樓,501,張偉,13812345678\n3號樓,502,陳國華,021-64318888\n".encode("big5")
UNICODE_TEXT = (
    b"\xff\xfe"
    + "楼号\t室号\t姓名\t电话\t特殊人群\r\n3号楼\t601\t周阿婆\t021-6431 8888\t独居老人\r\n".encode("utf-16-le")
)


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return build_world()


def _upload(page: Any, base: str, code: str, path: Path) -> None:
    page.goto(f"{base}/c/{code}/roster/")
    page.set_input_files("input[type=file]", str(path))
    page.click("button[value=import]")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(("language", "width"), [("zh-hans", 390), ("en", 1366)])
def test_a_big5_roster_is_refused_with_what_to_do(
    live_server: Any, browser: Any, live_world: World, tmp_path: Path, language: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "sec", PASSWORD)
        path = tmp_path / "名单.csv"
        path.write_bytes(BIG5)
        before = Resident.objects.count()
        _upload(page, live_server.url, live_world.community.code, path)
        alert = page.inner_text(".error[role=alert]")
        assert "Big5" in alert and "请另存为 UTF-8 或 Excel 格式" in alert and "save it as UTF-8" in alert
        assert "張偉" not in page.content()
        assert Resident.objects.count() == before
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # the long message wraps
        shot(page, f"roster-big5-{language}-{width}")
    finally:
        context.close()


def test_unicode_text_with_a_landline_is_read_and_masked(
    live_server: Any, phone: Any, live_world: World, tmp_path: Path
) -> None:
    sign_in(phone, live_server.url, "sec", PASSWORD)
    path = tmp_path / "名单.txt"
    path.write_bytes(UNICODE_TEXT)
    _upload(phone, live_server.url, live_world.community.code, path)
    assert phone.inner_text("#n-created") == "1" and phone.inner_text("#n-rejected") == "0"
    shot(phone, "roster-unicode-text-phone")
    zhou = Resident.objects.get(name="周阿婆")
    assert (zhou.phone, zhou.phone_kind) == ("+862164318888", "landline")
    phone.goto(f"{live_server.url}/b/{live_world.b3.pk}/")
    row = phone.locator(f"#r{zhou.pk}")
    assert "021-****8888" in row.inner_text() and "64318888" not in row.inner_text()
    row.locator("button").click()
    phone.wait_for_selector(f"#s{zhou.pk}.shown")
    assert "021-64318888" in phone.inner_text(f"#s{zhou.pk}")
    shot(phone, "roster-landline-building-phone")
