"""Draw a community's site plan as SVG from building coordinates (server-side, no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fangzhou.registry.selectors import BuildingStat

# Light to dark blue: readable in sunlight on a phone and for most colour-blind readers.
PALETTE = ("#e8f1fb", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")


@dataclass
class PlanShape:
    id: int
    label: str
    points: str
    cx: float
    cy: float
    fill: str
    value: int
    title: str


@dataclass
class PlanLabel:
    x: float
    y: float
    text: str


@dataclass
class SitePlan:
    view_box: str
    shapes: list[PlanShape]
    legend: list[tuple[str, str]]
    unplaced: int
    labels: list[PlanLabel] = field(default_factory=list)


def _colour(value: int, top: int) -> str:
    if top <= 0:
        return PALETTE[0]
    index = min(len(PALETTE) - 1, int(value / top * (len(PALETTE) - 1) + 0.5))
    return PALETTE[index]


def site_plan_svg(buildings: Sequence[BuildingStat], *, measure: str) -> SitePlan:
    placed = [b for b in buildings if b.x is not None and b.y is not None]
    if not placed:
        return SitePlan("0 0 100 100", [], [], len(buildings))
    values = {b.id: int(getattr(b, measure)) for b in placed}
    top = max(values.values()) or 1
    shapes = []
    xs: list[float] = []
    ys: list[float] = []
    for b in placed:
        assert b.x is not None and b.y is not None
        if b.footprint:
            corners = [(float(p[0]), float(p[1])) for p in b.footprint]
        else:
            hw, hd = b.width / 2, b.depth / 2
            corners = [(b.x - hw, b.y - hd), (b.x + hw, b.y - hd), (b.x + hw, b.y + hd), (b.x - hw, b.y + hd)]
        xs.extend(c[0] for c in corners)
        ys.extend(c[1] for c in corners)
        shapes.append(
            PlanShape(
                id=b.id,
                label=b.label.replace("号楼", ""),
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in corners),
                cx=b.x,
                cy=b.y,
                fill=_colour(values[b.id], top),
                value=values[b.id],
                title=f"{b.full_label}: {values[b.id]}",
            )
        )
    # Name each compound above its top-left building.
    corners_by_compound: dict[str, tuple[float, float]] = {}
    for shape, b in zip(shapes, placed, strict=True):
        xs_b = [float(v.split(",")[0]) for v in shape.points.split()]
        ys_b = [float(v.split(",")[1]) for v in shape.points.split()]
        left, upper = corners_by_compound.get(b.compound, (min(xs_b), min(ys_b)))
        corners_by_compound[b.compound] = (min(left, min(xs_b)), min(upper, min(ys_b)))
    labels = [PlanLabel(x, y - 8, name) for name, (x, y) in corners_by_compound.items()]
    ys.extend(label.y - 10 for label in labels)
    pad = 20.0
    view_box = (
        f"{min(xs) - pad:.0f} {min(ys) - pad:.0f} {max(xs) - min(xs) + 2 * pad:.0f} {max(ys) - min(ys) + 2 * pad:.0f}"
    )
    # Legend: the value range each colour stands for, as whole numbers, without empty buckets.
    ranges: dict[str, list[int]] = {}
    for value in range(top + 1):
        ranges.setdefault(_colour(value, top), []).append(value)
    legend = [
        (colour, f"{vals[0]}" if vals[0] == vals[-1] else f"{vals[0]}–{vals[-1]}")
        for colour in PALETTE
        if (vals := ranges.get(colour))
    ]
    return SitePlan(view_box, shapes, legend, len(buildings) - len(placed), labels)
