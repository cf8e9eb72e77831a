"""A building leader's antigen follow-up in a community with two compounds that both have a 1号楼:
the grid, the positives and the search name each building with its compound, and a person is
found by the initials of their name. At 390 px, in Chinese and in English."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from fangzhou.accounts.models import Role
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.models import Building, Resident
from fangzhou.registry.services import compound_upsert, roster_import
from fangzhou.registry.tests.factories import PASSWORD, World, build_world, make_id, roster_sheet
from fangzhou.testing.services import antigen_report_submit
from tests.browser.conftest import shot, sign_in

BORN = dt.date(1968, 8, 8)


@pytest.fixture
def twins(transactional_db: None) -> World:
    cache.clear()
    world = build_world()
    rows = [
        ["华新一村", "1号楼", "101", "张三丰", make_id("310104", BORN, 31, True), "13811112222", "", "一网格"],
        ["华新一村", "1号楼", "102", "李四", make_id("310104", BORN, 32, True), "13811114444", "", "一网格"],
        ["华新二村", "1号楼", "101", "单田芳", make_id("310104", BORN, 33, True), "13811113333", "", "一网格"],
        ["华新二村", "1号楼", "102", "曾志伟", make_id("310104", BORN, 34, True), "", "", "一网格"],
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="twins.xlsx")
    compound_upsert(community=world.community, name="华新一村", short_name="一村")
    ones = list(Building.objects.filter(community=world.community, number="1"))
    assert len(ones) == 2
    user_upsert(
        username="leader1", password=PASSWORD, role=Role.BUILDING_LEADER, community=world.community, buildings=ones
    )
    shan = Resident.objects.get(name="单田芳")
    antigen_report_submit(
        household=shan.household, day=timezone.localdate(), results={shan.pk: "positive"}, client_id="twins-positive-1"
    )
    return world


def _english(page: Any, base: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_leader_follow_up_names_each_1hao_lou_with_its_compound(
    live_server: Any, phone: Any, twins: World, lang: str
) -> None:
    base = live_server.url
    if lang == "en":
        _english(phone, base)
    sign_in(phone, base, "leader1", PASSWORD)
    phone.goto(f"{base}/testing/antigen/c/{twins.community.code}/")
    grid = phone.locator(".glance")
    expect(grid).to_contain_text("华新一村 1号楼")
    expect(grid).to_contain_text("华新二村 1号楼")
    headings = [h.strip() for h in phone.locator(".glance h3 a").all_inner_texts()]
    assert headings == ["华新一村 1号楼", "华新二村 1号楼"]  # never two bare "1号楼"
    # The positive report names the flat with its compound.
    expect(phone.locator("#alerts")).to_contain_text("单田芳")
    expect(phone.locator("#alerts")).to_contain_text("华新二村 1号楼 101室")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, f"compound-antigen-grid-{lang}")

    # The building page of one of them says which compound it is.
    phone.locator(".glance h3 a", has_text="华新二村 1号楼").click()
    phone.wait_for_load_state("networkidle")
    expect(phone.locator("h1")).to_contain_text("华新二村 1号楼")
    shot(phone, f"compound-antigen-building-{lang}")

    # Search: "1-101" lists both doors, each with its compound; initials find the person.
    phone.goto(f"{base}/residents/?q=1-101")
    results = phone.locator(".results")
    expect(results).to_contain_text("华新一村 1号楼 101室")
    expect(results).to_contain_text("华新二村 1号楼 101室")
    assert phone.locator(".results li").count() == 2
    assert "13811112222" not in phone.content()  # masked as always
    shot(phone, f"compound-search-1-101-{lang}")
    phone.fill("input[type=search]", "zsf")
    expect(results).to_contain_text("张三丰")
    expect(results.locator("li")).to_have_count(1)
    expect(results).to_contain_text("华新一村 1号楼 101室")
    expect(results).to_contain_text("138****2222")
    shot(phone, f"compound-search-zsf-{lang}")
    phone.fill("input[type=search]", "一村1-102")
    expect(results).to_contain_text("李四")
    expect(results.locator("li")).to_have_count(1)
    phone.fill("input[type=search]", "shantianfang")
    expect(results).to_contain_text("单田芳")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    if lang == "en":
        assert "Search" in phone.inner_text("body")
