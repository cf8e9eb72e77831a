"""Tests for the road-graph access check of micro sealed zones (pure Python)."""
# ruff: noqa: S101, RUF100

from __future__ import annotations

import math

import pytest

from fangzhou.zones.access import (
    VEHICLE_CLASSES,
    Node,
    OpenSpace,
    Road,
    SealedBlock,
    SitePlan,
    Target,
    check_access,
    nearest_open_space,
)

AMB = VEHICLE_CLASSES["ambulance"]
FIRE = VEHICLE_CLASSES["fire_engine"]
VAN = VEHICLE_CLASSES["supply_van"]
GARBAGE = VEHICLE_CLASSES["garbage_truck"]


def test_vehicle_table() -> None:
    assert AMB.min_width_m == 3.5 and FIRE.min_width_m == 4.0
    assert VAN.min_width_m == 3.0 and GARBAGE.min_width_m == 3.5
    assert AMB.may_enter_sealed and FIRE.may_enter_sealed
    assert not VAN.may_enter_sealed and not GARBAGE.may_enter_sealed


# A straight lane: gate G, then a wide road to A, then a 3.2 m lane to B.
#
#   G ==6m== A --3.2m-- B
LANE = SitePlan(
    nodes=(Node("G", 0, 0), Node("A", 100, 0), Node("B", 200, 0)),
    roads=(Road("G", "A", 6.0), Road("A", "B", 3.2)),
    gates=frozenset({"G"}),
    targets=(Target("bA", "A"), Target("bB", "B")),
)


def test_narrow_lane_excludes_wide_vehicles() -> None:
    report = check_access(LANE)
    assert report.route("bA", "fire_engine").nodes == ("G", "A")
    assert report.route("bA", "fire_engine").length_m == pytest.approx(100)
    assert report.route("bB", "supply_van").reachable
    assert report.route("bB", "supply_van").nodes == ("G", "A", "B")
    for vehicle in ("ambulance", "fire_engine", "garbage_truck"):
        r = report.route("bB", vehicle)
        assert not r.reachable and not r.baseline_reachable and r.reason == "too_narrow"
        assert not r.cut_off  # narrow before any sealing: not the plan's fault
    assert report.ok and report.cut_off == ()
    assert {(r.target, r.vehicle) for r in report.unreachable} == {
        ("bB", "ambulance"),
        ("bB", "fire_engine"),
        ("bB", "garbage_truck"),
    }


def test_exact_width_is_enough() -> None:
    plan = SitePlan(
        nodes=(Node("G", 0, 0), Node("X", 50, 0)),
        roads=(Road("G", "X", 4.0),),
        gates=frozenset({"G"}),
        targets=(Target("b", "X"),),
    )
    assert check_access(plan).route("b", "fire_engine").reachable


# A ring: two ways from the gate to C, one through A (wide), one through B.
#
#          B
#        /   \
#   G ==== A ==== C
RING_NODES = (Node("G", 0, 0), Node("A", 100, 0), Node("C", 200, 0), Node("B", 100, 100))
RING_TARGETS = (Target("bA", "A"), Target("bC", "C"), Target("site", "B", kind="sampling_site"))


def ring(bypass_width: float) -> SitePlan:
    return SitePlan(
        nodes=RING_NODES,
        roads=(
            Road("G", "A", 6.0),
            Road("A", "C", 6.0),
            Road("G", "B", bypass_width),
            Road("B", "C", bypass_width),
        ),
        gates=frozenset({"G"}),
        targets=RING_TARGETS,
    )


def test_route_around_sealed_block() -> None:
    plan = ring(4.5)
    before = check_access(plan)
    assert before.route("bC", "ambulance").nodes == ("G", "A", "C")
    report = check_access(plan, [SealedBlock("blk", nodes=frozenset({"A"}))])
    assert report.ok
    r = report.route("bC", "fire_engine")
    assert r.reachable and r.nodes == ("G", "B", "C") and r.mode == "direct"
    assert r.length_m == pytest.approx(2 * math.hypot(100, 100))
    assert r.detour_m == pytest.approx(2 * math.hypot(100, 100) - 200)
    assert report.target_blocks["bA"] == frozenset({"blk"})
    assert report.target_blocks["bC"] == frozenset()


def test_target_inside_block_entered_by_emergency_vehicles_only() -> None:
    report = check_access(ring(4.5), [SealedBlock("blk", nodes=frozenset({"A"}))])
    for vehicle in ("ambulance", "fire_engine"):
        r = report.route("bA", vehicle)
        assert r.reachable and r.mode == "enter_block" and r.nodes == ("G", "A")
    van = report.route("bA", "supply_van")
    assert van.reachable and van.mode == "handover"
    assert van.handover_node == "G" and van.nodes == ("G",) and van.walk_m == pytest.approx(100)


def test_block_cuts_off_building() -> None:
    plan = ring(3.2)  # the bypass only takes supply vans
    report = check_access(plan, [SealedBlock("blk", nodes=frozenset({"A"}))])
    assert not report.ok
    cut = {(r.target, r.vehicle) for r in report.cut_off}
    assert cut == {("bC", "ambulance"), ("bC", "fire_engine"), ("bC", "garbage_truck")}
    assert report.route("bC", "supply_van").nodes == ("G", "B", "C")
    assert report.route("bC", "ambulance").reason == "sealed_block"
    assert report.cut_off_targets() == {"bC": ("ambulance", "fire_engine", "garbage_truck")}


def test_vehicle_serves_only_its_target_kinds() -> None:
    report = check_access(ring(4.5))
    assert report.route("site", "supply_van").reachable
    with pytest.raises(KeyError):
        report.route("site", "ambulance")


def test_polygon_block_and_road_through_it() -> None:
    # a direct road G-C crosses the polygon although no node lies inside it
    plan = SitePlan(
        nodes=(Node("G", 0, 0), Node("C", 200, 0), Node("B", 100, 100)),
        roads=(Road("G", "C", 6.0), Road("G", "B", 5.0), Road("B", "C", 5.0)),
        gates=frozenset({"G"}),
        targets=(Target("bC", "C"),),
    )
    square = ((80.0, -20.0), (120.0, -20.0), (120.0, 20.0), (80.0, 20.0))
    report = check_access(plan, [SealedBlock("blk", polygon=square)])
    assert report.route("bC", "ambulance").nodes == ("G", "B", "C")
    # a block drawn up to the road edge leaves the road open
    beside = ((80.0, 0.0), (120.0, 0.0), (120.0, -40.0), (80.0, -40.0))
    report = check_access(plan, [SealedBlock("blk", polygon=beside)])
    assert report.route("bC", "ambulance").nodes == ("G", "C")


def test_polygon_node_membership_matches_node_set() -> None:
    square = ((80.0, -20.0), (120.0, -20.0), (120.0, 20.0), (80.0, 20.0))
    a = check_access(ring(3.2), [SealedBlock("blk", polygon=square)])
    b = check_access(ring(3.2), [SealedBlock("blk", nodes=frozenset({"A"}))])
    assert a.routes == b.routes


def test_target_inside_block_unreachable_through_other_block() -> None:
    #  G -- X -- Y   (X sealed in block 1, Y sealed in block 2; only way to Y crosses X)
    plan = SitePlan(
        nodes=(Node("G", 0, 0), Node("X", 50, 0), Node("Y", 100, 0)),
        roads=(Road("G", "X", 6), Road("X", "Y", 6)),
        gates=frozenset({"G"}),
        targets=(Target("bY", "Y"),),
    )
    blocks = [SealedBlock("one", nodes=frozenset({"X"})), SealedBlock("two", nodes=frozenset({"Y"}))]
    report = check_access(plan, blocks)
    assert not report.route("bY", "ambulance").reachable
    assert report.route("bY", "ambulance").cut_off
    # the supply van hands over at the edge of block "two": X is sealed too, so no point
    assert not report.route("bY", "supply_van").reachable
    assert report.route("bY", "supply_van").reason == "no_handover_point"


def test_multiple_gates_pick_shortest() -> None:
    plan = SitePlan(
        nodes=(Node("G1", 0, 0), Node("G2", 300, 0), Node("M", 250, 0)),
        roads=(Road("G1", "M", 6), Road("G2", "M", 6)),
        gates=frozenset({"G1", "G2"}),
        targets=(Target("b", "M"),),
    )
    r = check_access(plan).route("b", "ambulance")
    assert r.gate == "G2" and r.nodes == ("G2", "M") and r.length_m == pytest.approx(50)


def test_explicit_road_length_overrides_geometry() -> None:
    plan = SitePlan(
        nodes=(Node("G", 0, 0), Node("A", 100, 0), Node("B", 100, 100), Node("T", 200, 0)),
        roads=(Road("G", "A", 6, length_m=500), Road("A", "T", 6), Road("G", "B", 6), Road("B", "T", 6)),
        gates=frozenset({"G"}),
        targets=(Target("b", "T"),),
    )
    assert check_access(plan).route("b", "ambulance").nodes == ("G", "B", "T")


def test_invalid_plans_rejected() -> None:
    with pytest.raises(ValueError):
        SitePlan(nodes=(Node("G", 0, 0),), roads=(Road("G", "Z", 5),), gates=frozenset({"G"}), targets=())
    with pytest.raises(ValueError):
        SitePlan(nodes=(Node("G", 0, 0),), roads=(), gates=frozenset({"Q"}), targets=())
    with pytest.raises(ValueError):
        check_access(LANE, [SealedBlock("x", nodes=frozenset({"nope"}))])


def test_from_buildings_and_from_dict() -> None:
    block = SealedBlock.from_buildings("blk", ring(4.5), ["bA"])
    assert block.nodes == frozenset({"A"})
    plan = SitePlan.from_dict(
        {
            "nodes": [{"id": "G", "x": 0, "y": 0}, {"id": "A", "x": 30, "y": 40}],
            "roads": [{"a": "G", "b": "A", "width_m": 4}],
            "gates": ["G"],
            "targets": [{"key": "b", "node": "A"}],
        }
    )
    assert check_access(plan).route("b", "fire_engine").length_m == pytest.approx(50)


# --------------------------------------------------------------------------- open spaces


def test_nearest_open_space_outside_sealed_blocks() -> None:
    plan = ring(4.5)
    block = SealedBlock("blk", nodes=frozenset({"A"}))
    spaces = [
        OpenSpace("on-block", 100, 5, node="A"),  # inside the block itself
        OpenSpace("near", 140, 30),
        OpenSpace("far", 0, 60),
        OpenSpace("in-other", 110, 10),
    ]
    other = SealedBlock("other", polygon=((105.0, 5.0), (115.0, 5.0), (115.0, 15.0), (105.0, 15.0)))
    choice = nearest_open_space(block, spaces, plan, [other])
    assert choice is not None and choice.open_space.key == "near"
    assert choice.distance_m == pytest.approx(50)
    assert choice.measured_from == "building:bA"
    by_centroid = nearest_open_space(block, spaces, plan, [other], measure="centroid")
    assert by_centroid is not None and by_centroid.measured_from == "centroid"
    assert nearest_open_space(block, [spaces[0]], plan) is None


def test_nearest_open_space_polygon_centroid() -> None:
    plan = ring(4.5)
    square = ((0.0, 200.0), (40.0, 200.0), (40.0, 240.0), (0.0, 240.0))  # no buildings inside
    choice = nearest_open_space(
        SealedBlock("blk", polygon=square), [OpenSpace("a", 20, 260), OpenSpace("b", 20, 300)], plan
    )
    assert choice is not None and choice.open_space.key == "a"
    assert choice.distance_m == pytest.approx(40) and choice.measured_from == "centroid"


# --------------------------------------------------------------------------- scale


def test_grid_scale() -> None:
    n = 25  # 625 nodes, 1200 roads, 600 targets: must stay fast
    nodes = tuple(Node(f"{i},{j}", i * 20.0, j * 20.0) for i in range(n) for j in range(n))
    roads = []
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                roads.append(Road(f"{i},{j}", f"{i + 1},{j}", 4.0 if j % 2 == 0 else 3.0))
            if j + 1 < n:
                roads.append(Road(f"{i},{j}", f"{i},{j + 1}", 4.0))
    targets = tuple(Target(f"b{i},{j}", f"{i},{j}") for i in range(n) for j in range(n) if (i + j) % 2)
    plan = SitePlan(nodes=nodes, roads=tuple(roads), gates=frozenset({"0,0", f"{n - 1},{n - 1}"}), targets=targets)
    block = SealedBlock("mid", polygon=((190.0, 190.0), (290.0, 190.0), (290.0, 290.0), (190.0, 290.0)))
    report = check_access(plan, [block])
    assert report.ok  # a grid always has a way around a square block
    inside = [t for t, blocks in report.target_blocks.items() if blocks]
    assert inside and all(report.route(t, "ambulance").mode == "enter_block" for t in inside)
