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


def route_plan_svg(plan: RoutePlan, legs: Sequence[RouteLeg]) -> PlanDrawing:
    served = {int(s["building_id"]) for leg in legs for s in leg.stops}
    rects = [
        Rect(b.x - b.width / 2, b.y - b.depth / 2, b.width, b.depth, b.number, b.pk in served)
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
    xs = [r.x for r in rects] + [r.x + r.w for r in rects]
    ys = [r.y for r in rects] + [r.y + r.h for r in rects]
    for leg in legs:
        xs += [p[0] for p in leg.polyline]
        ys += [p[1] for p in leg.polyline]
    start_info = plan.result.get("start") if isinstance(plan.result, dict) else None
    start = (float(start_info["x"]), float(start_info["y"])) if start_info else None
    if start:
        xs.append(start[0])
        ys.append(start[1])
    if not xs:
        return PlanDrawing("0 0 100 100", [], [], None)
    pad = 15.0
    view_box = (
        f"{min(xs) - pad:.0f} {min(ys) - pad:.0f} {max(xs) - min(xs) + 2 * pad:.0f} {max(ys) - min(ys) + 2 * pad:.0f}"
    )
    return PlanDrawing(view_box, rects, lines, start)
