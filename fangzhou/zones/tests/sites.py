"""A compound with a lane between two buildings and a third building at the lane's dead end.

    gate G (50,0)
        |
[3号楼] M [5号楼]      row at y=30 (the lane runs between them)
        |
        E (50,75)
     [7号楼]           y=90, reached only through the lane
"""

from __future__ import annotations

import datetime as dt

from fangzhou.registry.models import Building
from fangzhou.registry.services import PlacedBuilding, roster_import, site_plan_apply
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.zones.services import NodeIn, RoadIn, open_space_upsert, site_roads_set


def lay_site(world: World) -> Building:
    roster_import(
        community=world.community,
        actor=None,
        sheet=roster_sheet(
            [["阳光小区", "7号楼", "301", "陈静", make_id("310104", dt.date(1985, 3, 3), 7, False), "", "", "二网格"]]
        ),
        filename="more.xlsx",
    )
    b7 = Building.objects.get(community=world.community, number="7")
    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 20, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 80, 30, 40, 12, 6, []),
            PlacedBuilding(b7.pk, 50, 90, 40, 12, 6, []),
        ],
    )
    compound = world.b3.compound
    site_roads_set(
        compound=compound,
        nodes=[NodeIn("G", 50, 0), NodeIn("M", 50, 30), NodeIn("E", 50, 75)],
        roads=[RoadIn("G", "M", 5.0, "中央路"), RoadIn("M", "E", 5.0, "中央路")],
        gates={"北门": "G"},
        actor=None,
    )
    open_space_upsert(compound=compound, name="小广场", x=-15, y=30, actor=None)
    open_space_upsert(compound=compound, name="停车场", x=120, y=90, actor=None)
    return b7
