from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fangzhou.registry.tests.factories import World, build_world, place


@pytest.fixture
def placed(db: None, settings: Any) -> World:
    settings.FANGZHOU_ROUTE_TIME_LIMIT_S = 0.2
    return place(build_world())


def seal_b5(world: World, on: dt.date | None = None) -> None:
    """A neighbour in building 5 is confirmed positive: the compound is sealed (three-zone rules)."""
    from django.utils import timezone

    from fangzhou.cases.services import case_confirm
    from fangzhou.registry.models import Resident
    from fangzhou.registry.services import roster_import
    from fangzhou.registry.tests.factories import make_id, roster_sheet

    born = dt.date(1990, 3, 3)
    row = ["阳光小区", "5号楼", "202", "孙丽", make_id("310104", born, 7, False), "13500001111", "", "二网格"]
    roster_import(community=world.community, actor=None, sheet=roster_sheet([row]), filename="add.xlsx")
    case_confirm(
        resident=Resident.objects.get(name="孙丽"),
        report_date=on or timezone.localdate(),
        source="district",
        actor=None,
    )
