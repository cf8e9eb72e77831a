"""Resident search in a community with two compounds that both have a 1号楼: places with and without
the compound or its short name, units, pinyin and initials; masked, one query, scoped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from fangzhou.registry.models import Resident
from fangzhou.registry.selectors import resident_search
from fangzhou.registry.services import compound_upsert, roster_import
from fangzhou.registry.tests.factories import PASSWORD, World, make_id, roster_sheet

BORN = dt.date(1975, 3, 9)


@pytest.fixture
def twins(world: World) -> World:
    """阳光小区 already has 3号楼 and 5号楼; add 1号楼 101 in two compounds, and a unit-room roster."""
    rows = [
        ["华新一村", "1号楼", "101", "张三丰", make_id("310104", BORN, 11, True), "13811112222", "", "一网格"],
        ["华新二村", "1号楼", "101", "单田芳", make_id("310104", BORN, 12, True), "13811113333", "", "一网格"],
        ["华新二村", "1号楼", "102", "曾志伟", make_id("310104", BORN, 13, True), "", "", "一网格"],
        ["锦绣华庭", "2号楼", "1-101", "吕布", make_id("310104", BORN, 14, True), "", "", "一网格"],
        ["锦绣华庭", "2号楼", "2-101", "貂蝉", make_id("310104", BORN, 15, False), "", "", "一网格"],
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="twins.xlsx")
    compound_upsert(community=world.community, name="华新一村", short_name="一村")
    compound_upsert(community=world.community, name="华新二村", short_name="二村")
    return world


def names(world: World, query: str) -> list[str]:
    return [r.name for r in resident_search(world.secretary, query, community=world.community)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Two 1号楼 101: both listed (each named with its compound, below), and unit 1 room 101 of a
        # roster that writes units into the room.
        ("1-101", ["张三丰", "单田芳", "吕布"]),
        ("1号楼101", ["张三丰", "单田芳"]),
        ("华新一村1号楼101", ["张三丰"]),
        ("华新二村 1号楼 101室", ["单田芳"]),
        ("一村1-101", ["张三丰"]),  # short name
        ("二村1-102", ["曾志伟"]),
        ("二村1号楼", ["单田芳", "曾志伟"]),
        ("2-1-101", ["吕布"]),  # building 2, unit 1, room 101 of a roster that writes "1-101"
        ("2号楼2单元101", ["貂蝉"]),
        ("锦绣2-2-101", ["貂蝉"]),
        ("zsf", ["张三丰"]),
        ("zw", ["张伟", "曾志伟"]),  # initials anywhere in the key: 曾志伟 is zzw
        ("zhang", ["张伟", "张三丰"]),  # 阳光小区's 张伟 too
        ("Zhang Sanfeng", ["张三丰"]),
        ("shantianfang", ["单田芳"]),  # 单 as a surname is Shan
        ("dan", ["单田芳"]),  # and the everyday reading still finds him
        ("zeng", ["曾志伟"]),
        ("lvbu", ["吕布"]),
        ("张三", ["张三丰"]),
        ("8111", []),
        ("13811113333", ["单田芳"]),
        ("三村1-101", []),
        ("9-101", []),
    ],
)
def test_search_forms(twins: World, query: str, expected: list[str]) -> None:
    assert names(twins, query) == expected


def test_the_results_page_names_each_building_with_its_compound(twins: World, client: Client) -> None:
    assert client.login(username=twins.secretary.username, password=PASSWORD)
    html = client.get("/residents/", {"q": "1-101"}).content.decode()
    assert "华新一村 1号楼 101室" in html
    assert "华新二村 1号楼 101室" in html
    assert "13811112222" not in html  # still masked
    assert "138****2222" in html


def test_search_is_one_query_whatever_the_form(twins: World, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    for query in ("zsf", "华新一村1号楼101", "1-1-101", "张三", "1201"):
        with django_assert_num_queries(1):
            found = resident_search(twins.secretary, query, community=twins.community)
            [r.household.full_label for r in found]


def test_a_building_leader_finds_only_in_own_buildings(twins: World) -> None:
    assert [r.name for r in resident_search(twins.leader, "zsf")] == []
    assert [r.name for r in resident_search(twins.leader, "zw")] == ["张伟"]


def test_the_key_follows_a_change_of_name(twins: World) -> None:
    person = Resident.objects.get(name="张三丰")
    person.name = "单雄信"
    person.save(update_fields=["name"])
    person.refresh_from_db()
    assert "shanxiongxin" in person.search_key.split()
    assert names(twins, "sxx") == ["单雄信"]


def test_the_roster_import_keeps_the_key(twins: World) -> None:
    rows = [["华新一村", "1号楼", "101", "张三峰", make_id("310104", BORN, 11, True), "13811112222", "", "一网格"]]
    roster_import(community=twins.community, actor=None, sheet=roster_sheet(rows), filename="fix.xlsx")
    assert Resident.objects.get(name="张三峰").search_key == "zhangsanfeng zsf"
    assert all(r.search_key for r in Resident.objects.all())
