from __future__ import annotations

from fangzhou.registry.selectors import BuildingStat
from fangzhou.registry.siteplan import PALETTE, site_plan_svg


def stat(i: int, compound: str, x: float | None, households: int) -> BuildingStat:
    return BuildingStat(
        id=i,
        label=f"{i}号楼",
        compound=compound,
        compound_id=1,
        grid="",
        x=x,
        y=10.0 if x is not None else None,
        width=20,
        depth=10,
        footprint=[],
        households=households,
        residents=households * 3,
        special=0,
    )


def test_buildings_are_drawn_coloured_by_the_measure_and_compounds_named() -> None:
    plan = site_plan_svg(
        [stat(1, "甲小区", 10, 0), stat(2, "甲小区", 50, 40), stat(3, "乙小区", None, 5)], measure="households"
    )
    assert [s.label for s in plan.shapes] == ["1", "2"]
    assert plan.shapes[0].fill == PALETTE[0] and plan.shapes[1].fill == PALETTE[-1]
    assert plan.unplaced == 1
    assert [label.text for label in plan.labels] == ["甲小区"]
    assert plan.legend[0][1].startswith("0") and plan.legend[-1][1].endswith("40")


def test_legend_has_no_empty_or_repeated_buckets() -> None:
    plan = site_plan_svg([stat(1, "甲", 0, 1), stat(2, "甲", 30, 2)], measure="households")
    labels = [label for _, label in plan.legend]
    assert len(labels) == len(set(labels)) <= 3
