"""Test data built through the real services: a tiny community and a set of personas."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.services import user_upsert
from fangzhou.lib.sheets import Sheet
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.registry.roster.normalize import Cell, id_check_digit
from fangzhou.registry.services import PlacedBuilding, community_create, roster_import, site_plan_apply

HEADER = ["小区", "楼号", "室号", "姓名", "证件号码", "手机号", "特殊人群", "网格"]
PASSWORD = "correct-horse-battery"


def make_id(region: str, born: dt.date, seq: int, male: bool) -> str:
    """A valid resident ID number (GB 11643) for tests."""
    order = seq * 2 + (1 if male else 0)
    body = f"{region}{born:%Y%m%d}{order:03d}"
    return body + id_check_digit(body)


@dataclass
class World:
    community: Community
    other: Community
    secretary: User
    leader: User
    grid_leader: User
    volunteer: User
    outsider: User
    officer: User
    b3: Building
    b5: Building
    other_building: Building

    def resident(self, name: str) -> Resident:
        return Resident.objects.get(name=name)


def roster_sheet(rows: list[list[Cell]]) -> Sheet:
    header: list[Cell] = list(HEADER)
    return Sheet([(1, header)] + [(i + 2, list(r)) for i, r in enumerate(rows)])


def build_world() -> World:
    community = community_create(code="T01", name="测试居民区", subdistrict_name="测试街道")
    other = community_create(code="T02", name="另一居民区", subdistrict_name="别的街道")
    born = dt.date(1980, 5, 17)
    rows: list[list[Cell]] = [
        ["阳光小区", "3号楼", "101", "张伟", make_id("310104", born, 1, True), "13800001234", "", "一网格"],
        ["阳光小区", "3号楼", "101", "李娜", make_id("310104", born, 2, False), "13900005678", "", "一网格"],
        [
            "阳光小区",
            "3号楼",
            "102",
            "王秀英",
            make_id("310104", dt.date(1940, 1, 2), 3, False),
            "",
            "独居老人",
            "一网格",
        ],
        ["阳光小区", "5号楼", "201", "刘洋", make_id("310104", born, 4, True), "13700009999", "血透", "二网格"],
    ]
    roster_import(community=community, actor=None, sheet=roster_sheet(rows), filename="t.xlsx")
    roster_import(
        community=other,
        actor=None,
        sheet=roster_sheet(
            [["河畔小区", "1", "301", "赵敏", make_id("310105", born, 5, False), "13600004321", "", ""]]
        ),
        filename="o.xlsx",
    )
    b3 = Building.objects.get(community=community, number="3")
    b5 = Building.objects.get(community=community, number="5")
    other_building = Building.objects.get(community=other)
    grid = b3.grid
    assert grid is not None
    return World(
        community=community,
        other=other,
        secretary=user_upsert(username="sec", password=PASSWORD, role=Role.SECRETARY, community=community),
        leader=user_upsert(
            username="leader3", password=PASSWORD, role=Role.BUILDING_LEADER, community=community, buildings=[b3]
        ),
        grid_leader=user_upsert(
            username="grid1", password=PASSWORD, role=Role.GRID_LEADER, community=community, grids=[grid]
        ),
        volunteer=user_upsert(username="vol", password=PASSWORD, role=Role.VOLUNTEER, community=community),
        outsider=user_upsert(username="outsider", password=PASSWORD, role=Role.SECRETARY, community=other),
        officer=user_upsert(
            username="officer", password=PASSWORD, role=Role.SUBDISTRICT_OFFICER, subdistrict=community.subdistrict
        ),
        b3=b3,
        b5=b5,
        other_building=other_building,
    )


def place(world: World) -> World:
    """Put the world's two buildings of 阳光小区 on the site plan (3号楼 north of 5号楼)."""
    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 40, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 40, 80, 40, 12, 6, []),
        ],
    )
    return world
