"""A community's whole site plan as one JSON document: buildings, roads, gates and open spaces.

A committee draws its plan once (from the estate's drawings, in metres) and loads it with
``fangzhou zones siteplan-import``; ``siteplan-export`` writes the same document back, so a plan
can be edited in a file and re-imported. The import goes through the registry's and zones' own
services; every bad entry is reported (where, why) and every good one is kept.

    {"compounds": [{"name": "华新一村",
                    "buildings": [{"building": "3号楼", "x": 40, "y": 30, "width": 40, "depth": 12,
                                   "floors": 6, "footprint": [[20, 24], [60, 24], [60, 36], [20, 36]]}],
                    "nodes": [{"key": "n1", "x": 0, "y": 0}, ...],
                    "roads": [{"a": "n1", "b": "n2", "width_m": 6, "name": "环路"}],
                    "gates": {"北门": "n1"},
                    "open_spaces": [{"name": "北广场", "x": 10, "y": 5, "kind": "open_space"}]}]}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from fangzhou.accounts.models import User
from fangzhou.registry.models import Building, Community, Compound
from fangzhou.registry.roster.normalize import CellError, building_number
from fangzhou.registry.services import PlacedBuilding, site_plan_apply_in_transaction
from fangzhou.zones.models import Gate, OpenSpace, Road, RoadNode
from fangzhou.zones.services import (
    NodeIn,
    RoadIn,
    ZoneError,
    open_space_upsert_in_transaction,
    site_roads_set_in_transaction,
)

MAX_BYTES = 5 * 1024 * 1024


@dataclass
class PlanProblem:
    where: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass
class PlanReport:
    buildings: int = 0
    roads: int = 0
    gates: int = 0
    open_spaces: int = 0
    rejected: list[PlanProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "buildings": self.buildings,
            "roads": self.roads,
            "gates": self.gates,
            "open_spaces": self.open_spaces,
            "rejected": [p.as_dict() for p in self.rejected],
        }


def _number(value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("需要数字 / a number is needed")
    if positive and value <= 0:
        raise ValueError("需要正数 / a positive number is needed")
    return float(value)


def site_plan_parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_BYTES:
        raise ZoneError("平面图文件过大（上限 5 MB）", "the site plan file is too large (limit 5 MB)")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZoneError(f"平面图不是有效的 JSON：{exc}", f"the site plan is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("compounds"), list):
        raise ZoneError("平面图缺少 compounds 列表", "the site plan needs a list of compounds")
    return document


def site_plan_import(*, community: Community, document: dict[str, Any], actor: User | None) -> PlanReport:
    """Place buildings and lay roads, gates and open spaces; report each bad entry, keep the good ones."""
    report = PlanReport()
    compounds = {c.name: c for c in Compound.objects.filter(community=community)}
    buildings = {(b.compound_id, b.number): b for b in Building.objects.filter(community=community)}
    with transaction.atomic(durable=True):
        placed: list[PlacedBuilding] = []
        for ci, entry in enumerate(document["compounds"], start=1):
            name = str(entry.get("name", "")).strip() if isinstance(entry, dict) else ""
            compound = compounds.get(name)
            if compound is None:
                report.rejected.append(
                    PlanProblem(
                        f"compounds[{ci}]", f"小区「{name}」不在花名册中 / compound {name!r} is not in the registry"
                    )
                )
                continue
            for bi, item in enumerate(entry.get("buildings", []), start=1):
                where = f"{name} buildings[{bi}]"
                try:
                    number = building_number(str(item.get("building", "")))
                    building = buildings.get((compound.pk, number))
                    if building is None:
                        raise ValueError(f"没有 {number} 号楼 / no building {number}")
                    footprint = [[_number(p[0]), _number(p[1])] for p in item.get("footprint", [])]
                    placed.append(
                        PlacedBuilding(
                            building.pk,
                            _number(item.get("x")),
                            _number(item.get("y")),
                            _number(item.get("width", 24), positive=True),
                            _number(item.get("depth", 12), positive=True),
                            int(_number(item.get("floors", 6), positive=True)),
                            footprint,
                        )
                    )
                except (CellError, ValueError, TypeError, IndexError, AttributeError) as exc:
                    report.rejected.append(PlanProblem(where, str(exc)))
            if "nodes" in entry or "roads" in entry:
                try:
                    nodes = [NodeIn(str(n["key"]), _number(n["x"]), _number(n["y"])) for n in entry.get("nodes", [])]
                    roads = [
                        RoadIn(str(r["a"]), str(r["b"]), _number(r["width_m"], positive=True), str(r.get("name", "")))
                        for r in entry.get("roads", [])
                    ]
                    gates = {str(k): str(v) for k, v in dict(entry.get("gates", {})).items()}
                    with transaction.atomic():  # a savepoint: a refused road graph leaves the old one whole
                        report.roads += site_roads_set_in_transaction(
                            compound=compound, nodes=nodes, roads=roads, gates=gates, actor=actor
                        )
                    report.gates += len(gates)
                except ZoneError as exc:
                    report.rejected.append(PlanProblem(f"{name} roads", exc.reason))
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    report.rejected.append(PlanProblem(f"{name} roads", f"道路数据无效 / bad road data: {exc}"))
            for si, space in enumerate(entry.get("open_spaces", []), start=1):
                try:
                    open_space_upsert_in_transaction(
                        compound=compound,
                        name=str(space["name"]),
                        x=_number(space["x"]),
                        y=_number(space["y"]),
                        kind=str(space.get("kind", OpenSpace.Kind.OPEN_SPACE)),
                        actor=actor,
                    )
                    report.open_spaces += 1
                except ZoneError as exc:
                    report.rejected.append(PlanProblem(f"{name} open_spaces[{si}]", exc.reason))
                except (KeyError, ValueError, TypeError) as exc:
                    report.rejected.append(PlanProblem(f"{name} open_spaces[{si}]", f"场地数据无效 / bad data: {exc}"))
        report.buildings = site_plan_apply_in_transaction(community=community, buildings=placed, actor=actor)
    return report


def site_plan_export(community: Community) -> dict[str, Any]:
    """The community's site plan as the document ``site_plan_import`` reads."""
    out: list[dict[str, Any]] = []
    for compound in Compound.objects.filter(community=community).order_by("id"):
        nodes = list(RoadNode.objects.filter(compound=compound).order_by("key"))
        by_id = {n.pk: n.key for n in nodes}
        out.append(
            {
                "name": compound.name,
                "buildings": [
                    {
                        "building": f"{b.number}号楼",
                        "x": b.x,
                        "y": b.y,
                        "width": b.width,
                        "depth": b.depth,
                        "floors": b.floors,
                        "footprint": b.footprint,
                    }
                    for b in Building.objects.filter(compound=compound).exclude(x=None).order_by("sort_key", "number")
                ],
                "nodes": [{"key": n.key, "x": n.x, "y": n.y} for n in nodes],
                "roads": [
                    {"a": by_id[r.a_id], "b": by_id[r.b_id], "width_m": r.width_m, "name": r.name}
                    for r in Road.objects.filter(compound=compound).order_by("id")
                ],
                "gates": {g.name: by_id[g.node_id] for g in Gate.objects.filter(compound=compound).order_by("name")},
                "open_spaces": [
                    {"name": s.name, "x": s.x, "y": s.y, "kind": s.kind}
                    for s in OpenSpace.objects.filter(compound=compound).order_by("name")
                ],
            }
        )
    return {"community": community.code, "compounds": out}
