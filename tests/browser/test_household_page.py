"""The household page at 390 px, in Chinese and English: from the building's QR page, room + the
last 4 digits, the page of one household; the building leader's group text copied in one tap."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from fangzhou.notices.models import Notice
from fangzhou.portal.tests.conftest import notice_to
from fangzhou.registry.models import Household
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.testing.services import round_create, sample_take
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None, settings: Any) -> World:
    cache.clear()
    settings.VAPID_PUBLIC_KEY = (
        "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"
    )
    world = build_world()
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    rnd = round_create(community=world.community, date=timezone.localdate(), actor=world.secretary)
    sample_take(round=rnd, residents=[world.resident("张伟")], actor=world.secretary, station="A")
    household = Household.objects.get(building=world.b3, room="101")
    notice_to(
        household, zh="3号楼101室：物资已放门口，请及时取回。", en="Room 101: supplies at your door.", key="walk-1"
    )
    return world


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 392


def test_a_resident_opens_their_household_page_in_chinese_and_english(
    live_server: Any, phone: Any, live_world: World
) -> None:
    token = live_world.b3.public_token
    phone.goto(f"{live_server.url}/p/{token}/")
    phone.get_by_role("link", name="我家：一页看全").click()
    phone.fill("input[name=room]", "101")
    phone.fill("input[name=phone4]", "0000")
    phone.get_by_role("button", name="打开本户页面").click()
    expect(phone.locator("#enter-error")).to_contain_text("不匹配")
    shot(phone, "household-enter-wrong-zh")
    phone.fill("input[name=phone4]", "1234")
    phone.get_by_role("button", name="打开本户页面").click()
    expect(phone.locator("h1")).to_contain_text("3号楼 101室")
    expect(phone.locator("#notices")).to_contain_text("物资已放门口")
    expect(phone.locator("#pcr")).to_contain_text("已采样，结果未出")
    expect(phone.locator("#pcr")).to_contain_text("尚未采样")
    expect(phone.locator("#push-on")).to_be_visible()
    _no_sideways_scroll(phone)
    shot(phone, "household-page-zh")
    phone.get_by_role("button", name="EN").click()
    expect(phone.locator("#antigen h2")).to_contain_text("Today's antigen report")
    expect(phone.locator("#notices")).to_contain_text("Room 101: supplies at your door.")
    _no_sideways_scroll(phone)
    shot(phone, "household-page-en")
    phone.get_by_role("button", name="Not my phone").click()
    expect(phone.get_by_role("link", name="My household: everything on one page")).to_be_visible()


def test_a_building_leader_copies_the_group_text_in_one_tap(live_server: Any, phone: Any, live_world: World) -> None:
    notice = Notice.objects.create(
        community=live_world.community,
        kind="custom",
        text_zh="3号楼 14:00 下楼做核酸，请保持两米间距。",
        text_en="Building 3: PCR sampling at 14:00, keep two metres apart.",
        audience="building",
        audience_args={"building_id": live_world.b3.pk},
        event_key="walk-b3",
    )
    phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(phone, live_server.url, "leader3", PASSWORD)
    phone.goto(f"{live_server.url}/portal/group/")
    phone.locator(f"a[href='/portal/group/{notice.pk}/{live_world.b3.pk}/']").click()
    phone.get_by_role("button", name="一键复制").click()
    expect(phone.locator("#copy-state")).to_contain_text("已")
    copied = phone.evaluate("navigator.clipboard.readText()")
    assert "14:00 下楼做核酸" in copied and f"/p/{live_world.b3.public_token}/" in copied
    _no_sideways_scroll(phone)
    shot(phone, "group-text-zh")
