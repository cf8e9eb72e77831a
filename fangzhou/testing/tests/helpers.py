"""Test data for testing: a round sampled through the real services, lab files as CSV bytes."""

from __future__ import annotations

import datetime as dt

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import Round
from fangzhou.testing.services import round_create, sample_take

DAY = dt.date(2022, 4, 12)


def csv_bytes(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in rows) + "\n").encode("utf-8")


def sampled_round(world: World, pool_size: int = 10) -> Round:
    """A round of the world's community; every household sampled at desk 1 with household pooling."""
    rnd = round_create(community=world.community, date=DAY, pool_size=pool_size, actor=world.secretary)
    by_household: dict[int, list[Resident]] = {}
    for r in Resident.objects.filter(community=world.community).order_by("household_id", "id"):
        by_household.setdefault(r.household_id, []).append(r)
    for members in by_household.values():
        sample_take(round=rnd, residents=members, actor=world.secretary, station="desk-1")
    return rnd
