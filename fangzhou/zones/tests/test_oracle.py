"""The fast zone classifier against a slow one that is obviously right.

The reference below reads the rule set's data and walks the days one by one, as a committee
would count them on a calendar: the latest known case, its age in days, the first window the
age falls short of; under the clean-round gate, each day a downgrade falls due it happens only if
the latest round dated before that day (and not before the latest case) was all negative. It
shares nothing with ``core.py`` but the :class:`RuleSet` and :class:`Override` data. Hypothesis
draws random histories, rounds, overrides, micro sealed blocks and random rule sets (rules are
data: two to four statuses, any increasing windows, gate on or off).
"""
# ruff: noqa: S101, RUF100

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fangzhou.zones.core import (
    RULE_SETS,
    Override,
    RuleSet,
    classify,
    classify_compound_with_blocks,
    floor_timeline,
    timeline,
)

D = date(2022, 4, 1)
ONE_DAY = timedelta(days=1)


def day(n: int) -> date:
    return D + timedelta(days=n)


# --------------------------------------------------------------------------- the reference


def rule_index(rules: RuleSet, age_days: int) -> int:
    """The first window the case's age falls short of; past every window, the lowest status."""
    for i, window in enumerate(rules.windows_days):
        if age_days < window:
            return i
    return len(rules.statuses) - 1


def reference(
    rules: RuleSet, cases: list[date], on: date, rounds: Mapping[date, bool] | None
) -> tuple[int, int, date | None]:
    """(status index, rule-only index, latest case) on ``on``, from what was known that day."""
    known = [c for c in cases if c <= on]
    lowest = len(rules.statuses) - 1
    if not known:
        return lowest, lowest, None
    last = max(known)
    by_rules = rule_index(rules, (on - last).days)
    if not rules.downgrade_needs_clean_round or rounds is None:
        return by_rules, by_rules, last
    status = 0  # the day of the case: the most severe status
    t = last
    while t < on:
        t += ONE_DAY
        due = rule_index(rules, (t - last).days)
        if due > status:
            evidence = [r for r in rounds if last <= r < t]
            if evidence and rounds[max(evidence)]:
                status = due
    return status, by_rules, last


def reference_next_change(
    rules: RuleSet, cases: list[date], on: date, rounds: Mapping[date, bool] | None
) -> date | None:
    """The next change after ``on`` assuming no new case. Under the gate, a downgrade due
    tomorrow is decided by the rounds already known (all of them are before tomorrow); one due
    later is assumed to find its clean round; one that is held has no known date (None)."""
    known = [c for c in cases if c <= on]
    index, _, last = reference(rules, known, on, rounds)
    if last is None or index == len(rules.statuses) - 1:
        return None
    tomorrow = on + ONE_DAY
    if rule_index(rules, (tomorrow - last).days) > index:
        if rules.downgrade_needs_clean_round and rounds is not None:
            evidence = [r for r in rounds if last <= r < tomorrow]
            return tomorrow if evidence and rounds[max(evidence)] else None
        return tomorrow
    t = tomorrow
    while rule_index(rules, (t - last).days) <= index:
        t += ONE_DAY
    return t


def reference_status(
    rules: RuleSet, cases: list[date], on: date, rounds: Mapping[date, bool] | None, override: Override | None
) -> str:
    if override is not None and (override.since is None or override.since <= on) and on <= override.until:
        return override.status
    return rules.statuses[reference(rules, cases, on, rounds)[0]]


# --------------------------------------------------------------------------- strategies

dates = st.integers(min_value=0, max_value=45).map(day)
round_maps = st.none() | st.dictionaries(dates, st.booleans(), max_size=12)


def around(points: list[date]) -> st.SearchStrategy[date]:
    """A random day, or (as often) one of ``points`` or the day before or after it, where bounds bite."""
    if not points:
        return dates
    near = st.tuples(st.sampled_from(points), st.integers(-1, 1)).map(lambda p: p[0] + timedelta(days=p[1]))
    return dates | near


def rounds_near(rules: RuleSet, cases: list[date]) -> st.SearchStrategy[dict[date, bool] | None]:
    """No rounds (gate off), or a few rounds, often on or next to a case day or a window's end."""
    few = st.dictionaries(around(days_that_matter(rules, cases, None)), st.booleans(), max_size=4)
    many = st.dictionaries(dates, st.booleans(), max_size=12)
    return st.none() | few | few | many


def days_that_matter(rules: RuleSet, cases: list[date], rounds: Mapping[date, bool] | None) -> list[date]:
    """Case days, the days their windows end, and the days after rounds."""
    ends = [c + timedelta(days=w) for c in cases for w in rules.windows_days]
    return sorted({*cases, *ends, *(r + ONE_DAY for r in rounds or {})})


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    if draw(st.booleans()):
        return draw(st.sampled_from(list(RULE_SETS.values())))
    n = draw(st.integers(min_value=2, max_value=4))
    windows = sorted(draw(st.sets(st.integers(min_value=1, max_value=20), min_size=n - 1, max_size=n - 1)))
    names = tuple(f"level{i}" for i in range(n))
    # the floor around a block: none, or one status per status, never lower for a worse block
    floor: tuple[str, ...] = ()
    if draw(st.booleans()):
        drawn = sorted(draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
        floor = tuple(names[max(i, rank)] for i, rank in enumerate(drawn))
    return RuleSet(
        name="drawn",
        label_zh="随机规则",
        label_en="drawn rules",
        statuses=names,
        windows_days=tuple(windows),
        status_labels_zh=names,
        status_labels_en=names,
        downgrade_needs_clean_round=draw(st.booleans()),
        block_remainder_floor=floor,
    )


@st.composite
def overrides(draw: st.DrawFn, rules: RuleSet) -> Override | None:
    if draw(st.booleans()):
        return None
    since = draw(st.none() | dates)
    until = draw(dates)
    if since is not None and since > until:
        since, until = until, since
    return Override(draw(st.sampled_from(rules.statuses)), "街道决定", "officer", until, since)


BUILDINGS = [f"b{i}" for i in range(8)]


@st.composite
def laminar_blocks(draw: st.DrawFn) -> dict[str, frozenset[str]]:
    """Micro sealed blocks as the committee draws them: disjoint or nested, never partly overlapping."""
    kept: list[frozenset[str]] = []
    for candidate in draw(st.lists(st.sets(st.sampled_from(BUILDINGS), min_size=1), max_size=5)):
        block = frozenset(candidate)
        if all(not (block & other) or block < other or other < block for other in kept):
            kept.append(block)
    return {f"z{i}": block for i, block in enumerate(kept)}


# --------------------------------------------------------------------------- the comparisons


@settings(max_examples=400, deadline=None)
@given(data=st.data(), rules=rule_sets(), cases=st.lists(dates, max_size=6))
def test_one_place_matches_the_reference(data: st.DataObject, rules: RuleSet, cases: list[date]) -> None:
    rounds = data.draw(rounds_near(rules, cases))
    on = data.draw(around(days_that_matter(rules, cases, rounds)))
    override = data.draw(overrides(rules))
    state = classify(cases, on, rules, rounds=rounds, override=override)
    index, by_rules, last = reference(rules, cases, on, rounds)
    gated = rules.downgrade_needs_clean_round and rounds is not None
    in_force = override is not None and (override.since is None or override.since <= on) and on <= override.until

    assert state.rule_status == rules.statuses[index]
    assert state.status == reference_status(rules, cases, on, rounds, override)
    assert state.overridden == in_force
    assert state.last_case_on == last
    assert state.days_without_case == (None if last is None else (on - last).days)
    # held: a downgrade the windows alone would have made by now waits for a clean round
    # (an override in force decides instead, so nothing is shown as held)
    assert state.held == (not in_force and gated and by_rules > index)
    if not gated:
        # the next change, assuming no new case: the first later day whose status differs
        known = [c for c in cases if c <= on]
        horizon = max(on, override.until if override else on) + timedelta(days=rules.windows_days[-1] + 2)
        t, expected = on + ONE_DAY, None
        while t <= horizon:
            if reference_status(rules, known, t, None, override if in_force else None) != state.status:
                expected = t
                break
            t += ONE_DAY
        assert state.next_change_on == expected and not state.next_change_conditional
        if expected is not None:
            assert state.next_status == reference_status(rules, known, expected, None, override if in_force else None)
    elif not in_force:
        expected = reference_next_change(rules, cases, on, rounds)
        assert state.next_change_on == expected
        assert state.next_change_conditional == (expected is not None and expected > on + ONE_DAY)
        if expected is not None:
            assert (
                state.next_status
                == rules.statuses[rule_index(rules, (expected - max(c for c in cases if c <= on)).days)]
            )


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rules=rule_sets(), cases=st.lists(dates, max_size=6))
def test_timeline_matches_the_reference_day_by_day(data: st.DataObject, rules: RuleSet, cases: list[date]) -> None:
    rounds = data.draw(rounds_near(rules, cases))
    start, end = day(-2), day(60)
    expected: list[tuple[date, str]] = []
    t = start
    while t <= end:
        status = reference_status(rules, cases, t, rounds, None)
        if not expected or expected[-1][1] != status:
            expected.append((t, status))
        t += ONE_DAY
    assert timeline(cases, start, end, rules, rounds=rounds) == expected


@settings(max_examples=150, deadline=None)
@given(
    rules=rule_sets(),
    blocks=laminar_blocks(),
    cases=st.lists(st.tuples(dates, st.sampled_from(BUILDINGS)), max_size=8),
    rounds=round_maps,
    on=dates,
)
def test_micro_sealed_blocks_match_the_reference(
    rules: RuleSet,
    blocks: dict[str, frozenset[str]],
    cases: list[tuple[date, str]],
    rounds: dict[date, bool] | None,
    on: date,
) -> None:
    zones = classify_compound_with_blocks(cases, blocks, on, rules, rounds=rounds)

    def zone_of(building: str) -> str | None:
        """The smallest block that holds the building, or None for the compound proper."""
        holding = [key for key, members in blocks.items() if building in members]
        return min(holding, key=lambda key: len(blocks[key])) if holding else None

    def own_status(zone: str | None, t: date) -> str:
        dates_in_zone = [d for d, building in cases if zone_of(building) == zone and d <= on]
        return reference_status(rules, dates_in_zone, t, rounds if t == on else None, None)

    def worse(a: str, b: str) -> str:
        return a if rules.statuses.index(a) <= rules.statuses.index(b) else b

    def status_of_zone(zone: str | None, t: date = on) -> str:
        """The zone's own status, held at least at the floor of every block strictly inside it
        (the compound proper: every block), read from the rule set's table."""
        status = own_status(zone, t)
        inside = [k for k, m in blocks.items() if zone is None or m < blocks[zone]]
        for key in inside:
            block = own_status(key, t)
            floor = rules.block_remainder_floor[rules.statuses.index(block)] if rules.block_remainder_floor else block
            status = worse(status, floor) if rules.block_remainder_floor else status
        return status

    for building in BUILDINGS:
        assert zones.zone_of(building) == zone_of(building)
        assert zones.building_status(building) == status_of_zone(zone_of(building)), building
    for key in blocks:
        assert zones.blocks[key].status == status_of_zone(key)
    assert zones.compound.status == status_of_zone(None)
    assert zones.compound_all_cases.status == reference_status(rules, [d for d, _ in cases], on, rounds, None)
    if rounds is None or not rules.downgrade_needs_clean_round:
        # the countdown of the compound proper: the first later day its held status differs
        t, expected = on + ONE_DAY, None
        while t <= on + timedelta(days=rules.windows_days[-1] + 2):
            if status_of_zone(None, t) != zones.compound.status:
                expected = t
                break
            t += ONE_DAY
        assert zones.compound.next_change_on == expected
        if expected is not None:
            assert zones.compound.next_status == status_of_zone(None, expected)


@settings(max_examples=100, deadline=None)
@given(
    rules=rule_sets(),
    cases_in_block=st.lists(dates, max_size=4),
    cases_outside=st.lists(dates, max_size=4),
)
def test_the_remainder_timeline_matches_the_reference_day_by_day(
    rules: RuleSet, cases_in_block: list[date], cases_outside: list[date]
) -> None:
    start, end = day(-2), day(60)
    expected: list[tuple[date, str]] = []
    t = start
    while t <= end:
        status = reference_status(rules, cases_outside, t, None, None)
        if rules.block_remainder_floor:
            block = reference_status(rules, cases_in_block, t, None, None)
            floor = rules.block_remainder_floor[rules.statuses.index(block)]
            status = status if rules.statuses.index(status) <= rules.statuses.index(floor) else floor
        if not expected or expected[-1][1] != status:
            expected.append((t, status))
        t += ONE_DAY
    own = timeline(cases_outside, start, end, rules)
    block_line = timeline(cases_in_block, start, end, rules)
    assert floor_timeline(own, {"A": block_line}, rules) == expected
