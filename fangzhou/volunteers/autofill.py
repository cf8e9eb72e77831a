"""Fill the gaps of a duty roster (pure core, OR-Tools CP-SAT, no Django).

Each open shift needs ``gap`` more people from its work group, and only people who may serve
(``may_serve``: the health gate is open) are put on one; a person takes at most one of
overlapping shifts (including those they are already on); the load is spread: minimise the
largest number of shifts anyone has that day, then prefer people with fewer shifts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenShift:
    id: int
    group: int
    starts: dt.datetime
    ends: dt.datetime
    gap: int


@dataclass(frozen=True)
class Person:
    id: int
    groups: frozenset[int]
    busy: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    load: int = 0
    # The health gate: someone who may not serve now (sealed building, positive or no recent
    # negative test) is never put on a shift, whatever the gaps.
    may_serve: bool = True


@dataclass(frozen=True)
class Problem:
    shifts: list[OpenShift]
    people: list[Person]


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def solve(problem: Problem, *, seconds: float = 5.0) -> list[tuple[int, int]]:
    """Return (shift id, person id) pairs to add. Fills as many places as possible."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for s in problem.shifts:
        for p in problem.people:
            if not p.may_serve or s.group not in p.groups:
                continue
            if any(_overlap((s.starts, s.ends), b) for b in p.busy):
                continue
            x[s.id, p.id] = model.new_bool_var(f"x{s.id}_{p.id}")
    if not x:
        return []
    for s in problem.shifts:
        model.add(sum(v for (sid, _), v in x.items() if sid == s.id) <= s.gap)
    for i, a in enumerate(problem.shifts):
        for b in problem.shifts[i + 1 :]:
            if _overlap((a.starts, a.ends), (b.starts, b.ends)):
                for p in problem.people:
                    if (a.id, p.id) in x and (b.id, p.id) in x:
                        model.add(x[a.id, p.id] + x[b.id, p.id] <= 1)
    horizon = len(problem.shifts) + max((p.load for p in problem.people), default=0)
    peak = model.new_int_var(0, horizon, "peak")
    for p in problem.people:
        model.add(peak >= p.load + sum(v for (_, pid), v in x.items() if pid == p.id))
    filled = sum(x.values())
    # Lexicographic: fill the most places; then the lowest peak; then prefer the least loaded.
    preference = sum(p.load * v for (_, pid), v in x.items() for p in problem.people if p.id == pid)
    bound = sum(p.load for p in problem.people) * len(problem.shifts) + 1
    peak_weight = bound
    fill_weight = (horizon + 1) * bound + bound
    model.maximize(filled * fill_weight - peak * peak_weight - preference)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 4
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    return sorted(key for key, v in x.items() if solver.value(v))
