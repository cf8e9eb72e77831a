"""Draw a route plan on the site plan: buildings as rectangles, each trip as a coloured polyline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fangzhou.registry.models import Building
from fangzhou.supplies.models import RouteLeg, RoutePlan

# Distinguishable on a phone in sunlight and for most colour-blind readers (Okabe–Ito).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    label: str
    served: bool

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Line:
    index: int
    points: str
    colour: str
    volunteer: str


@dataclass
class PlanDrawing:
    view_box: str
    rects: list[Rect]
    lines: list[Line]
    start: tuple[float, float] | None
    font: float = 9.0  # label size in the drawing's units

    @property
    def dot(self) -> float:
        return self.font / 2


def route_plan_svg(plan: RoutePlan, legs: Sequence[RouteLeg]) -> PlanDrawing:
    """The trips over the buildings they serve. The drawing is cropped to those buildings, the
    trips and the start (not the whole community), and the labels are sized to the crop, so that
    on a 390 px phone the building numbers stay legible and the lines stay apart."""
    served = {int(s["building_id"]) for leg in legs for s in leg.stops}
    placed = [
        b
        for b in Building.objects.filter(community_id=plan.community_id, x__isnull=False, y__isnull=False)
        if b.x is not None and b.y is not None
    ]
    lines = [
        Line(
            leg.index + 1,
            " ".join(f"{x:.1f},{y:.1f}" for x, y in leg.polyline),
            COLOURS[leg.index % len(COLOURS)],
            str(leg.volunteer or ""),
        )
        for leg in legs
    ]
    xs: list[float] = []
    ys: list[float] = []
    for b in placed:
        if b.pk in served:
            assert b.x is not None and b.y is not None
            xs += [b.x - b.width / 2, b.x + b.width / 2]
            ys += [b.y - b.depth / 2, b.y + b.depth / 2]
    for leg in legs:
        xs += [p[0] for p in leg.polyline]
        ys += [p[1] for p in leg.polyline]
    start_info = plan.result.get("start") if isinstance(plan.result, dict) else None
    start = (float(start_info["x"]), float(start_info["y"])) if start_info else None
    if start:
        xs.append(start[0])
        ys.append(start[1])
    if not xs:  # nothing served or drawn: the whole plan
        for b in placed:
            assert b.x is not None and b.y is not None
            xs += [b.x - b.width / 2, b.x + b.width / 2]
            ys += [b.y - b.depth / 2, b.y + b.depth / 2]
    if not xs:
        return PlanDrawing("0 0 100 100", [], [], None)
    span = max(max(xs) - min(xs), max(ys) - min(ys), 40.0)
    pad = max(10.0, span / 14)  # room for the labels at the edge
    left, top = min(xs) - pad, min(ys) - pad
    width, height = max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad
    if height < width / 2:  # a row of buildings: not a strip too thin to read on a phone
        top -= (width / 2 - height) / 2
        height = width / 2
    # Neighbouring buildings inside the crop are drawn too (grey), for orientation.
    rects = [
        Rect(b.x - b.width / 2, b.y - b.depth / 2, b.width, b.depth, b.number, b.pk in served)
        for b in placed
        if b.x is not None
        and b.y is not None
        and left - b.width < b.x < left + width + b.width
        and top - b.depth < b.y < top + height + b.depth
    ]
    view_box = f"{left:.0f} {top:.0f} {width:.0f} {height:.0f}"
    # About 12 px on a phone (the drawing is ~340 px wide there, at most 560 px on a desk).
    font = max(width, height * 0.8) / 28
    return PlanDrawing(view_box, rects, lines, start, font)
