"""Tests for the pure three-zone classifier (no Django, no database)."""
# ruff: noqa: S101, RUF100

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangzhou.zones.core import (
    DEFAULT_RULE_SET,
    RULE_SETS,
    CaseHistory,
    Override,
    RuleSet,
    ZoneState,
    apply_override,
    classify,
    classify_compound_with_blocks,
    classify_many,
    floor_timeline,
    timeline,
)

D = date(2022, 4, 10)
SH04 = RULE_SETS["shanghai-2022-04"]
SH05 = RULE_SETS["shanghai-2022-05"]
N9 = RULE_SETS["national-9"]


def day(n: int) -> date:
    return D + timedelta(days=n)


def status(cases: list[date], on: date, rules: RuleSet, rounds: dict[date, bool] | None = None) -> str:
    return classify(cases, on, rules, rounds=rounds).status


# --------------------------------------------------------------------------- registry


def test_registry_and_default() -> None:
    assert DEFAULT_RULE_SET is SH04
    assert set(RULE_SETS) == {"shanghai-2022-04", "shanghai-2022-05", "national-9"}
    assert SH04.statuses == ("sealed", "controlled", "prevention")
    assert SH05.statuses == ("sealed", "controlled", "prevention")
    assert N9.statuses == ("high", "medium", "low")
    assert N9.downgrade_needs_clean_round
    assert not SH04.downgrade_needs_clean_round
    assert SH04.label("sealed") == "封控区"
    assert SH04.label("sealed", "en") == "Sealed zone"
    assert SH04.severity("sealed") > SH04.severity("controlled") > SH04.severity("prevention")


def test_ruleset_roundtrip_and_validation() -> None:
    for rules in RULE_SETS.values():
        assert RuleSet.from_dict(rules.to_dict()) == rules
    with pytest.raises(ValueError):
        RuleSet("x", "x", "x", ("a", "b", "c"), (7,), ("a", "b", "c"), ("a", "b", "c"))
    with pytest.raises(ValueError):
        RuleSet("x", "x", "x", ("a", "b", "c"), (7, 7), ("a", "b", "c"), ("a", "b", "c"))
    with pytest.raises(ValueError):
        RuleSet("x", "x", "x", ("a", "a"), (7,), ("a", "b"), ("a", "b"))
    with pytest.raises(ValueError):
        SH04.severity("high")


# --------------------------------------------------------------------------- shanghai-2022-04


def test_sh04_never_a_case() -> None:
    s = classify([], D, SH04)
    assert s == ZoneState(
        on=D,
        rule_set="shanghai-2022-04",
        status="prevention",
        rule_status="prevention",
        last_case_on=None,
        days_without_case=None,
        next_change_on=None,
        next_status=None,
    )


def test_sh04_day_by_day_single_case() -> None:
    # The case is reported on day 0; on day t it lies at t-k for k = t.
    expected = {
        -1: "prevention",
        0: "sealed",
        6: "sealed",
        7: "controlled",
        13: "controlled",
        14: "prevention",
        30: "prevention",
    }
    for n in range(-3, 31):
        want = expected.get(n) or ("sealed" if 0 <= n <= 6 else "controlled" if 7 <= n <= 13 else "prevention")
        assert status([D], day(n), SH04) == want, n


def test_sh04_boundaries_relative_to_t() -> None:
    t = day(20)
    assert status([t - timedelta(days=6)], t, SH04) == "sealed"
    assert status([t - timedelta(days=7)], t, SH04) == "controlled"
    assert status([t - timedelta(days=13)], t, SH04) == "controlled"
    assert status([t - timedelta(days=14)], t, SH04) == "prevention"
    assert status([t], t, SH04) == "sealed"


def test_sh04_next_change_and_counters() -> None:
    s = classify([D], D, SH04)
    assert (s.status, s.next_change_on, s.next_status) == ("sealed", day(7), "controlled")
    assert s.last_case_on == D and s.days_without_case == 0
    assert s.upcoming == ((day(7), "controlled"), (day(14), "prevention"))
    s = classify([D], day(6), SH04)
    assert (s.next_change_on, s.next_status, s.days_without_case) == (day(7), "controlled", 6)
    s = classify([D], day(7), SH04)
    assert (s.status, s.next_change_on, s.next_status) == ("controlled", day(14), "prevention")
    s = classify([D], day(14), SH04)
    assert (s.status, s.next_change_on, s.next_status) == ("prevention", None, None)
    assert s.days_without_case == 14 and s.upcoming == ()


def test_sh04_multiple_cases_latest_counts() -> None:
    cases = [D, day(5), day(2)]
    assert status(cases, day(7), SH04) == "sealed"  # day 5 is t-2
    assert status(cases, day(11), SH04) == "sealed"  # day 5 is t-6
    assert status(cases, day(12), SH04) == "controlled"
    assert status(cases, day(18), SH04) == "controlled"
    assert status(cases, day(19), SH04) == "prevention"
    s = classify(cases, day(8), SH04)
    assert s.last_case_on == day(5) and s.next_change_on == day(12)


def test_sh04_duplicate_cases_same_day() -> None:
    assert classify([D, D, D], day(3), SH04) == classify([D], day(3), SH04)


def test_cases_after_on_are_ignored() -> None:
    s = classify([day(3)], day(2), SH04)
    assert s.status == "prevention" and s.last_case_on is None
    s = classify([D, day(9)], day(8), SH04)
    assert s.status == "controlled" and s.last_case_on == D
    assert s.next_change_on == day(14)


def test_new_case_resets_downgraded_place() -> None:
    cases = [D, day(20)]
    assert status(cases, day(19), SH04) == "prevention"
    assert status(cases, day(20), SH04) == "sealed"


# --------------------------------------------------------------------------- shanghai-2022-05


@pytest.mark.parametrize(
    ("offset", "want"),
    [
        (-1, "prevention"),
        (0, "sealed"),
        (6, "sealed"),
        (7, "controlled"),
        (9, "controlled"),
        (10, "prevention"),
        (40, "prevention"),
    ],
)
def test_sh05_windows(offset: int, want: str) -> None:
    assert status([D], day(offset), SH05) == want


def test_sh05_day_by_day_and_next_change() -> None:
    for n in range(15):
        want = "sealed" if n <= 6 else "controlled" if n <= 9 else "prevention"
        assert status([D], day(n), SH05) == want
    s = classify([D], day(7), SH05)
    assert (s.next_change_on, s.next_status) == (day(10), "prevention")


# --------------------------------------------------------------------------- national-9


def test_n9_without_rounds_is_ungated() -> None:
    for n in range(15):
        want = "high" if n <= 6 else "medium" if n <= 9 else "low"
        assert status([D], day(n), N9) == want
    s = classify([D], D, N9)
    assert s.upcoming == ((day(7), "medium"), (day(10), "low"))
    assert not s.next_change_conditional and not s.held


def test_n9_gate_clean_rounds_allow_downgrades() -> None:
    rounds = {day(n): True for n in range(15)}
    for n in range(15):
        want = "high" if n <= 6 else "medium" if n <= 9 else "low"
        assert status([D], day(n), N9, rounds) == want, n


def test_n9_gate_holds_until_clean_round() -> None:
    rounds = {day(6): False, day(8): True}
    assert status([D], day(7), N9, rounds) == "high"  # last round (day 6) had positives
    assert status([D], day(8), N9, rounds) == "high"  # day 8 round counts from day 9 on
    assert status([D], day(9), N9, rounds) == "medium"
    assert status([D], day(10), N9, rounds) == "low"  # last round before day 10 (day 8) clean
    s = classify([D], day(7), N9, rounds=rounds)
    assert s.held and s.status == "high"
    # rounds after `on` are not known yet: no change foreseen while held
    assert s.next_change_on is None
    s = classify([D], day(8), N9, rounds=rounds)
    assert s.held and (s.next_change_on, s.next_status) == (day(9), "medium")


def test_n9_gate_hold_past_second_window_jumps_to_rule_status() -> None:
    rounds = {day(6): False, day(9): False, day(11): True}
    assert [status([D], day(n), N9, rounds) for n in range(6, 14)] == [
        "high",
        "high",
        "high",
        "high",
        "high",
        "high",
        "low",
        "low",
    ]


def test_n9_gate_dirty_round_holds_second_downgrade() -> None:
    rounds = {day(6): True, day(9): False, day(10): True}
    got = [status([D], day(n), N9, rounds) for n in range(6, 13)]
    assert got == ["high", "medium", "medium", "medium", "medium", "low", "low"]


def test_n9_gate_no_round_since_case_holds() -> None:
    # A round before the case says nothing about the situation after it.
    rounds = {day(-1): True}
    assert status([D], day(12), N9, rounds) == "high"
    assert status([D], day(12), N9, {}) == "high"
    assert classify([D], day(12), N9, rounds={}).held


def test_n9_gate_future_change_is_conditional() -> None:
    s = classify([D], day(2), N9, rounds={day(1): True})
    assert s.status == "high" and s.next_change_on == day(7) and s.next_status == "medium"
    assert s.next_change_conditional and not s.held
    # the day before the downgrade the deciding round is known
    s = classify([D], day(6), N9, rounds={day(6): True})
    assert s.next_change_on == day(7) and not s.next_change_conditional
    s = classify([D], day(6), N9, rounds={day(6): False})
    assert s.next_change_on is None and not s.held  # held from tomorrow, date unknown


def test_gate_flag_off_ignores_rounds() -> None:
    assert status([D], day(7), SH05, {day(6): False}) == "controlled"


# --------------------------------------------------------------------------- overrides


def test_override_applies_only_until() -> None:
    o = Override(status="controlled", reason="street office decision", by="wang", until=day(3))
    base = classify([D], day(2), SH04)
    s = apply_override(base, o, day(2))
    assert s.overridden and s.status == "controlled" and s.rule_status == "sealed"
    assert s.override_reason == "street office decision" and s.override_by == "wang"
    assert s.override_until == day(3)
    # override ends after day 3: rules give sealed on day 4
    assert (s.next_change_on, s.next_status) == (day(4), "sealed")
    later = classify([D], day(4), SH04)
    assert apply_override(later, o, day(4)) == later


def test_override_expiry_matches_rules_then_follows_schedule() -> None:
    o = Override(status="controlled", reason="r", by="b", until=day(8))
    s = classify([D], day(2), SH04, override=o)
    # rules say controlled on day 9 too, so the next real change is day 14
    assert (s.next_change_on, s.next_status) == (day(14), "prevention")
    assert s.upcoming == ((day(14), "prevention"),)


def test_override_invalid_status_rejected() -> None:
    with pytest.raises(ValueError):
        classify([D], D, SH04, override=Override("high", "r", "b", day(1)))


# --------------------------------------------------------------------------- timeline


def test_timeline_change_points() -> None:
    got = timeline([D, day(20)], day(-2), day(40), SH04)
    assert got == [
        (day(-2), "prevention"),
        (day(0), "sealed"),
        (day(7), "controlled"),
        (day(14), "prevention"),
        (day(20), "sealed"),
        (day(27), "controlled"),
        (day(34), "prevention"),
    ]


def test_timeline_gate_and_bounds() -> None:
    got = timeline([D], day(3), day(12), N9, rounds={day(6): False, day(8): True})
    assert got == [(day(3), "high"), (day(9), "medium"), (day(10), "low")]
    assert timeline([D], day(3), day(3), SH04) == [(day(3), "sealed")]
    with pytest.raises(ValueError):
        timeline([D], day(3), day(2), SH04)


# --------------------------------------------------------------------------- properties

dates = st.integers(min_value=0, max_value=60).map(day)
rule_sets = st.sampled_from(list(RULE_SETS.values()))
round_maps = st.none() | st.dictionaries(dates, st.booleans(), max_size=30)


@settings(max_examples=150, deadline=None)
@given(cases=st.lists(dates, max_size=8), rules=rule_sets, rounds=round_maps)
def test_status_never_improves_on_a_case_day(
    cases: list[date], rules: RuleSet, rounds: dict[date, bool] | None
) -> None:
    for c in cases:
        today = classify(cases, c, rules, rounds=rounds)
        yesterday = classify(cases, c - timedelta(days=1), rules, rounds=rounds)
        assert today.status == rules.statuses[0]
        assert rules.severity(today.status) >= rules.severity(yesterday.status)


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(dates, max_size=8), rules=rule_sets, rounds=round_maps, on=dates)
def test_future_cases_and_rounds_do_not_change_status(
    cases: list[date], rules: RuleSet, rounds: dict[date, bool] | None, on: date
) -> None:
    past = [c for c in cases if c <= on]
    past_rounds = None if rounds is None else {d: v for d, v in rounds.items() if d <= on}
    assert classify(cases, on, rules, rounds=rounds) == classify(past, on, rules, rounds=past_rounds)


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(dates, max_size=6), rules=rule_sets, rounds=round_maps)
def test_timeline_matches_daily_classification(
    cases: list[date], rules: RuleSet, rounds: dict[date, bool] | None
) -> None:
    start, end = day(-3), day(75)
    points = timeline(cases, start, end, rules, rounds=rounds)
    daily: list[tuple[date, str]] = []
    d = start
    while d <= end:
        s = classify(cases, d, rules, rounds=rounds).status
        if not daily or daily[-1][1] != s:
            daily.append((d, s))
        d += timedelta(days=1)
    assert points == daily


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(dates, max_size=6), rules=rule_sets, on=dates)
def test_schedule_predicts_future_without_new_cases(cases: list[date], rules: RuleSet, on: date) -> None:
    s = classify(cases, on, rules)
    known = [c for c in cases if c <= on]
    current = s.status
    d = on
    for change_on, next_status in s.upcoming:
        while d < change_on:
            assert classify(known, d, rules).status == current
            d += timedelta(days=1)
        assert classify(known, change_on, rules).status == next_status
        current = next_status
    assert current == rules.statuses[-1]


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(dates, max_size=6), rounds=round_maps, on=dates)
def test_gate_is_never_more_lenient(cases: list[date], rounds: dict[date, bool] | None, on: date) -> None:
    gated = classify(cases, on, N9, rounds=rounds)
    ungated = classify(cases, on, N9)
    assert N9.severity(gated.status) >= N9.severity(ungated.status)


# --------------------------------------------------------------------------- batch / speed


def test_classify_many_agrees_with_classify() -> None:
    """The batch gives each place the answer of the one-place classifier (its speed is a bench's business)."""
    places = {f"p{i}": [day(i % 50), day((i * 7) % 60)] for i in range(300)}
    for n in range(0, 60, 7):
        result = classify_many(places, day(n), SH04)
        assert len(result) == 300
        assert all(result[key] == classify(history, day(n), SH04) for key, history in places.items())


def test_case_history_reuse() -> None:
    h = CaseHistory([D, day(9)])
    assert h.cases == (D, day(9))
    assert h.classify(day(10), SH05).status == "sealed"
    assert h.timeline(day(0), day(3), SH05) == [(D, "sealed")]


# --------------------------------------------------------------------------- micro sealed zones

BLOCKS = {"A": frozenset({"b1", "b2"}), "B": frozenset({"b5"})}


def test_micro_zone_compound_excludes_block_cases() -> None:
    cases = [(day(0), "b1"), (day(1), "b2")]
    z = classify_compound_with_blocks(cases, BLOCKS, day(3), SH04)
    assert z.blocks["A"].status == "sealed"
    assert z.blocks["A"].last_case_on == day(1)
    assert z.blocks["B"].status == "prevention"
    # the block's cases do not count outside it, but the sealed block holds the rest at controlled
    assert z.compound.status == "controlled"
    assert z.compound.last_case_on is None and z.compound.floor_from == "A"
    assert z.building_status("b1") == "sealed"
    assert z.building_status("b3") == "controlled"  # outside any block: follows the compound
    assert z.building_status("b5") == "prevention"
    assert z.zone_of("b1") == "A" and z.zone_of("b3") is None
    assert z.building_state("b2") is z.blocks["A"]


def test_micro_zone_compound_case_outside_blocks() -> None:
    cases = [(day(0), "b1"), (day(8), "b9")]
    z = classify_compound_with_blocks(cases, BLOCKS, day(9), SH04)
    assert z.compound.status == "sealed"
    assert z.blocks["A"].status == "controlled"
    assert z.building_status("b9") == "sealed"
    assert z.building_status("b4") == "sealed"
    assert z.building_status("b2") == "controlled"
    assert z.compound_all_cases.status == "sealed"


def test_micro_zone_nested_blocks_smallest_wins() -> None:
    blocks = {"big": frozenset({"b1", "b2", "b3"}), "small": frozenset({"b1"})}
    z = classify_compound_with_blocks([(day(0), "b1")], blocks, day(2), SH04)
    assert z.zone_of("b1") == "small" and z.zone_of("b2") == "big"
    assert z.building_status("b1") == "sealed"
    # the small sealed block holds both the big block around it and the compound at controlled
    assert z.building_status("b2") == "controlled" and z.blocks["big"].floor_from == "small"
    assert z.compound.status == "controlled"


def test_micro_zone_partial_overlap_rejected() -> None:
    with pytest.raises(ValueError):
        classify_compound_with_blocks([], {"x": frozenset({"b1", "b2"}), "y": frozenset({"b2", "b3"})}, D, SH04)


def test_micro_zone_cases_after_on_ignored() -> None:
    z = classify_compound_with_blocks([(day(5), "b1")], BLOCKS, day(4), SH04)
    assert z.blocks["A"].status == "prevention"


# --------------------------------------------------------------------------- the floor around a sealed block


def test_remainder_held_controlled_until_the_block_steps_down_shanghai_04() -> None:
    """One case in block A on day 0: A sealed d0..d6, controlled d7..d13; the rest of the compound
    is controlled while A is sealed and drops to prevention the day A steps down (not before)."""
    cases = [(day(0), "b1")]
    rest = classify_compound_with_blocks(cases, BLOCKS, day(2), SH04).compound
    assert rest.status == "controlled" and rest.floor_from == "A"
    assert (rest.next_change_on, rest.next_status) == (day(7), "prevention")  # the countdown follows A
    assert rest.upcoming == ((day(7), "prevention"),)
    assert classify_compound_with_blocks(cases, BLOCKS, day(6), SH04).compound.status == "controlled"
    on7 = classify_compound_with_blocks(cases, BLOCKS, day(7), SH04)
    assert on7.blocks["A"].status == "controlled"
    assert on7.compound.status == "prevention" and on7.compound.floor_from is None
    assert on7.compound.next_change_on is None


def test_remainder_own_case_outlasts_the_floor() -> None:
    """A case of its own keeps the remainder sealed; when it steps down, the block's floor is lower."""
    cases = [(day(0), "b1"), (day(1), "b9")]
    z = classify_compound_with_blocks(cases, BLOCKS, day(3), SH04)
    assert z.compound.status == "sealed" and z.compound.floor_from is None
    assert z.compound.upcoming == ((day(8), "controlled"), (day(15), "prevention"))


def test_remainder_floor_shanghai_05_follows_the_shorter_windows() -> None:
    cases = [(day(0), "b1"), (day(3), "b2")]  # A sealed d0..d9 (latest case d3), controlled to d12
    z = classify_compound_with_blocks(cases, BLOCKS, day(4), SH05)
    assert z.compound.status == "controlled"
    assert z.compound.next_change_on == day(10)
    assert classify_compound_with_blocks(cases, BLOCKS, day(10), SH05).compound.status == "prevention"


def test_remainder_floor_national_9_medium_while_high_and_the_gate_holds_it() -> None:
    cases = [(day(0), "b1")]
    z = classify_compound_with_blocks(cases, BLOCKS, day(3), N9)
    assert z.blocks["A"].status == "high" and z.compound.status == "medium"
    assert z.compound.next_change_on == day(7)
    # with rounds: no clean round after the case, so block A stays high and the remainder medium
    held = classify_compound_with_blocks(cases, BLOCKS, day(9), N9, rounds={day(5): False})
    assert held.blocks["A"].status == "high" and held.blocks["A"].held
    assert held.compound.status == "medium" and held.compound.next_change_on is None
    assert not held.compound.held  # the floor holds it, not a round of its own
    # a clean round on day 9: A steps down on day 10, the remainder with it
    freed = classify_compound_with_blocks(cases, BLOCKS, day(10), N9, rounds={day(5): False, day(9): True})
    assert freed.blocks["A"].status == "low" and freed.compound.status == "low"


def test_a_rule_set_without_a_floor_keeps_the_remainder_on_its_own_cases() -> None:
    bare = RuleSet.from_dict({**SH04.to_dict(), "name": "bare", "block_remainder_floor": []})
    assert classify_compound_with_blocks([(day(0), "b1")], BLOCKS, day(2), bare).compound.status == "prevention"


def test_the_floor_is_data_and_checked() -> None:
    assert SH04.remainder_floor("sealed") == "controlled" and SH04.remainder_floor("controlled") == "prevention"
    assert N9.remainder_floor("high") == "medium"
    assert RuleSet.from_dict(SH04.to_dict()) == SH04
    with pytest.raises(ValueError, match="floor"):
        RuleSet.from_dict({**SH04.to_dict(), "block_remainder_floor": ["prevention", "controlled", "prevention"]})
    with pytest.raises(ValueError, match="floor"):
        RuleSet.from_dict({**SH04.to_dict(), "block_remainder_floor": ["sealed"]})
    with pytest.raises(ValueError, match="above the block"):
        RuleSet.from_dict({**SH04.to_dict(), "block_remainder_floor": ["sealed", "sealed", "prevention"]})


def test_floor_timeline_merges_the_block_into_the_remainder() -> None:
    own = timeline([], day(-2), day(20), SH04)
    block = timeline([day(0)], day(-2), day(20), SH04)
    assert floor_timeline(own, {"A": block}, SH04) == [
        (day(-2), "prevention"),
        (D, "controlled"),
        (day(7), "prevention"),
    ]
