"""Pool planner for mass PCR rounds (全员核酸, 混采).

Pure functions and small dataclasses, no ORM: the sampling desk uses :class:`TubeFiller` to decide,
household by household, which tube the next swabs go into; the round planner uses
:func:`plan_pools` to choose a pool size per building from the recent positivity and to pack whole
households into tubes for the door-to-door lists.

Testing is two-stage (Dorfman): every tube is tested once, and every member of a positive tube is
re-sampled alone (单采). With an independent per-person positivity ``p`` and ``k`` swabs per tube,
the expected number of tests per person is ``1/k + 1 - (1 - p)**k``. Keeping a household in one
tube helps further: infections inside a household are correlated, so the positives gather in fewer
tubes.

The planner only uses what is known before the round: an estimate of the positivity per building
(see :func:`estimate_prevalence`), never the results of the round itself.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

M = TypeVar("M", bound=Hashable)

#: Pool sizes validated by the laboratory (tubes of 5, 10 and 20 swabs).
VALIDATED_POOL_SIZES: tuple[int, ...] = (5, 10, 20)
#: The usual practice: 10 swabs in one tube (10合1混采).
DEFAULT_POOL_SIZE = 10
#: A "pool" of one: single-tube sampling (单采), no re-test needed.
INDIVIDUAL = 1
#: Open tubes a sampling desk keeps at hand; 1 would be plain next-fit.
DEFAULT_MAX_OPEN = 3
#: Open tubes when planning a whole round ahead: a wider window wastes almost no tube space
#: (on a synthetic district, 0.3 % extra tubes of 5 and 0.01 % of 10, against 5 % and 0.8 % with 3).
PLAN_MAX_OPEN = 12


# --------------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class Household(Generic[M]):
    """One household (户): a room in a building and the residents to sample, in a stable order."""

    id: str
    building_id: str
    members: tuple[M, ...]


@dataclass(frozen=True, slots=True)
class Positivity:
    """Recent results of one building (or the whole community): people tested and positives.

    Counts may be fractional when they come from pooled results (see :meth:`from_pools`).
    Observations from several sources add up with ``+``.
    """

    tested: float
    positive: float

    def __post_init__(self) -> None:
        if self.tested < 0 or self.positive < 0 or self.positive > self.tested:
            raise ValueError("need 0 <= positive <= tested")

    @property
    def rate(self) -> float:
        return self.positive / self.tested if self.tested > 0 else 0.0

    def __add__(self, other: Positivity) -> Positivity:
        return Positivity(self.tested + other.tested, self.positive + other.positive)

    @classmethod
    def from_pools(cls, tubes: int, positive_tubes: int, pool_size: int) -> Positivity:
        """People-equivalent counts from a pooled round, by the maximum-likelihood estimate."""
        return cls(tubes * pool_size, tubes * pool_size * prevalence_from_pools(tubes, positive_tubes, pool_size))


def prevalence_from_pools(tubes: int, positive_tubes: int, pool_size: int) -> float:
    """Per-person positivity implied by the share of positive tubes: ``1 - (1 - t)**(1/k)``."""
    if tubes <= 0:
        return 0.0
    if not 0 <= positive_tubes <= tubes or pool_size < 1:
        raise ValueError("need 0 <= positive_tubes <= tubes and pool_size >= 1")
    share = positive_tubes / tubes
    return 1.0 - math.pow(1.0 - share, 1.0 / pool_size)


@dataclass(frozen=True, slots=True)
class PrevalenceEstimate:
    """Estimated positivity of the community and of each building.

    ``prior_weight`` is the number of (effective) pseudo-tests at the community rate mixed into
    each building's own results (``math.inf`` when the buildings look alike, so every building
    gets the community value). ``design_effect`` is how much more the results vary than
    independent residents would (household clusters), 1 when unknown.
    """

    community: float
    buildings: dict[str, float]
    prior_weight: float
    design_effect: float = 1.0

    def for_building(self, building_id: str) -> float:
        return self.buildings.get(building_id, self.community)


def estimate_prevalence(
    observations: Mapping[str, Positivity | Sequence[Positivity]],
    *,
    sensitivity: float = 1.0,
    false_positive_rate: float = 0.0,
    design_effect: float | None = None,
) -> PrevalenceEstimate:
    """Shrink each building's recent positivity toward the community's (empirical Bayes).

    ``observations`` maps a building to its recent results: one :class:`Positivity`, or one per
    day (e.g. the last days of antigen reports). A building with few tests and one positive should
    not be treated as a hot spot, and a building with a real cluster should stand out: the spread
    of the building rates beyond what noise explains (method of moments for a beta-binomial) sets
    how far each building is pulled toward the community rate.

    Infections come in household clusters, so building counts are noisier than for independent
    residents. Given several days per building, the day-to-day variation inside buildings
    measures that noise (the ``design_effect``); it can also be passed explicitly. The result is
    finally corrected for the test's sensitivity and false-positive rate (antigen self-tests miss
    a good share of infections).
    """
    if not 0.0 < sensitivity <= 1.0 or not 0.0 <= false_positive_rate < sensitivity:
        raise ValueError("need 0 <= false_positive_rate < sensitivity <= 1")
    days: dict[str, list[Positivity]] = {}
    for building_id, obs in observations.items():
        days[building_id] = [obs] if isinstance(obs, Positivity) else list(obs)
    totals = {b: sum(d, Positivity(0.0, 0.0)) for b, d in days.items()}
    observed = {b: o for b, o in totals.items() if o.tested > 0}
    total_tested = sum(o.tested for o in observed.values())
    total_positive = sum(o.positive for o in observed.values())
    mean = total_positive / total_tested if total_tested > 0 else 0.0
    unit_variance = mean * (1.0 - mean)

    if design_effect is None:
        design_effect = 1.0
        within = 0.0
        degrees = 0
        for building_id, daily in days.items():
            tested_days = [o for o in daily if o.tested > 0]
            if len(tested_days) < 2:
                continue
            rate = totals[building_id].rate
            within += sum(o.tested * (o.rate - rate) ** 2 for o in tested_days)
            degrees += len(tested_days) - 1
        if degrees >= 10 and unit_variance > 0.0:
            design_effect = max(within / degrees / unit_variance, 1.0)
    elif design_effect < 1.0:
        raise ValueError("design_effect must be >= 1")

    prior_weight = math.inf
    if len(observed) >= 2 and 0.0 < mean < 1.0:
        # Between-building variance of the true rates = observed spread - noise.
        spread = sum(o.tested * (o.rate - mean) ** 2 for o in observed.values()) / total_tested
        noise = unit_variance * design_effect * len(observed) / total_tested
        between = spread - noise
        if between > 0.0:
            prior_weight = max(unit_variance / between - 1.0, 0.0)

    def correct(rate: float) -> float:
        return min(max((rate - false_positive_rate) / (sensitivity - false_positive_rate), 0.0), 1.0)

    buildings: dict[str, float] = {}
    for building_id, obs in totals.items():
        if math.isinf(prior_weight) or obs.tested <= 0:
            shrunk = mean
        else:
            # Effective counts: a cluster-noisy building carries less information per test.
            shrunk = (obs.positive / design_effect + prior_weight * mean) / (obs.tested / design_effect + prior_weight)
        buildings[building_id] = correct(shrunk)
    return PrevalenceEstimate(correct(mean), buildings, prior_weight, design_effect)


# --------------------------------------------------------------------------------------------------
# Dorfman arithmetic


def dorfman_tests_per_person(prevalence: float, pool_size: int) -> float:
    """Expected tests per person with two-stage pooling: ``1/k + 1 - (1 - p)**k``; 1 for ``k = 1``."""
    if pool_size < 1:
        raise ValueError("pool_size must be >= 1")
    if pool_size == INDIVIDUAL:
        return 1.0
    return 1.0 / pool_size + 1.0 - (1.0 - prevalence) ** pool_size


def best_pool_size(prevalence: float, pool_sizes: Sequence[int] = VALIDATED_POOL_SIZES) -> int:
    """The pool size (or 1, individual testing) with the fewest expected tests per person.

    Ties go to the larger pool (fewer tubes to carry).
    """
    options = sorted({INDIVIDUAL, *pool_sizes}, reverse=True)
    return min(options, key=lambda k: dorfman_tests_per_person(prevalence, k))


def break_even_prevalence(pool_sizes: Sequence[int] = VALIDATED_POOL_SIZES) -> float:
    """Positivity above which testing everyone alone beats every allowed pool size.

    About 27.5% for pools of 5, 10 and 20 (30.7% if any pool size were allowed).
    """
    sizes = [k for k in pool_sizes if k > INDIVIDUAL]
    if not sizes:
        return 0.0
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if min(dorfman_tests_per_person(mid, k) for k in sizes) < 1.0:
            low = mid
        else:
            high = mid
    return low


def _size_biased_mean(sizes: Iterable[int]) -> float:
    """Household size seen by an average resident: E[m^2] / E[m]."""
    total = squares = 0
    for m in sizes:
        total += m
        squares += m * m
    return squares / total if total else 1.0


def _primary_rate(prevalence: float, household_sar: float, resident_household_size: float) -> float:
    """Per-person rate of infections from outside the household that yields ``prevalence``.

    One generation inside the household: each other member is infected with probability ``sar``.
    """
    return prevalence / (1.0 + household_sar * max(resident_household_size - 1.0, 0.0))


# --------------------------------------------------------------------------------------------------
# Packing


class TubeFiller(Generic[M]):
    """Fill tubes of ``pool_size`` swabs with whole households, as they arrive at the desk.

    Rule (shared with :func:`plan_pools`): a household goes into the open tube where it fits most
    tightly; if none has room, a new tube is opened, and when ``max_open`` tubes are already open
    the fullest of them is sealed first. A tube is sealed as soon as it is full. A household larger
    than the pool size fills whole tubes and puts its remainder in the next tube, so its tubes are
    consecutive. With ``max_open=1`` this is plain next-fit (one open tube at a time).
    """

    def __init__(self, pool_size: int, *, max_open: int = DEFAULT_MAX_OPEN) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if max_open < 1:
            raise ValueError("max_open must be >= 1")
        self._pool_size = pool_size
        self._max_open = max_open
        self._tubes: list[list[M]] = []
        self._open: list[int] = []  # indices of open tubes, oldest first

    @property
    def pool_size(self) -> int:
        return self._pool_size

    @property
    def tubes(self) -> Sequence[Sequence[M]]:
        """All tubes so far, open and sealed, in the order they were started (read-only view)."""
        return self._tubes

    @property
    def open_tubes(self) -> tuple[int, ...]:
        return tuple(self._open)

    def add_household(self, members: Sequence[M]) -> list[int]:
        """Place one household; returns the tube index of each member, in order."""
        k = self._pool_size
        size = len(members)
        if size == 0:
            return []
        if size > k:
            indices: list[int] = []
            for start in range(0, size, k):
                chunk = list(members[start : start + k])
                index = self._new_tube()
                self._put(index, chunk)
                indices.extend([index] * len(chunk))
            return indices
        index = self._choose(size)
        self._put(index, list(members))
        return [index] * size

    def seal(self, index: int) -> None:
        """Seal an open tube early (e.g. the last tube of a sampling session)."""
        if index in self._open:
            self._open.remove(index)

    def seal_all(self) -> None:
        self._open.clear()

    def _choose(self, size: int) -> int:
        best = -1
        best_free = self._pool_size + 1
        for index in self._open:
            free = self._pool_size - len(self._tubes[index])
            if size <= free < best_free:
                best, best_free = index, free
        return best if best >= 0 else self._new_tube()

    def _new_tube(self) -> int:
        if len(self._open) >= self._max_open:
            fullest = max(self._open, key=lambda i: len(self._tubes[i]))
            self._open.remove(fullest)
        self._tubes.append([])
        index = len(self._tubes) - 1
        self._open.append(index)
        return index

    def _put(self, index: int, members: list[M]) -> None:
        tube = self._tubes[index]
        tube.extend(members)
        if len(tube) >= self._pool_size and index in self._open:
            self._open.remove(index)


# --------------------------------------------------------------------------------------------------
# Plan


@dataclass(frozen=True, slots=True)
class PoolGroup:
    """Buildings that share a pool size, and what they are expected to cost."""

    pool_size: int
    buildings: tuple[str, ...]
    people: int
    tubes: int
    expected_retests: float

    @property
    def expected_tests(self) -> float:
        return self.tubes + self.expected_retests

    @property
    def expected_tests_per_person(self) -> float:
        return self.expected_tests / self.people if self.people else 0.0


@dataclass(frozen=True, slots=True)
class PoolPlan(Generic[M]):
    """Tubes for one round, with the expected cost beside the plain 10-in-1 default.

    ``tubes[i]`` holds member ids; ``tube_pool_sizes[i]`` is the pool size it was filled for
    (1 = single-tube sampling). Expected numbers are for two-stage testing.
    """

    tubes: list[list[M]]
    tube_pool_sizes: list[int]
    building_pool_size: dict[str, int]
    building_prevalence: dict[str, float]
    groups: tuple[PoolGroup, ...]
    people: int
    expected_retests: float
    default_pool_size: int
    default_tubes: int
    default_expected_retests: float
    break_even_prevalence: float
    pooling_pays: bool
    explanation: str

    @property
    def expected_tubes(self) -> int:
        return len(self.tubes)

    @property
    def expected_tests(self) -> float:
        return self.expected_tubes + self.expected_retests

    @property
    def expected_tests_per_person(self) -> float:
        return self.expected_tests / self.people if self.people else 0.0

    @property
    def default_expected_tests(self) -> float:
        return self.default_tubes + self.default_expected_retests

    @property
    def default_tests_per_person(self) -> float:
        return self.default_expected_tests / self.people if self.people else 0.0

    @property
    def saving(self) -> float:
        """Expected share of tests saved against the default (negative if the plan costs more)."""
        default = self.default_expected_tests
        return 1.0 - self.expected_tests / default if default else 0.0


def _expected_retests(tube_size: int, log_negative: float) -> float:
    """Re-tests of a tube: all its members when it is positive; none for a single-swab tube."""
    if tube_size <= 1:
        return 0.0
    return tube_size * -math.expm1(log_negative)


def plan_pools(
    households: Sequence[Household[M]],
    prevalence: float | PrevalenceEstimate,
    *,
    building_prevalence: Mapping[str, float] | None = None,
    pool_sizes: Sequence[int] = VALIDATED_POOL_SIZES,
    default_pool_size: int = DEFAULT_POOL_SIZE,
    household_sar: float = 0.0,
    max_open: int = PLAN_MAX_OPEN,
) -> PoolPlan[M]:
    """Choose a pool size per building and pack whole households into tubes.

    ``households`` come in a stable order (building, room); tubes follow that order, so a tube
    holds neighbours and a building's infections gather in few tubes. ``prevalence`` is the
    community's estimated positivity, or a :class:`PrevalenceEstimate` with one per building;
    ``building_prevalence`` overrides single buildings. Each building gets the pool size (or
    single-tube sampling) with the fewest expected tests at its own positivity; buildings with the
    same pool size share tubes, so tubes stay full across building boundaries.

    ``household_sar`` (secondary attack rate inside a household) only refines the expected numbers
    and the pool choice; the default 0 assumes independent residents, which never understates the
    number of positive tubes.
    """
    if not 0.0 <= household_sar <= 1.0:
        raise ValueError("household_sar must be within [0, 1]")
    if default_pool_size < 1:
        raise ValueError("default_pool_size must be >= 1")
    if isinstance(prevalence, PrevalenceEstimate):
        community = prevalence.community
        estimates: dict[str, float] = dict(prevalence.buildings)
    else:
        community = prevalence
        estimates = {}
    if building_prevalence:
        estimates.update(building_prevalence)
    for value in (community, *estimates.values()):
        if not 0.0 <= value <= 1.0:
            raise ValueError("prevalence must be within [0, 1]")

    resident_size = _size_biased_mean(len(h.members) for h in households)

    def primary(p: float) -> float:
        return _primary_rate(p, household_sar, resident_size)

    # Pool size per building, judged on the per-person rate that drives tube positivity.
    sizes = sorted({k for k in pool_sizes if k >= 1} | {INDIVIDUAL})
    building_pool_size: dict[str, int] = {}
    building_p: dict[str, float] = {}
    log_clean: dict[str, float] = {}  # log P(one resident brings no infection into the tube)
    for household in households:
        b = household.building_id
        if b in building_pool_size:
            continue
        p = estimates.get(b, community)
        building_p[b] = p
        q = primary(p)
        building_pool_size[b] = best_pool_size(q, sizes)
        log_clean[b] = math.log1p(-q) if q < 1.0 else -math.inf

    # Pack: one filler per pool size; global tube numbers follow the order tubes are started.
    fillers: dict[int, TubeFiller[M]] = {}
    global_index: dict[int, list[int]] = {}
    tube_log_negative: list[float] = []
    tube_sizes: list[int] = []
    tube_pool_sizes: list[int] = []
    group_buildings: dict[int, list[str]] = {}
    seen_building: set[str] = set()
    for household in households:
        b = household.building_id
        k = building_pool_size[b]
        filler = fillers.get(k)
        if filler is None:
            filler = fillers[k] = TubeFiller(k, max_open=max_open)
            global_index[k] = []
            group_buildings[k] = []
        if b not in seen_building:
            seen_building.add(b)
            group_buildings[k].append(b)
        local = filler.add_household(household.members)
        mapping = global_index[k]
        for i in local:
            while i >= len(mapping):
                mapping.append(len(tube_sizes))
                tube_sizes.append(0)
                tube_log_negative.append(0.0)
                tube_pool_sizes.append(k)
            g = mapping[i]
            tube_sizes[g] += 1
            tube_log_negative[g] += log_clean[b]

    tubes: list[list[M]] = [[] for _ in tube_sizes]
    for k, filler in fillers.items():
        for i, tube in enumerate(filler.tubes):
            tubes[global_index[k][i]] = list(tube)

    groups: list[PoolGroup] = []
    retests_total = 0.0
    for k in sorted(fillers):
        indices = global_index[k]
        retests = sum(_expected_retests(tube_sizes[g], tube_log_negative[g]) for g in indices)
        retests_total += retests
        groups.append(
            PoolGroup(
                pool_size=k,
                buildings=tuple(group_buildings[k]),
                people=sum(tube_sizes[g] for g in indices),
                tubes=len(indices),
                expected_retests=retests,
            )
        )

    default_tubes, default_retests = _default_expectation(households, default_pool_size, log_clean)
    people = sum(tube_sizes)
    threshold = break_even_prevalence([k for k in sizes if k > INDIVIDUAL])
    pooling_pays = any(k > INDIVIDUAL for k in fillers) or not fillers
    explanation = _explain(groups, community, threshold, pooling_pays, people)
    return PoolPlan(
        tubes=tubes,
        tube_pool_sizes=tube_pool_sizes,
        building_pool_size=building_pool_size,
        building_prevalence=building_p,
        groups=tuple(groups),
        people=people,
        expected_retests=retests_total,
        default_pool_size=default_pool_size,
        default_tubes=default_tubes,
        default_expected_retests=default_retests,
        break_even_prevalence=threshold,
        pooling_pays=pooling_pays,
        explanation=explanation,
    )


def _default_expectation(
    households: Sequence[Household[M]], pool_size: int, log_clean: Mapping[str, float]
) -> tuple[int, float]:
    """The usual practice: swabs taken in queue order, every ``pool_size`` of them in one tube."""
    tubes = 0
    retests = 0.0
    filled = 0
    log_negative = 0.0
    for household in households:
        lc = log_clean[household.building_id]
        for _ in household.members:
            filled += 1
            log_negative += lc
            if filled == pool_size:
                tubes += 1
                retests += _expected_retests(filled, log_negative)
                filled, log_negative = 0, 0.0
    if filled:
        tubes += 1
        retests += _expected_retests(filled, log_negative)
    return tubes, retests


def _explain(groups: Sequence[PoolGroup], community: float, threshold: float, pooling_pays: bool, people: int) -> str:
    if not people:
        return "Nobody to sample."
    if not pooling_pays:
        return (
            f"Pooling no longer pays: the estimated positivity ({community:.1%}) is above the "
            f"break-even {threshold:.1%} for the allowed pool sizes, so a positive tube is so likely "
            "that re-testing its members costs more than it saves. Sample everyone individually (单采)."
        )
    parts = []
    for group in groups:
        label = "individually" if group.pool_size == INDIVIDUAL else f"in pools of {group.pool_size}"
        parts.append(
            f"{len(group.buildings)} building(s), {group.people} people {label} "
            f"(≈{group.expected_tests_per_person:.3f} tests per person)"
        )
    text = f"Estimated community positivity {community:.2%}: " + "; ".join(parts) + "."
    if any(g.pool_size == INDIVIDUAL for g in groups):
        text += (
            f" Buildings above the break-even positivity of {threshold:.1%} are sampled individually: "
            "pooling no longer pays there."
        )
    return text
