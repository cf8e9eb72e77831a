"""Tests for the pool planner (pure functions, no database)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangzhou.testing.pooling import (
    DEFAULT_POOL_SIZE,
    INDIVIDUAL,
    Household,
    Positivity,
    PrevalenceEstimate,
    TubeFiller,
    best_pool_size,
    break_even_prevalence,
    dorfman_tests_per_person,
    estimate_prevalence,
    plan_pools,
    prevalence_from_pools,
)


def make_households(sizes_per_building: list[list[int]]) -> list[Household[int]]:
    households: list[Household[int]] = []
    next_id = 0
    for b, sizes in enumerate(sizes_per_building):
        for room, size in enumerate(sizes):
            members = tuple(range(next_id, next_id + size))
            next_id += size
            households.append(Household(f"b{b}-{room}", f"b{b}", members))
    return households


household_layouts = st.lists(
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=25), min_size=1, max_size=8
)


def assert_valid_packing(
    households: list[Household[int]], tubes: list[list[int]], pool_size_of: dict[str, int]
) -> None:
    everyone = [m for h in households for m in h.members]
    packed = [m for tube in tubes for m in tube]
    assert sorted(packed) == sorted(everyone)  # everyone in exactly one tube
    assert len(set(packed)) == len(packed)
    tube_of = {m: i for i, tube in enumerate(tubes) for m in tube}
    for h in households:
        k = pool_size_of[h.building_id]
        used = sorted({tube_of[m] for m in h.members})
        if len(h.members) <= k:
            assert len(used) == 1, f"household {h.id} split although it fits"
        else:
            assert len(used) == math.ceil(len(h.members) / k)
            assert used == list(range(used[0], used[0] + len(used))), "split household not consecutive"


# --- Dorfman arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "k", "expected"),
    [
        (0.0, 10, 0.1),
        (0.01, 10, 0.1 + 1 - 0.99**10),  # ≈ 0.1956
        (0.001, 20, 0.05 + 1 - 0.999**20),  # ≈ 0.0698
        (0.05, 5, 0.2 + 1 - 0.95**5),
        (1.0, 10, 1.1),
        (0.3, 1, 1.0),
    ],
)
def test_dorfman_formula_by_hand(p: float, k: int, expected: float) -> None:
    assert dorfman_tests_per_person(p, k) == pytest.approx(expected)


def test_dorfman_hand_numbers() -> None:
    assert dorfman_tests_per_person(0.01, 10) == pytest.approx(0.19562, abs=1e-5)
    assert dorfman_tests_per_person(0.001, 20) == pytest.approx(0.06981, abs=1e-5)


@pytest.mark.parametrize(
    ("p", "k"),
    [
        (0.0005, 20),
        (0.001, 20),
        (0.005, 20),
        (0.01, 10),
        (0.02, 10),
        (0.05, 5),
        (0.2, 5),
        (0.35, 1),
        (0.6, 1),
    ],
)
def test_pool_size_follows_prevalence(p: float, k: int) -> None:
    assert best_pool_size(p) == k


def test_break_even_is_about_thirty_percent() -> None:
    threshold = break_even_prevalence()
    assert threshold == pytest.approx(1 - 0.2**0.2, abs=1e-9)  # pools of 5: (1-p)^5 = 1/5
    assert 0.27 < threshold < 0.28
    # With every pool size allowed it is Dorfman's classic ~30.7 %.
    assert break_even_prevalence(range(2, 40)) == pytest.approx(0.3066, abs=1e-3)
    assert best_pool_size(threshold - 0.001) == 5
    assert best_pool_size(threshold + 0.001) == INDIVIDUAL


def test_prevalence_from_pools() -> None:
    assert prevalence_from_pools(1000, 0, 10) == 0.0
    assert prevalence_from_pools(1000, 96, 10) == pytest.approx(0.0100, abs=2e-4)
    assert prevalence_from_pools(0, 0, 10) == 0.0
    obs = Positivity.from_pools(1000, 96, 10)
    assert obs.tested == 10_000
    assert obs.rate == pytest.approx(0.0100, abs=2e-4)
    with pytest.raises(ValueError):
        prevalence_from_pools(10, 11, 10)


# --- estimating positivity --------------------------------------------------------------------------


def test_estimate_shrinks_lonely_positive_but_keeps_cluster() -> None:
    observations = {f"b{i}": Positivity(100, 0) for i in range(40)}
    observations["b0"] = Positivity(100, 1)  # one positive: noise
    observations["hot"] = Positivity(100, 20)  # a real cluster
    estimate = estimate_prevalence(observations)
    assert estimate.community == pytest.approx(21 / 4100)
    assert estimate.for_building("hot") > 0.1
    assert estimate.for_building("b0") < 0.012
    assert estimate.for_building("unknown") == estimate.community


def test_estimate_pools_everything_when_buildings_look_alike() -> None:
    observations = {f"b{i}": Positivity(100, 1) for i in range(10)}
    estimate = estimate_prevalence(observations)
    assert math.isinf(estimate.prior_weight)
    assert list(estimate.buildings.values()) == [pytest.approx(0.01)] * 10


def test_estimate_corrects_for_antigen_sensitivity() -> None:
    estimate = estimate_prevalence({"a": Positivity(1000, 6), "b": Positivity(1000, 6)}, sensitivity=0.6)
    assert estimate.community == pytest.approx(0.01)


def test_estimate_uses_day_to_day_noise_of_household_clusters() -> None:
    # Every building has the same risk, but cases come in household clusters: half the buildings
    # see 10 cases on one day and none on the other, half see 2 and 0. Summed over the days the
    # first half looks five times hotter; the day-to-day swings show it is cluster noise.
    history: dict[str, list[Positivity]] = {}
    for i in range(20):
        cases = 10 if i % 2 else 2
        history[f"b{i}"] = [Positivity(100, cases), Positivity(100, 0)][:: 1 if i % 4 < 2 else -1]
    estimate = estimate_prevalence(history)
    assert estimate.design_effect > 5
    assert math.isinf(estimate.prior_weight)
    assert estimate.for_building("b1") == estimate.for_building("b0") == pytest.approx(estimate.community)

    single_day = {b: sum(days, Positivity(0, 0)) for b, days in history.items()}
    naive = estimate_prevalence(single_day)
    assert naive.design_effect == 1.0
    assert naive.for_building("b1") > 2 * naive.for_building("b0")


def test_estimate_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        estimate_prevalence({"a": Positivity(10, 1)}, sensitivity=0.0)
    with pytest.raises(ValueError):
        estimate_prevalence({"a": Positivity(10, 1)}, design_effect=0.5)
    with pytest.raises(ValueError):
        Positivity(10, 11)


# --- tube filler ------------------------------------------------------------------------------------


def test_filler_keeps_household_together_and_fills_tubes() -> None:
    filler: TubeFiller[str] = TubeFiller(10)
    assert filler.add_household(["a1", "a2", "a3"]) == [0, 0, 0]
    assert filler.add_household(["b1", "b2", "b3", "b4", "b5", "b6"]) == [0] * 6
    # 9 in tube 0: a household of 2 does not fit, a new tube starts
    assert filler.add_household(["c1", "c2"]) == [1, 1]
    # a single fills tube 0 (tightest fit), which is then sealed
    assert filler.add_household(["d1"]) == [0]
    assert filler.open_tubes == (1,)
    assert [list(t) for t in filler.tubes] == [
        ["a1", "a2", "a3", "b1", "b2", "b3", "b4", "b5", "b6", "d1"],
        ["c1", "c2"],
    ]


def test_filler_splits_large_household_over_consecutive_tubes() -> None:
    filler: TubeFiller[int] = TubeFiller(5)
    filler.add_household([100, 101])
    indices = filler.add_household(list(range(12)))
    assert indices == [1] * 5 + [2] * 5 + [3] * 2
    assert filler.open_tubes == (0, 3)


def test_filler_next_fit_when_one_open_tube() -> None:
    filler: TubeFiller[int] = TubeFiller(10, max_open=1)
    filler.add_household(list(range(8)))
    assert filler.add_household([8, 9, 10]) == [1, 1, 1]  # tube 0 sealed with 8
    assert filler.add_household([11]) == [1]
    assert filler.open_tubes == (1,)


def test_filler_seals_fullest_when_too_many_open() -> None:
    filler: TubeFiller[int] = TubeFiller(10, max_open=2)
    filler.add_household(list(range(7)))  # tube 0: 7
    filler.add_household(list(range(10, 15)))  # tube 1: 5
    filler.add_household(list(range(20, 26)))  # no room: seal tube 0 (fullest), open tube 2
    assert filler.open_tubes == (1, 2)
    filler.seal_all()
    assert len(filler.open_tubes) == 0


@given(household_layouts, st.sampled_from([1, 5, 10, 20]), st.integers(min_value=1, max_value=4))
@settings(max_examples=200, deadline=None)
def test_filler_property(layout: list[list[int]], pool_size: int, max_open: int) -> None:
    households = make_households(layout)
    filler: TubeFiller[int] = TubeFiller(pool_size, max_open=max_open)
    for h in households:
        indices = filler.add_household(h.members)
        assert len(indices) == len(h.members)
        for member, index in zip(h.members, indices, strict=True):
            assert member in filler.tubes[index]
    tubes = [list(t) for t in filler.tubes]
    assert all(0 < len(t) <= pool_size for t in tubes)
    assert_valid_packing(households, tubes, {h.building_id: pool_size for h in households})


# --- planner ----------------------------------------------------------------------------------------


@given(
    household_layouts,
    st.lists(st.floats(min_value=0.0, max_value=0.6), min_size=8, max_size=8),
)
@settings(max_examples=150, deadline=None)
def test_plan_property(layout: list[list[int]], rates: list[float]) -> None:
    households = make_households(layout)
    building_rates = {f"b{i}": rates[i] for i in range(len(layout))}
    plan = plan_pools(households, 0.01, building_prevalence=building_rates)
    assert_valid_packing(households, plan.tubes, plan.building_pool_size)
    assert len(plan.tube_pool_sizes) == len(plan.tubes)
    for tube, k in zip(plan.tubes, plan.tube_pool_sizes, strict=True):
        assert 0 < len(tube) <= k
    for b, k in plan.building_pool_size.items():
        assert k == best_pool_size(building_rates[b])
    assert plan.people == sum(len(h.members) for h in households)
    assert sum(g.people for g in plan.groups) == plan.people
    assert sum(g.tubes for g in plan.groups) == plan.expected_tubes


def test_plan_chooses_pool_size_from_prevalence() -> None:
    households = make_households([[3, 2, 1, 4, 2, 3, 1, 2, 2, 3] * 10] * 5)
    assert set(plan_pools(households, 0.001).building_pool_size.values()) == {20}
    assert set(plan_pools(households, 0.01).building_pool_size.values()) <= {5, 10}
    assert set(plan_pools(households, 0.05).building_pool_size.values()) == {5}
    high = plan_pools(households, 0.4)
    assert set(high.building_pool_size.values()) == {INDIVIDUAL}
    assert not high.pooling_pays
    assert "no longer pays" in high.explanation
    assert high.expected_tests_per_person == pytest.approx(1.0)
    assert high.expected_retests == 0.0


def test_plan_small_pools_or_individual_in_hot_buildings() -> None:
    households = make_households([[2, 3] * 20, [2, 3] * 20, [2, 3] * 20])
    plan = plan_pools(households, 0.002, building_prevalence={"b1": 0.06, "b2": 0.45})
    assert plan.building_pool_size == {"b0": 20, "b1": 5, "b2": INDIVIDUAL}
    assert plan.pooling_pays
    assert "no longer pays" in plan.explanation
    assert {g.pool_size for g in plan.groups} == {1, 5, 20}


def test_plan_expected_numbers_match_dorfman_when_tubes_are_full() -> None:
    # 100 buildings x 10 households of 2 -> 2000 people, tubes of 10 exactly full.
    households = make_households([[2] * 10] * 100)
    p = 0.01
    plan = plan_pools(households, p, pool_sizes=(10,))
    assert plan.expected_tubes == 200
    assert plan.expected_tests_per_person == pytest.approx(dorfman_tests_per_person(p, 10))
    assert plan.default_pool_size == DEFAULT_POOL_SIZE
    assert plan.default_tubes == 200
    assert plan.default_tests_per_person == pytest.approx(dorfman_tests_per_person(p, 10))
    assert plan.saving == pytest.approx(0.0)
    small = plan_pools(households, 0.001)
    assert small.expected_tubes == 100
    assert small.expected_tests_per_person == pytest.approx(dorfman_tests_per_person(0.001, 20))
    assert small.saving == pytest.approx(1 - 0.06981 / 0.10995, abs=1e-3)


def test_plan_household_sar_lowers_expected_positive_tubes() -> None:
    households = make_households([[4] * 5] * 50)
    independent = plan_pools(households, 0.01, pool_sizes=(10,))
    clustered = plan_pools(households, 0.01, pool_sizes=(10,), household_sar=0.5)
    assert clustered.expected_retests < independent.expected_retests


def test_plan_accepts_estimate_and_keeps_order() -> None:
    households = make_households([[1, 2, 3], [2, 2]])
    estimate = PrevalenceEstimate(0.001, {"b1": 0.001}, math.inf)
    plan = plan_pools(households, estimate)
    assert plan.tubes == [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]
    assert plan.building_prevalence == {"b0": 0.001, "b1": 0.001}


def test_plan_empty_and_invalid() -> None:
    empty: list[Household[int]] = []
    plan = plan_pools(empty, 0.01)
    assert plan.tubes == []
    assert plan.expected_tests_per_person == 0.0
    with pytest.raises(ValueError):
        plan_pools(empty, 1.5)


def test_plan_covers_a_district() -> None:
    """A district's 100,000 people are all planned into tubes (its speed is measured in bench/pooling, not here)."""
    sizes = [1, 2, 3, 2, 4, 3, 2, 1, 5, 3, 2, 6, 2, 3, 1]
    layout = [[sizes[(b + r) % len(sizes)] for r in range(40)] for b in range(1000)]
    households = make_households(layout)  # ~100,000 people
    rates = {f"b{b}": (0.2 if b % 10 == 0 else 0.002) for b in range(1000)}
    plan = plan_pools(households, 0.01, building_prevalence=rates)
    assert plan.people == sum(len(h.members) for h in households) > 95_000
    assert sorted(m for tube in plan.tubes for m in tube) == sorted(m for h in households for m in h.members)
