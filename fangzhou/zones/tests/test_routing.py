"""Routing core on tiny hand-made instances whose best plan is obvious. No database."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from fangzhou.zones.routing import (
    REASON_CAPACITY,
    REASON_DURATION,
    REASON_NO_VEHICLE,
    REASON_UNREACHABLE,
    RoadGraph,
    RoutingProblem,
    RoutingSolution,
    Stop,
    check_solution,
    clarke_wright,
    distance_matrix,
    in_order,
    route_polyline,
    solve,
)

TIME_LIMIT = 0.3
GATE = Stop("gate", 0, 0, demand=0)


def pyvrp_solve(problem: RoutingProblem) -> RoutingSolution:
    return solve(problem, time_limit_s=TIME_LIMIT, seed=1)


ALL_METHODS: list[Callable[[RoutingProblem], RoutingSolution]] = [pyvrp_solve, clarke_wright, in_order]
ids = ["pyvrp", "clarke_wright", "in_order"]


def line_stops(n: int, spacing: float = 100, **kw: int) -> list[Stop]:
    return [Stop(f"s{i}", spacing * i, 0, **kw) for i in range(1, n + 1)]


def route_sets(sol: RoutingSolution) -> set[frozenset[str]]:
    return {frozenset(r.stop_keys) for r in sol.routes}


# -- the line: capacity forces two trips -----------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_line_with_capacity_two_needs_two_trips(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(4), capacity=2)
    sol = method(problem)
    assert check_solution(problem, sol) == []
    # Best plan: the two near doors in one trip (400 m), the two far ones in the other (800 m).
    assert route_sets(sol) == {frozenset({"s1", "s2"}), frozenset({"s3", "s4"})}
    assert sol.total_distance_m == 1200
    assert sorted(r.load for r in sol.routes) == [2, 2]
    assert sol.unserved == []


def test_solver_starts_each_trip_at_the_near_end() -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(4), capacity=2)
    for sol in (pyvrp_solve(problem), clarke_wright(problem)):
        assert sorted(r.stop_keys for r in sol.routes) == [["s1", "s2"], ["s3", "s4"]]


def test_solve_reports_pyvrp_and_timing() -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(5), capacity=3)
    sol = pyvrp_solve(problem)
    assert sol.solver == "pyvrp"
    assert 0 < sol.solve_time_s < 5


# -- a wall that makes straight-line distance wrong ------------------------------------------


def walled_graph() -> RoadGraph:
    # A and B are 20 m apart but a wall stands between them; B reaches C along a back road via W.
    return RoadGraph(
        nodes={"D": (0, 0), "A": (100, 0), "B": (100, 20), "C": (0, 100), "W": (100, 100)},
        edges=[("D", "A", 100), ("D", "B", 102), ("D", "C", 100), ("B", "W", 80), ("W", "C", 100)],
    )


def walled_problem(graph: RoadGraph | None) -> RoutingProblem:
    stops = [
        Stop("A", 100, 0, node="A" if graph else None),
        Stop("B", 100, 20, node="B" if graph else None),
        Stop("C", 0, 100, node="C" if graph else None),
    ]
    return RoutingProblem(
        depot=Stop("gate", 0, 0, 0, node="D" if graph else None), stops=stops, capacity=2, graph=graph
    )


def test_road_distances_go_around_the_wall() -> None:
    keys, dist = distance_matrix(walled_problem(walled_graph()))
    at = {k: i for i, k in enumerate(keys)}
    assert dist[at["A"], at["B"]] == 202  # back through the gate, not 20 m through the wall
    assert dist[at["B"], at["C"]] == 180
    assert dist[at["C"], at["B"]] == 180
    _, straight = distance_matrix(walled_problem(None))
    assert straight[at["A"], at["B"]] == 20


@pytest.mark.parametrize("method", [pyvrp_solve, clarke_wright], ids=["pyvrp", "clarke_wright"])
def test_wall_changes_the_best_pairing(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    straight = walled_problem(None)
    sol = method(straight)
    assert route_sets(sol) == {frozenset({"A", "B"}), frozenset({"C"})}
    roads = walled_problem(walled_graph())
    sol = method(roads)
    assert check_solution(roads, sol) == []
    assert route_sets(sol) == {frozenset({"B", "C"}), frozenset({"A"})}
    assert sol.total_distance_m == 102 + 180 + 100 + 200


def test_polyline_follows_the_roads() -> None:
    problem = walled_problem(walled_graph())
    sol = pyvrp_solve(problem)
    bc = next(r for r in sol.routes if set(r.stop_keys) == {"B", "C"})
    line = route_polyline(problem, bc)
    assert line[0] == (0, 0) and line[-1] == (0, 0)
    assert (100, 100) in line  # the back road corner W
    straight = walled_problem(None)
    assert route_polyline(straight, bc) == [
        (0, 0),
        *[(s.x, s.y) for k in bc.stop_keys for s in straight.stops if s.key == k],
        (0, 0),
    ]


def test_doors_off_the_road_attach_to_the_nearest_node() -> None:
    graph = RoadGraph(nodes={"g": (0, 0), "m": (50, 0), "e": (100, 0)}, edges=[("g", "m", 50), ("m", "e", 50)])
    problem = RoutingProblem(depot=Stop("gate", 0, 0, 0), stops=[Stop("door", 100, 8)], graph=graph)
    _, dist = distance_matrix(problem)
    assert dist[0, 1] == 108  # 100 m of road plus the 8 m path to the door
    sol = pyvrp_solve(problem)
    assert sol.total_distance_m == 216


def test_disconnected_stop_is_unserved() -> None:
    graph = RoadGraph(nodes={"g": (0, 0), "a": (10, 0), "island": (20, 0)}, edges=[("g", "a", 10)])
    stops = [Stop("a", 10, 0, node="a"), Stop("x", 20, 0, node="island")]
    problem = RoutingProblem(depot=Stop("gate", 0, 0, 0, node="g"), stops=stops, graph=graph)
    for method in ALL_METHODS:
        sol = method(problem)
        assert check_solution(problem, sol) == []
        assert sol.unserved == ["x"]
        assert sol.unserved_reasons["x"] == REASON_UNREACHABLE
        assert [r.stop_keys for r in sol.routes] == [["a"]]


# -- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_time_limit_splits_trips(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    # 1 m/s, 60 s per door. All four in one trip: 800 s walking + 240 s = 1040 s > 900 s.
    stops = line_stops(4, service_s=60)
    problem = RoutingProblem(depot=GATE, stops=stops, capacity=10, max_duration_s=900, walking_speed_m_s=1.0)
    sol = method(problem)
    assert check_solution(problem, sol) == []
    assert all(r.duration_s <= 900 for r in sol.routes)
    assert route_sets(sol) == {frozenset({"s1", "s2", "s3"}), frozenset({"s4"})}
    assert sorted(r.duration_s for r in sol.routes) == [780, 860]


def test_stop_too_far_for_the_time_limit_is_unserved() -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(3), max_duration_s=500, walking_speed_m_s=1.0)
    for method in ALL_METHODS:
        sol = method(problem)
        assert sol.unserved == ["s3"]
        assert sol.unserved_reasons == {"s3": REASON_DURATION}
        assert check_solution(problem, sol) == []


def test_demand_over_capacity_is_reported_not_fatal() -> None:
    stops = [
        Stop("small", 100, 0, demand=3),
        Stop("huge", 200, 0, demand=25),
        Stop("other", 0, 100, demand=5),
    ]
    problem = RoutingProblem(depot=GATE, stops=stops, capacity=20)
    for method in ALL_METHODS:
        sol = method(problem)
        assert check_solution(problem, sol) == []
        assert sol.unserved == ["huge"]
        assert sol.unserved_reasons["huge"] == REASON_CAPACITY
        assert {k for r in sol.routes for k in r.stop_keys} == {"small", "other"}


def test_too_few_trips_serves_the_nearest_and_reports_the_rest() -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(4), capacity=1, vehicles=2)
    sol = pyvrp_solve(problem)
    assert check_solution(problem, sol) == []
    assert route_sets(sol) == {frozenset({"s1"}), frozenset({"s2"})}
    assert sorted(sol.unserved) == ["s3", "s4"]
    assert set(sol.unserved_reasons.values()) == {REASON_NO_VEHICLE}
    for method in (clarke_wright, in_order):
        other = method(problem)
        assert check_solution(problem, other) == []
        assert len(other.routes) == 2 and len(other.unserved) == 2


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_no_volunteers_on_shift(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(2), vehicles=0)
    sol = method(problem)
    assert sol.routes == [] and sorted(sol.unserved) == ["s1", "s2"]
    assert check_solution(problem, sol) == []


def test_sampling_walk_without_capacity_is_one_trip() -> None:
    stops = [
        Stop(f"r{i}", x, y, demand=0, service_s=120) for i, (x, y) in enumerate([(10, 0), (10, 10), (0, 10), (-10, 10)])
    ]
    problem = RoutingProblem(depot=GATE, stops=stops, vehicles=1)
    for method in ALL_METHODS:
        sol = method(problem)
        assert check_solution(problem, sol) == []
        assert len(sol.routes) == 1 and sol.routes[0].load == 0


# -- edge cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_zero_stops(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    problem = RoutingProblem(depot=GATE, stops=[], capacity=5)
    sol = method(problem)
    assert sol.routes == [] and sol.unserved == [] and sol.total_distance_m == 0


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_single_stop(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    problem = RoutingProblem(depot=GATE, stops=[Stop("only", 30, 40, demand=2, service_s=30)], capacity=5)
    sol = method(problem)
    assert [r.stop_keys for r in sol.routes] == [["only"]]
    assert sol.total_distance_m == 100
    assert sol.routes[0].duration_s == 2 * round(50 / 1.2) + 30  # two legs of 50 m at 1.2 m/s
    assert check_solution(problem, sol) == []


def test_in_order_keeps_the_given_order() -> None:
    stops = [Stop("3", 300, 0), Stop("1", 100, 0), Stop("2", 200, 0), Stop("4", 400, 0)]
    problem = RoutingProblem(depot=GATE, stops=stops, capacity=3)
    sol = in_order(problem)
    assert [r.stop_keys for r in sol.routes] == [["3", "1", "2"], ["4"]]
    assert sol.total_distance_m == (300 + 200 + 100 + 200) + 800


@pytest.mark.parametrize("method", ALL_METHODS, ids=ids)
def test_random_instance_plans_are_valid(method: Callable[[RoutingProblem], RoutingSolution]) -> None:
    rng = random.Random(5)
    stops = [
        Stop(
            f"b{i:02d}",
            rng.uniform(0, 500),
            rng.uniform(0, 500),
            demand=rng.randint(1, 6),
            service_s=rng.randint(0, 90),
        )
        for i in range(30)
    ]
    problem = RoutingProblem(depot=Stop("gate", 250, 0, 0), stops=stops, capacity=15, max_duration_s=2400)
    sol = method(problem)
    assert check_solution(problem, sol) == []
    assert sol.unserved == []
    visits = [k for r in sol.routes for k in r.stop_keys]
    assert sorted(visits) == sorted(s.key for s in stops)


def test_solver_beats_or_ties_the_baselines() -> None:
    rng = random.Random(11)
    stops = [Stop(f"b{i:02d}", rng.uniform(0, 500), rng.uniform(0, 500), demand=rng.randint(1, 4)) for i in range(25)]
    problem = RoutingProblem(depot=Stop("gate", 0, 0, 0), stops=stops, capacity=10)
    best = pyvrp_solve(problem).total_distance_m
    assert best <= clarke_wright(problem).total_distance_m
    assert best <= in_order(problem).total_distance_m


def test_check_solution_catches_a_bad_plan() -> None:
    problem = RoutingProblem(depot=GATE, stops=line_stops(4), capacity=2)
    good = clarke_wright(problem)
    merged = [k for r in good.routes for k in r.stop_keys]
    bad = RoutingSolution(
        routes=[type(good.routes[0])(merged, 800, 667, 4)], total_distance_m=800, unserved=[], solver="hand"
    )
    assert "route 1 exceeds the capacity" in check_solution(problem, bad)
    twice = RoutingSolution(routes=[*good.routes, good.routes[0]], total_distance_m=0, unserved=[], solver="hand")
    assert "a stop is visited more than once" in check_solution(problem, twice)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stops": [Stop("a", 0, 0), Stop("a", 1, 1)]},
        {"stops": [Stop("a", 0, 0, demand=-1)]},
        {"stops": [Stop("gate", 1, 1)]},
        {"stops": [], "capacity": -1},
        {"stops": [], "walking_speed_m_s": 0},
        {"stops": [Stop("a", 0, 0, node="nowhere")], "graph": RoadGraph(nodes={"n": (0, 0)}, edges=[])},
    ],
)
def test_invalid_problems_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RoutingProblem(depot=GATE, **kwargs)  # type: ignore[arg-type]


def test_graph_rejects_unknown_nodes_and_bad_lengths() -> None:
    with pytest.raises(ValueError):
        RoadGraph(nodes={"a": (0, 0)}, edges=[("a", "b", 1)])
    with pytest.raises(ValueError):
        RoadGraph(nodes={"a": (0, 0), "b": (1, 0)}, edges=[("a", "b", -1)])


def test_graph_path_and_parallel_edges() -> None:
    graph = RoadGraph(
        nodes={"a": (0, 0), "b": (1, 0), "c": (2, 0)},
        edges=[("a", "b", 5), ("a", "b", 1), ("b", "c", 1), ("a", "c", 10)],
    )
    assert graph.path("a", "c") == ["a", "b", "c"]
    assert graph.distances_from(["a"])[0].tolist() == [0, 1, 2]
    assert graph.nearest_node(1.9, 0.3) == "c"
