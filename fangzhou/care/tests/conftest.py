from __future__ import annotations

from typing import Any

import pytest

from fangzhou.registry.tests.factories import World, build_world, place


@pytest.fixture
def placed(db: None, settings: Any) -> World:
    settings.FANGZHOU_ROUTE_TIME_LIMIT_S = 0.2
    return place(build_world())
