"""Roads, gates and open spaces for the demo's site plans.

``zones_demo_site(community)`` lays, for every compound whose buildings have coordinates, a
ring road around the buildings and a lane between each pair of building rows, with a node
in front of every building, two gates on the compound's edge (north-west and south-east) and
an open space at the west end of each lane. Running it again gives the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from fangzhou.accounts.models import User
from fangzhou.registry.models import Building, Community
from fangzhou.zones.models import OpenSpace
from fangzhou.zones.services import NodeIn, RoadIn, open_space_upsert, site_roads_set

RING_WIDTH_M = 6.0
LANE_WIDTH_M = 4.0
MARGIN_M = 7.0


@dataclass
class _Row:
    buildings: list[Building]

    @property
    def top(self) -> float:
        return min(float(b.y or 0) - b.depth / 2 for b in self.buildings)

    @property
    def bottom(self) -> float:
        return max(float(b.y or 0) + b.depth / 2 for b in self.buildings)


def _rows(buildings: list[Building]) -> list[_Row]:
    rows: list[_Row] = []
    for b in sorted(buildings, key=lambda b: (b.y or 0, b.x or 0)):
        if rows and abs(float(b.y or 0) - float(rows[-1].buildings[0].y or 0)) <= b.depth / 2:
            rows[-1].buildings.append(b)
        else:
            rows.append(_Row([b]))
    return rows


def zones_demo_site(community: Community, actor: User | None = None) -> int:
    """Lay roads, gates and open spaces on every placed compound; returns the number of roads."""
    total = 0
    for compound in community.compounds.all():
        placed = list(Building.objects.filter(compound=compound, x__isnull=False, y__isnull=False))
        if not placed:
            continue
        rows = _rows(placed)
        west = min(float(b.x or 0) - b.width / 2 for b in placed) - MARGIN_M
        east = max(float(b.x or 0) + b.width / 2 for b in placed) + MARGIN_M
        lines = [rows[0].top - MARGIN_M]
        lines += [(a.bottom + b.top) / 2 for a, b in pairwise(rows)]
        lines.append(rows[-1].bottom + MARGIN_M)
        nodes: list[NodeIn] = []
        roads: list[RoadIn] = []
        ends: list[tuple[str, str]] = []
        for i, y in enumerate(lines):
            near = [r for j, r in enumerate(rows) if j in (i - 1, i)]
            xs = sorted({round(float(b.x or 0), 1) for r in near for b in r.buildings})
            keys: list[str] = []
            for k, x in enumerate([round(west, 1), *xs, round(east, 1)]):
                key = f"r{i}_{k}"
                nodes.append(NodeIn(key, x, round(y, 1)))
                keys.append(key)
            outer = i in (0, len(lines) - 1)
            width = RING_WIDTH_M if outer else LANE_WIDTH_M
            name = "环路" if outer else f"{i}号巷"
            roads += [RoadIn(a, b, width, name) for a, b in pairwise(keys)]
            ends.append((keys[0], keys[-1]))
        for side in (0, 1):
            roads += [RoadIn(a[side], b[side], RING_WIDTH_M, "环路") for a, b in pairwise(ends)]
        gates = {"北门": ends[0][0], "南门": ends[-1][1]}
        total += site_roads_set(compound=compound, nodes=nodes, roads=roads, gates=gates, actor=actor)
        for i, y in enumerate(lines[1:-1], start=1):
            open_space_upsert(
                compound=compound,
                name=f"空地{i}",
                x=round(west + 4, 1),
                y=round(y, 1),
                actor=actor,
                kind=OpenSpace.Kind.OPEN_SPACE,
            )
        if len(lines) == 2:
            open_space_upsert(compound=compound, name="空地1", x=round(west + 4, 1), y=round(lines[0], 1), actor=actor)
    return total
