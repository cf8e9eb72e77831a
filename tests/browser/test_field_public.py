"""Field walk (issue 10): the overview opens on what needs action, door lists and routes on a
phone, the building's link copied for a WeChat group. At 390 px and 1366 px, Chinese and English."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.cache import cache

from fangzhou.care.services import care_registry_sync
from fangzhou.registry.services import building_tokens_ensure, roster_import
from fangzhou.registry.tests.factories import PASSWORD, World, build_world, place, roster_sheet
from fangzhou.supplies import services
from fangzhou.supplies.models import Delivery, DeliveryStatus, RoutePlan
from tests.browser.conftest import PHONE, shot, sign_in

WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def field_world(transactional_db: None) -> World:
    cache.clear()
    world = place(build_world())
    rows: list[list[object]] = [
        ["阳光小区", "3号楼", room, name, "", phone, "", "一网格"]
        for room, name, phone in (("1001", "赵一", "13811110001"), ("201", "钱二", "13811110002"))
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="more.xlsx")
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    care_registry_sync(community=world.community, actor=None)
    return world


def _page(browser: Any, viewport: dict[str, int], lang: str) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=viewport["width"] < 500)
    if lang == "en":
        context.add_cookies([{"name": "django_language", "value": "en", "domain": "localhost", "path": "/"}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


@pytest.mark.parametrize(("viewport", "lang"), [(PHONE, "zh-hans"), (PHONE, "en"), (WIDE, "zh-hans")])
def test_overview_opens_on_the_zone_plan_counts_then_grouped_risks(
    live_server: Any, browser: Any, field_world: World, viewport: dict[str, int], lang: str
) -> None:
    page = _page(browser, viewport, lang)
    sign_in(page, live_server.url, "sec", PASSWORD)
    page.goto(f"{live_server.url}/c/{field_world.community.code}/")
    tops = [page.locator(sel).bounding_box()["y"] for sel in ("#zone-plan", "#counts", "#at-risk")]
    assert tops == sorted(tops), "zone plan, then counts, then the at-risk list"
    assert page.locator("#zone-plan svg.zone-plan polygon.bldg").count() == 2  # coloured by zone
    assert page.locator("#zone-plan .zone-counts li").count() >= 2
    groups = page.locator("#at-risk details.risk-group")
    assert groups.count() >= 1
    assert page.locator("#at-risk details[open]").count() == 0  # collapsed: a register does not open the day
    assert page.locator("#at-risk li:visible").count() == 0
    alone = page.locator("#at-risk details[data-group=alone]")
    alone.locator("summary").click()
    assert "王秀英" in alone.inner_text() and "阳光小区 3号楼 102" in alone.inner_text()
    assert page.locator("#building-list[open]").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shot(page, f"field-overview-{viewport['width']}-{lang}")
    page.context.close()


def _plan(world: World) -> tuple[int, int]:
    dist = services.distribution_create(
        community=world.community,
        name="政府包",
        kind="government",
        on=dt.date(2022, 4, 20),
        package={"大米": 1},
        actor=None,
    )
    services.distribution_allocate(distribution=dist, actor=None)
    services.route_plan_request(
        community=world.community,
        actor=None,
        building_ids=[world.b3.pk, world.b5.pk],
        volunteer_ids=[world.volunteer.pk],
        capacity=20,
        distribution=dist,
        time_limit_s=0.3,
    )
    return dist.pk, RoutePlan.objects.get().pk


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_door_list_and_route_on_a_phone(live_server: Any, browser: Any, field_world: World, lang: str) -> None:
    dist_id, plan_id = _plan(field_world)
    page = _page(browser, PHONE, lang)
    sign_in(page, live_server.url, "sec", PASSWORD)

    page.goto(f"{live_server.url}/supplies/d/{dist_id}/b/{field_world.b3.pk}/")
    assert page.locator("ul.doors .room").all_inner_texts() == ["101", "102", "201", "1001"]
    buttons = page.locator("form.mark button")
    assert set(buttons.all_inner_texts()) == {"标记送达" if lang == "zh-hans" else "Mark delivered"}
    buttons.first.click()
    page.wait_for_selector("ul.doors li.delivered")
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1
    assert page.inner_text("#done-count") == "1"
    shot(page, f"field-doors-390-{lang}")

    page.goto(f"{live_server.url}/supplies/routes/{plan_id}/")
    svg = page.locator("svg.routes").bounding_box()
    assert svg is not None and svg["x"] >= 0 and svg["x"] + svg["width"] <= PHONE["width"]
    labels = page.locator("svg.routes text.route-label.served")
    assert labels.count() == 2
    for box in (labels.nth(i).bounding_box() for i in range(labels.count())):
        assert box is not None and box["height"] >= 10  # legible on the phone, not a 3 px speck
    stops = " ".join(page.locator("ol.stops").all_inner_texts())
    assert "101 → 102 → 201 → 1001" in stops
    assert not re.search(r"\binf\b", page.inner_text("body"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, f"field-route-390-{lang}")
    page.context.close()


def test_building_link_is_copied_as_text_for_a_wechat_group(live_server: Any, browser: Any, field_world: World) -> None:
    page = _page(browser, PHONE, "zh-hans")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server.url, "leader3", PASSWORD)
    page.goto(f"{live_server.url}/testing/antigen/b/{field_world.b3.pk}/")
    token = field_world.b3.public_token
    link = page.locator("#link-antigen")
    assert link.inner_text() == f"{live_server.url}/testing/a/{token}/"  # shown as text, selectable
    assert page.locator("#link-home").inner_text() == f"{live_server.url}/p/{token}/"
    page.click("button[data-copy=link-antigen]")
    # The clipboard answers asynchronously: wait for the button to say so (it says it for 2.5 s).
    page.wait_for_function(
        "document.querySelector('button[data-copy=link-antigen]').textContent === '已复制'", timeout=5000
    )
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/testing/a/{token}/"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "field-share-390-zh")
    page.context.close()
