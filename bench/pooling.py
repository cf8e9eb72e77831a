"""Benchmark the pool planner on synthetic districts (not a test; run by hand).

    python bench/pooling.py [--people 100000] [--seed 1] [--reps 10] [--out docs/bench/pooling.md]

For every setting (uniform risk, risk concentrated in a few buildings), prevalence and household
secondary attack rate (SAR), it simulates rounds of testing and counts tests per person
(tubes + individual re-tests of every member of a positive tube) for: individual testing, random
10-in-1, household-ordered 10-in-1 (the queue at the sampling site), the planner, and the
information-theoretic bound H(p). The planner only sees antigen reports from the previous days,
simulated independently from the same building risks; it never sees the round's infections.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ratios import record  # noqa: E402

from fangzhou.testing.pooling import (  # noqa: E402
    Household,
    Positivity,
    estimate_prevalence,
    plan_pools,
)

PREVALENCES = (0.001, 0.005, 0.01, 0.02, 0.05)
SARS = (0.0, 0.3, 0.6)
SETTINGS = ("uniform", "buildings")
HOT_BUILDING_SHARE = 0.10  # 10 % of the buildings ...
HOT_INFECTION_SHARE = 0.80  # ... hold 80 % of the infections
# Household sizes 1..6 (roughly an urban Chinese district; mean ≈ 2.6 people).
HOUSEHOLD_SIZE_P = (0.22, 0.31, 0.26, 0.11, 0.07, 0.03)
# What the planner sees: daily antigen self-test reports from the previous days.
HISTORY_DAYS = 2
REPORT_RATE = 0.95
ANTIGEN_SENSITIVITY = 0.65
ANTIGEN_FALSE_POSITIVE = 0.0005

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass
class District:
    hh_size: IntArray  # per household
    hh_building: IntArray  # per household
    person_hh: IntArray  # per person, ordered by (building, room)
    person_building: IntArray
    n_buildings: int
    households: list[Household[int]]

    @property
    def people(self) -> int:
        return int(self.person_hh.size)


def make_district(people: int, rng: np.random.Generator) -> District:
    """Walk-up buildings (12-36 households) and high-rises (60-160), filled to ``people``."""
    sizes: list[int] = []
    buildings: list[int] = []
    total = 0
    b = 0
    while total < people:
        n_hh = int(rng.integers(12, 37)) if rng.random() < 0.65 else int(rng.integers(60, 161))
        hh = rng.choice(np.arange(1, 7), size=n_hh, p=HOUSEHOLD_SIZE_P)
        for m in hh:
            if total >= people:
                break
            m = min(int(m), people - total)
            sizes.append(m)
            buildings.append(b)
            total += m
        b += 1
    hh_size = np.array(sizes, dtype=np.int64)
    hh_building = np.array(buildings, dtype=np.int64)
    person_hh = np.repeat(np.arange(hh_size.size, dtype=np.int64), hh_size)
    person_building = hh_building[person_hh]
    households: list[Household[int]] = []
    start = 0
    for h, (m, bb) in enumerate(zip(sizes, buildings, strict=True)):
        households.append(Household(f"h{h}", f"b{bb}", tuple(range(start, start + m))))
        start += m
    return District(hh_size, hh_building, person_hh, person_building, b, households)


def expected_infected(q: float, sizes: IntArray, sar: float) -> float:
    """One generation in the household: a resident is infected from outside with rate q, and each
    other member who was infected from outside infects them with probability ``sar``."""
    m = sizes.astype(np.float64)
    return float(np.sum(m * (1.0 - (1.0 - q) * (1.0 - q * sar) ** (m - 1.0))))


def calibrate(target: float, sizes: IntArray, sar: float) -> float:
    """Outside infection rate giving ``target`` expected infections among these households."""
    if target <= 0:
        return 0.0
    if target >= expected_infected(0.999, sizes, sar):
        raise ValueError("target prevalence not reachable in these buildings")
    low, high = 0.0, 0.999
    for _ in range(60):
        mid = (low + high) / 2
        if expected_infected(mid, sizes, sar) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def building_rates(district: District, setting: str, p: float, sar: float, rng: np.random.Generator) -> FloatArray:
    """Outside infection rate per building (the latent risk, stable from day to day)."""
    target = p * district.people
    if setting == "uniform":
        return np.full(district.n_buildings, calibrate(target, district.hh_size, sar))
    n_hot = max(1, round(HOT_BUILDING_SHARE * district.n_buildings))
    hot = np.zeros(district.n_buildings, dtype=bool)
    hot[rng.choice(district.n_buildings, size=n_hot, replace=False)] = True
    hot_hh = hot[district.hh_building]
    q_hot = calibrate(HOT_INFECTION_SHARE * target, district.hh_size[hot_hh], sar)
    q_cold = calibrate((1 - HOT_INFECTION_SHARE) * target, district.hh_size[~hot_hh], sar)
    return np.where(hot, q_hot, q_cold)


def infect(district: District, q_building: FloatArray, sar: float, rng: np.random.Generator) -> BoolArray:
    """One day's infection status of every resident."""
    q = q_building[district.person_building]
    outside = rng.random(district.people) < q
    sources = np.bincount(district.person_hh, weights=outside, minlength=district.hh_size.size)
    others = sources[district.person_hh] - outside  # infected-from-outside housemates
    from_household = rng.random(district.people) < 1.0 - (1.0 - sar) ** others
    return outside | from_household


def antigen_history(
    district: District, q_building: FloatArray, sar: float, rng: np.random.Generator
) -> dict[str, list[Positivity]]:
    """Previous days' antigen reports per building (independent days from the same risks)."""
    history: dict[str, list[Positivity]] = {f"b{b}": [] for b in range(district.n_buildings)}
    for _ in range(HISTORY_DAYS):
        infected = infect(district, q_building, sar, rng)
        reported = rng.random(district.people) < REPORT_RATE
        hit = rng.random(district.people)
        result = np.where(infected, hit < ANTIGEN_SENSITIVITY, hit < ANTIGEN_FALSE_POSITIVE)
        tested = np.bincount(district.person_building, weights=reported, minlength=district.n_buildings)
        positive = np.bincount(district.person_building, weights=reported & result, minlength=district.n_buildings)
        for b in range(district.n_buildings):
            history[f"b{b}"].append(Positivity(float(tested[b]), float(positive[b])))
    return history


def tests_used(tube_of: IntArray, infected: BoolArray) -> int:
    """Tubes plus a re-test for every member of each positive tube (single-swab tubes need none)."""
    n_tubes = int(tube_of.max()) + 1
    size = np.bincount(tube_of, minlength=n_tubes)
    positive = np.bincount(tube_of, weights=infected, minlength=n_tubes) > 0
    return n_tubes + int(size[positive & (size > 1)].sum())


def chunk_tubes(n: int, k: int) -> IntArray:
    return np.arange(n, dtype=np.int64) // k


def entropy(p: float) -> float:
    if p <= 0 or p >= 1:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


@dataclass
class Cell:
    setting: str
    p: float
    sar: float
    measured_p: float
    individual: float
    random10: float
    household10: float
    planner: float
    planner_forecast: float
    diff_se: float  # standard error of (planner - random10) per person, over replicates
    pool_mix: str
    entropy: float

    @property
    def ratio(self) -> float:
        return self.planner / self.random10


def run_cell(
    district: District, setting: str, p: float, sar: float, reps: int, rng: np.random.Generator
) -> tuple[Cell, float]:
    n = district.people
    rows: list[tuple[float, float, float, float, float, float]] = []
    mix: dict[int, int] = {}
    plan_seconds = 0.0
    for _ in range(reps):
        q_building = building_rates(district, setting, p, sar, rng)
        history = antigen_history(district, q_building, sar, rng)
        estimate = estimate_prevalence(
            history, sensitivity=ANTIGEN_SENSITIVITY, false_positive_rate=ANTIGEN_FALSE_POSITIVE
        )
        started = time.perf_counter()
        plan = plan_pools(district.households, estimate)
        plan_seconds += time.perf_counter() - started
        tube_of = np.empty(n, dtype=np.int64)
        for t, tube in enumerate(plan.tubes):
            tube_of[tube] = t
        for group in plan.groups:
            mix[group.pool_size] = mix.get(group.pool_size, 0) + group.people

        infected = infect(district, q_building, sar, rng)  # the round itself
        random_order = rng.permutation(n)
        random_tube = np.empty(n, dtype=np.int64)
        random_tube[random_order] = chunk_tubes(n, 10)
        rows.append(
            (
                float(infected.mean()),
                tests_used(random_tube, infected) / n,
                tests_used(chunk_tubes(n, 10), infected) / n,
                tests_used(tube_of, infected) / n,
                plan.expected_tests_per_person,
                0.0,
            )
        )
    data = np.array(rows)
    diffs = data[:, 3] - data[:, 1]
    se = float(diffs.std(ddof=1) / math.sqrt(reps)) if reps > 1 else float("nan")
    total = sum(mix.values())
    pool_mix = ", ".join(
        f"{'1' if k == 1 else k}: {share:.0%}" for k, share in sorted((k, v / total) for k, v in mix.items())
    )
    mean = data.mean(axis=0)
    cell = Cell(
        setting=setting,
        p=p,
        sar=sar,
        measured_p=float(mean[0]),
        individual=1.0,
        random10=float(mean[1]),
        household10=float(mean[2]),
        planner=float(mean[3]),
        planner_forecast=float(mean[4]),
        diff_se=se,
        pool_mix=pool_mix,
        entropy=entropy(float(mean[0])),
    )
    return cell, plan_seconds / reps


@dataclass
class Target:
    label: str
    met: bool
    detail: str
    tie: bool = False


def check_targets(cells: list[Cell]) -> list[Target]:
    def find(setting: str, p: float, sar: float) -> Cell:
        return next(c for c in cells if c.setting == setting and c.p == p and c.sar == sar)

    targets: list[Target] = []
    c = find("uniform", 0.01, 0.3)
    targets.append(
        Target("uniform risk, p = 1 %, SAR 0.3: ≥ 15 % fewer tests", c.ratio <= 0.85, f"{1 - c.ratio:.1%} fewer")
    )
    c = find("buildings", 0.01, 0.3)
    targets.append(
        Target(
            "concentrated risk, p = 1 %, SAR 0.3: ≥ 35 % fewer tests",
            c.ratio <= 0.65,
            f"{1 - c.ratio:.1%} fewer",
        )
    )
    low = [find(s, 0.001, sar) for s in SETTINGS for sar in SARS]
    worst = max(low, key=lambda x: x.ratio)
    targets.append(
        Target(
            "p = 0.1 % (all SAR, both settings): ≥ 35 % fewer tests",
            all(x.ratio <= 0.65 for x in low),
            f"least saving {1 - worst.ratio:.1%} ({worst.setting}, SAR {worst.sar:g})",
        )
    )
    sar0 = [x for x in cells if x.sar == 0.0]
    above = [x for x in sar0 if x.planner > x.random10]
    beyond_noise = [x for x in above if x.planner - x.random10 > 2 * x.diff_se]
    if not above:
        detail = "planner at or below random 10-in-1 in every SAR 0 row"
    else:
        detail = "above in " + "; ".join(
            f"{x.setting} p = {x.p:.1%}: +{x.planner - x.random10:.4f} (s.e. {x.diff_se:.4f})" for x in above
        )
        if not beyond_noise:
            detail += (
                " - same pool size (10) as the default and full tubes, so the expected cost is equal;"
                " the measured gap is within 2 s.e. of zero"
            )
    targets.append(
        Target(
            "SAR 0: never more tests than random 10-in-1",
            not beyond_noise,
            detail,
            tie=bool(above) and not beyond_noise,
        )
    )
    return targets


def render(cells: list[Cell], targets: list[Target], args: argparse.Namespace, plan_seconds: float) -> str:
    command = f"python bench/pooling.py --people {args.people} --seed {args.seed} --reps {args.reps}"
    lines = [
        "# Pool planner benchmark",
        "",
        f"Generated by `{command}` (numbers below are measured, not edited).",
        "Tests per person count every tube plus an individual re-test of every member of a positive",
        f"tube (two-stage Dorfman), averaged over {args.reps} simulated rounds per row.",
        f"Planning {args.people:,} people with `plan_pools` took {plan_seconds * 1000:.0f} ms on average.",
        "",
        "## Setup",
        "",
        f"- **District**: {args.people:,} people in households of 1-6 (mean ≈ 2.6) in walk-up",
        "  buildings of 12-36 households and high-rises of 60-160 households, listed in",
        "  (building, room) order, the order residents queue and doors are visited.",
        "- **Infections**: each resident is infected from outside the home at a per-building rate;",
        "  each such case then infects each other member of the household with probability SAR (one",
        "  generation). The rate is calibrated so that the expected prevalence is p.",
        "- **Settings**: *uniform*: one rate for every building. *buildings*: 10 % of the buildings,",
        "  drawn at random, hold 80 % of the expected infections, as under lockdown.",
        f"- **What the planner knows**: the last {HISTORY_DAYS} days of antigen self-test reports per",
        "  building, simulated as independent days from the same building rates",
        f"  ({REPORT_RATE:.0%} of residents report; sensitivity {ANTIGEN_SENSITIVITY:.0%};",
        f"  false positives {ANTIGEN_FALSE_POSITIVE:.2%}). `estimate_prevalence` turns them into one",
        "  estimate per building: empirical-Bayes shrinkage toward the community rate, with the",
        "  day-to-day variation inside buildings measuring the extra noise of household clusters, then",
        "  a correction for the antigen test's sensitivity. The planner never sees the round's",
        "  infections, the true rates, which buildings are hot, or the SAR: it plans as if residents",
        "  were independent (`household_sar=0`), so its forecast is pessimistic when SAR > 0.",
        "",
        "## Strategies",
        "",
        "- *individual*: one tube per person, 1 test each.",
        "- *random 10*: 10-in-1 after a random shuffle of the whole district (the reference).",
        "- *household 10*: 10-in-1 in queue order (building, room); a household is cut wherever a",
        "  tube reaches 10.",
        "- *planner*: `plan_pools`: the pool size (1, 5, 10 or 20) with the fewest expected tests at",
        "  each building's estimated positivity; buildings of the same pool size share tubes in queue",
        "  order; whole households go into the open tube where they fit most tightly (a household",
        "  larger than the pool fills consecutive tubes).",
        "- *H(p)*: binary entropy of the measured prevalence, the information-theoretic floor for",
        "  independent residents. With household and building correlation the true floor is lower,",
        "  so H(p) is indicative, not a strict bound, in those rows.",
        "",
        "Columns: *forecast* is the planner's own expected tests per person; *s.e.* the standard",
        "error of (planner - random 10) over the rounds; *mix* the share of people per pool size.",
        "",
        "## Results (tests per person)",
        "",
        "| setting | p | SAR | measured p | individual | random 10 | household 10 | planner | forecast"
        " | H(p) | planner / random 10 | s.e. | planner / household 10 | mix (pool size: people) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c.setting} | {c.p:.1%} | {c.sar:g} | {c.measured_p:.3%} | {c.individual:.3f} "
            f"| {c.random10:.4f} | {c.household10:.4f} | **{c.planner:.4f}** | {c.planner_forecast:.4f} "
            f"| {c.entropy:.4f} | {c.ratio:.3f} | {c.diff_se:.4f} | {c.planner / c.household10:.3f} "
            f"| {c.pool_mix} |"
        )
    lines += ["", "## Targets (against random 10-in-1)", "", "| target | met | measured |", "|---|---|---|"]
    for t in targets:
        verdict = "tie (within noise)" if t.tie else "yes" if t.met else "**no**"
        lines.append(f"| {t.label} | {verdict} | {t.detail} |")
    lines += [
        "",
        "## Where the savings come from",
        "",
        "- **Pool size from positivity.** At p = 0.1 % pools of 20 halve the tubes; around 1-2 % pools",
        "  of 10 are already the best validated size, so with independent residents (SAR 0, uniform",
        "  risk) the planner can only match the default; at 5 % pools of 5 win. Above about 27.5 %",
        "  (the break-even for pools of 5, 10 and 20) pooling no longer pays and the planner samples",
        "  individually.",
        "- **Whole households in one tube.** With SAR > 0 the infections of a household land in the",
        "  same tube, so there are fewer positive tubes and fewer re-tests. Household-ordered 10-in-1",
        "  gets part of this; keeping households whole and tubes full gets the rest.",
        "- **Building risk.** When infections gather in a few buildings, their estimated positivity",
        "  sends them to small pools (or single tubes) while the rest of the district uses pools of",
        "  20, and the building order keeps their positives together.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=10, help="simulated rounds per row")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "pooling.md")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    district = make_district(args.people, rng)
    cells: list[Cell] = []
    plan_times: list[float] = []
    started = time.perf_counter()
    for setting in SETTINGS:
        for p in PREVALENCES:
            for sar in SARS:
                cell, seconds = run_cell(district, setting, p, sar, args.reps, rng)
                cells.append(cell)
                plan_times.append(seconds)
                print(
                    f"{setting:9s} p={p:<6} sar={sar:<4} random={cell.random10:.4f} "
                    f"household={cell.household10:.4f} planner={cell.planner:.4f} ratio={cell.ratio:.3f}",
                    file=sys.stderr,
                )
    for cell in cells:
        if cell.p == 0.01 and cell.sar == 0.3:
            record(
                f"pooling: planner / random 10 ({cell.setting}, p 1 %, SAR 0.3)",
                cell.planner,
                cell.random10,
                "tests/person",
            )
    targets = check_targets(cells)
    text = render(cells, targets, args, sum(plan_times) / len(plan_times))
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
