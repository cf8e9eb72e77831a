"""The public antigen page on a phone: identify, report, survive a failed submission, resend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Sample
from fangzhou.testing.services import round_create
from fangzhou.testing.tests.helpers import DAY
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    cache.clear()
    world = build_world()
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    return world


def _png() -> bytes:
    """A 2x2 PNG made by hand (no image library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _identify(phone: Any, page: str) -> None:
    """Open a building's public antigen page and identify room 101 by its phone's last digits."""
    phone.goto(page)
    phone.fill("input[name=room]", "101")
    phone.fill("input[name=phone4]", "1234")
    phone.click("#identify button")
    phone.wait_for_selector("#members fieldset")


def test_antigen_report_resent_after_a_failed_submission(
    live_server: Any, phone: Any, live_world: World, tmp_path: Any
) -> None:
    token = live_world.b3.public_token
    failed = {"n": 0}

    def fail_once(route: Any) -> None:
        if failed["n"] == 0:
            failed["n"] += 1
            route.abort()
        else:
            route.continue_()

    phone.route("**/submit/", fail_once)
    phone.goto(f"{live_server.url}/testing/a/{token}/")
    assert "3号楼" in phone.inner_text("h1")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.fill("input[name=room]", "101")
    phone.fill("input[name=phone4]", "1234")
    phone.click("#identify button")
    phone.wait_for_selector("#members fieldset")
    assert phone.locator("#members fieldset").count() == 2
    for fieldset in phone.locator("#members fieldset").all():
        fieldset.locator("input[value=negative]").check()
    # A photo of the strips (a small PNG), which must survive the failed submission too.
    strip = tmp_path / "strip.png"
    strip.write_bytes(_png())
    phone.set_input_files("#report input[type=file]", str(strip))
    phone.click("#send")
    # The first request is aborted: the page must not say "submitted", and keeps the report.
    phone.wait_for_selector("#queue:not([hidden])")
    assert "已提交" not in phone.inner_text("#status")
    assert "未发送" in phone.inner_text("#status")
    assert phone.evaluate(f"JSON.parse(localStorage.getItem('fz-antigen-queue:{token}')).length") == 1
    assert AntigenReport.objects.count() == 0
    shot(phone, "antigen-unsent")
    phone.click("#resend")
    expect(phone.locator("#status")).to_contain_text("已提交")  # not wait_for_function: the page's CSP forbids eval
    assert phone.evaluate(f"JSON.parse(localStorage.getItem('fz-antigen-queue:{token}')).length") == 0
    assert phone.locator("#queue").is_hidden()
    assert AntigenReport.objects.filter(result="negative").count() == 2
    assert AntigenSubmission.objects.count() == 1
    assert AntigenSubmission.objects.get().photo.name.endswith(".jpg")
    shot(phone, "antigen-submitted")


def test_sampling_desk_on_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    rnd = round_create(community=live_world.community, date=DAY, pool_size=10, actor=live_world.secretary)
    sign_in(phone, live_server.url, "sec", PASSWORD)
    phone.goto(f"{live_server.url}/testing/r/{rnd.pk}/desk/")
    phone.fill("#q", "101")
    phone.wait_for_selector(".results .desk-row")
    phone.locator(".desk-row form button").first.click()  # the whole household, one tap
    phone.wait_for_selector("#tube-code")
    assert phone.inner_text("#tube-fill") == "2/10"
    assert Sample.objects.filter(round=rnd).count() == 2
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "sampling-desk")


def test_all_negative_in_one_tap_with_the_members_still_listed(live_server: Any, phone: Any, live_world: World) -> None:
    token = live_world.b3.public_token
    _identify(phone, f"{live_server.url}/testing/a/{token}/")
    expect(phone.locator("#all-negative")).to_be_visible()
    assert "全部阴性" in phone.inner_text("#all-negative")
    phone.click("#all-negative")
    # every member is still listed, each with negative chosen (one can still be changed)
    legends = phone.locator("#members legend").all_inner_texts()
    assert sorted(legends) == ["张伟", "李娜"]
    assert phone.locator("#members input[value=negative]:checked").count() == 2
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "antigen-all-negative")
    phone.click("#send")
    expect(phone.locator("#status")).to_contain_text("已提交")
    assert sorted(AntigenReport.objects.values_list("result", flat=True)) == ["negative", "negative"]


def test_the_time_shown_after_sending_is_the_servers_not_the_phones(
    live_server: Any, phone: Any, live_world: World
) -> None:
    """A phone whose clock is hours wrong: "already reported today" shows when the server stored
    the report (the community's clock), not the phone's time."""
    wrong = timezone.now() + dt.timedelta(hours=5, minutes=17)
    phone.clock.set_fixed_time(wrong)
    token = live_world.b3.public_token
    _identify(phone, f"{live_server.url}/testing/a/{token}/")
    for fieldset in phone.locator("#members fieldset").all():
        fieldset.locator("input[value=negative]").check()
    phone.click("#send")
    expect(phone.locator("#status")).to_contain_text("已提交")
    stored = timezone.localtime(AntigenSubmission.objects.get().received_at).strftime("%H:%M")
    shown = phone.inner_text("#done-at")
    assert stored in shown and timezone.localtime(wrong).strftime("%H:%M") not in shown
