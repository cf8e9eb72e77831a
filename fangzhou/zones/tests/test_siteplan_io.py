"""The site plan as a file: export, edit, import back; bad entries reported, good ones kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fangzhou.cli import main
from fangzhou.registry.models import Building
from fangzhou.registry.services import PlacedBuilding, site_plan_apply
from fangzhou.registry.tests.factories import World
from fangzhou.zones.demo import zones_demo_site
from fangzhou.zones.models import Gate, Road

pytestmark = pytest.mark.django_db


def _placed(world: World) -> None:
    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 40, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 40, 80, 40, 12, 6, []),
        ],
    )
    zones_demo_site(world.community)


def test_export_then_import_round_trips(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _placed(world)
    roads_before = sorted(Road.objects.values_list("a__key", "b__key", "width_m"))
    out = tmp_path / "plan.json"
    assert main(["zones", "siteplan-export", "--community", world.community.code, "-o", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["compounds"][0]["buildings"][0]["building"] == "3号楼"
    # Move building 3 in the file and import it back.
    document["compounds"][0]["buildings"][0]["x"] = 55
    out.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["zones", "siteplan-import", str(out), "--community", world.community.code, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["rejected"] == [] and report["buildings"] == 2 and report["gates"] >= 1
    assert Building.objects.get(pk=world.b3.pk).x == 55
    assert sorted(Road.objects.values_list("a__key", "b__key", "width_m")) == roads_before
    assert Gate.objects.exists()


def test_bad_entries_are_reported_and_good_ones_kept(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {
        "compounds": [
            {"name": "不存在小区", "buildings": []},
            {
                "name": "阳光小区",
                "buildings": [
                    {"building": "3号楼", "x": 10, "y": 20},
                    {"building": "99号楼", "x": 10, "y": 20},
                    {"building": "5", "x": "east", "y": 20},
                ],
                "nodes": [{"key": "a", "x": 0, "y": 0}],
                "roads": [{"a": "a", "b": "z", "width_m": 4}],
                "gates": {},
            },
        ]
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert main(["zones", "siteplan-import", str(path), "--community", world.community.code, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    where = [p["where"] for p in report["rejected"]]
    assert where == ["compounds[1]", "阳光小区 buildings[2]", "阳光小区 buildings[3]", "阳光小区 roads"]
    assert report["buildings"] == 1 and Building.objects.get(pk=world.b3.pk).x == 10


def test_not_json_is_refused_with_exit_2(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\x89PNG")
    assert main(["zones", "siteplan-import", str(path), "--community", world.community.code]) == 2
    assert "JSON" in capsys.readouterr().err
