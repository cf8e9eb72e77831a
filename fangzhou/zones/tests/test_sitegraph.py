"""The community's road graph joins its compounds through the streets outside their gates, so one
route can serve doors in several compounds (issue 12: one island per compound left 653 of the
demo's 2,421 doors reachable from any gate)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from fangzhou.registry.models import Building
from fangzhou.registry.services import PlacedBuilding, roster_import, site_plan_apply
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.zones import routing
from fangzhou.zones.services import NodeIn, RoadIn, site_roads_set
from fangzhou.zones.sitegraph import STREET_DETOUR, community_site_graph

pytestmark = pytest.mark.django_db


def two_compounds(world: World) -> Building:
    """阳光小区 (3号楼, 5号楼) with its north gate at (50, 0); 河景苑 1号楼 300 m east, gate at (350, 0)."""
    roster_import(
        community=world.community,
        actor=None,
        sheet=roster_sheet(
            [["河景苑", "1号楼", "101", "陈静", make_id("310104", dt.date(1985, 3, 3), 7, False), "", "", "二网格"]]
        ),
        filename="more.xlsx",
    )
    east = Building.objects.get(community=world.community, compound__name="河景苑")
    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 20, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 80, 30, 40, 12, 6, []),
            PlacedBuilding(east.pk, 350, 40, 40, 12, 6, []),
        ],
    )
    site_roads_set(
        compound=world.b3.compound,
        nodes=[NodeIn("G", 50, 0), NodeIn("M", 50, 36)],
        roads=[RoadIn("G", "M", 5.0, "中央路")],
        gates={"北门": "G"},
        actor=None,
    )
    site_roads_set(
        compound=east.compound,
        nodes=[NodeIn("G", 350, 0), NodeIn("M", 350, 46)],
        roads=[RoadIn("G", "M", 5.0, "河景路")],
        gates={"大门": "G"},
        actor=None,
    )
    return east


def test_every_entrance_is_reachable_from_every_gate(world: World) -> None:
    two_compounds(world)
    site = community_site_graph(world.community)
    assert site.source == "zones" and len(site.gates) == 2
    entrances = sorted(set(site.entrances.values()))
    for _label, node in site.gates.values():
        d = site.graph.distances_from([node])[0]
        index = {n: i for i, n in enumerate(site.graph.nodes)}
        assert all(np.isfinite(d[index[e]]) for e in entrances), "a compound is an island"


def test_the_street_between_gates_is_longer_than_the_straight_line(world: World) -> None:
    two_compounds(world)
    site = community_site_graph(world.community)
    (_, west), (_, east) = sorted(site.gates.values())
    index = {n: i for i, n in enumerate(site.graph.nodes)}
    walk = site.graph.distances_from([west])[0][index[east]]
    assert walk == pytest.approx(300 * STREET_DETOUR)


def test_one_route_serves_doors_in_both_compounds(world: World) -> None:
    east = two_compounds(world)
    site = community_site_graph(world.community)
    _label, gate_node = next(iter(site.gates.values()))
    gx, gy = site.graph.nodes[gate_node]
    stops = [
        routing.Stop(
            key=f"b{b.pk}",
            x=site.graph.nodes[site.entrances[b.pk]][0],
            y=site.graph.nodes[site.entrances[b.pk]][1],
            node=site.entrances[b.pk],
        )
        for b in (world.b3, world.b5, east)
    ]
    problem = routing.RoutingProblem(
        depot=routing.Stop(key="__start__", x=gx, y=gy, node=gate_node),
        stops=stops,
        vehicles=1,
        capacity=None,
        graph=site.graph,
    )
    solution = routing.solve(problem, time_limit_s=1.0)
    assert solution.unserved == []
    assert sorted(k for r in solution.routes for k in r.stop_keys) == sorted(s.key for s in stops)
    assert routing.check_solution(problem, solution) == []


def test_the_search_budget_grows_with_the_places_and_never_passes_the_limit() -> None:
    assert routing.search_budget_s(50, 10.0) == pytest.approx(1.2)
    assert routing.search_budget_s(1, 10.0) == pytest.approx(0.22)
    assert routing.search_budget_s(5000, 10.0) == 10.0
    assert routing.search_budget_s(300, 2.0) == 2.0
