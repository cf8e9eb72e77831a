"""Three-zone (三区) classification as pure Python: no Django, no I/O.

The zone rules are *data* (:class:`RuleSet`), not code. Every rule set shipped here
has the same shape:

* an ordered tuple of statuses, most severe first, e.g. ``("sealed", "controlled",
  "prevention")`` or ``("high", "medium", "low")``;
* cumulative day windows, one per status except the last: a case reported on day ``d``
  keeps the place at ``statuses[i]`` *or worse* on every day ``t`` with
  ``t - d < windows_days[i]``. Only the latest case matters, because a newer case
  always restarts the most severe window.

  For ``shanghai-2022-04`` the windows are ``(7, 14)``: a case on any of ``t-6..t`` seals
  the place on day ``t``; otherwise a case on any of ``t-13..t`` makes it controlled;
  otherwise it is a prevention zone.

* an optional gate, ``downgrade_needs_clean_round``: a downgrade scheduled for day ``x``
  only happens if the latest mass-testing round dated before ``x`` (and not before the
  latest case) was all negative. Otherwise the status is held, and the downgrade happens
  the day after the next all-negative round, straight to whatever the windows give for
  that day (it may skip a level if the hold was long). The gate only applies when the
  caller passes ``rounds``; with ``rounds=None`` the rules run ungated. With ``rounds={}``
  (gate on, no round known) a downgrade is held: no evidence, no downgrade.

* a floor around micro sealed blocks, ``block_remainder_floor``: one status per status, the
  minimum status of a compound's remainder (and of an enclosing block) while a block inside
  it is at that status. For ``shanghai-2022-04`` it is ``("controlled", "prevention",
  "prevention")``: while a block is sealed, the rest of its compound is at least controlled
  (people do not leave the compound) until the block itself steps down. Empty: no floor.
  See :func:`floor_state` and :func:`floor_timeline`.

Information after the classification day ``on`` is ignored: cases dated after ``on``
and rounds dated after ``on`` are treated as not yet known, so a classification for a
past day is reproducible whatever has been recorded since.

Main entry points: :func:`classify`, :func:`timeline`, :func:`apply_override`,
:func:`classify_many`, :func:`classify_compound_with_blocks` and the reusable
:class:`CaseHistory` (sort once, then ``bisect`` per query).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

__all__ = [
    "DEFAULT_RULE_SET",
    "RULE_SETS",
    "CaseHistory",
    "CompoundZones",
    "DayClassifier",
    "Override",
    "RuleSet",
    "ZoneState",
    "apply_override",
    "classify",
    "classify_compound_with_blocks",
    "classify_many",
    "floor_state",
    "floor_timeline",
    "nested_blocks",
    "smallest_block_per_building",
    "timeline",
]

ONE_DAY = timedelta(days=1)


# --------------------------------------------------------------------------- rule sets


@dataclass(frozen=True)
class RuleSet:
    """A zone rule set, as plain data.

    ``statuses`` are ordered most severe first. ``windows_days[i]`` is the number of days,
    counting the case day itself, during which a case keeps the place at ``statuses[i]``
    or worse; the windows are cumulative and strictly increasing. After the last window
    the place is at ``statuses[-1]`` (the lowest status, also the status of a place that
    never had a case).
    """

    name: str
    label_zh: str
    label_en: str
    statuses: tuple[str, ...]
    windows_days: tuple[int, ...]
    status_labels_zh: tuple[str, ...]
    status_labels_en: tuple[str, ...]
    downgrade_needs_clean_round: bool = False
    description: str = ""
    #: ``block_remainder_floor[i]``: the minimum status of a compound's remainder while a micro
    #: sealed block inside it is at ``statuses[i]`` (empty: a block puts no floor on its compound)
    block_remainder_floor: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.statuses)
        if n < 2:
            raise ValueError(f"rule set {self.name!r}: needs at least two statuses")
        if len(set(self.statuses)) != n:
            raise ValueError(f"rule set {self.name!r}: duplicate statuses")
        if len(self.windows_days) != n - 1:
            raise ValueError(f"rule set {self.name!r}: needs {n - 1} windows, got {len(self.windows_days)}")
        prev = 0
        for w in self.windows_days:
            if w <= prev:
                raise ValueError(f"rule set {self.name!r}: windows must be positive and strictly increasing")
            prev = w
        if len(self.status_labels_zh) != n or len(self.status_labels_en) != n:
            raise ValueError(f"rule set {self.name!r}: one label per status is required")
        floor = self.block_remainder_floor
        if floor:
            if len(floor) != n or any(f not in self.statuses for f in floor):
                raise ValueError(f"rule set {self.name!r}: the block floor needs one known status per status")
            ranks = [self.statuses.index(f) for f in floor]
            if ranks != sorted(ranks):
                raise ValueError(f"rule set {self.name!r}: a more severe block cannot give a lower floor")
            if any(rank < i for i, rank in enumerate(ranks)):
                raise ValueError(f"rule set {self.name!r}: the floor around a block cannot be above the block")

    # -- lookups ---------------------------------------------------------------

    @property
    def most_severe(self) -> str:
        return self.statuses[0]

    @property
    def lowest(self) -> str:
        return self.statuses[-1]

    def index(self, status: str) -> int:
        """Position of ``status`` in :attr:`statuses` (0 = most severe)."""
        try:
            return self.statuses.index(status)
        except ValueError:
            raise ValueError(f"rule set {self.name!r} has no status {status!r}") from None

    def severity(self, status: str) -> int:
        """Higher is more severe; the lowest status has severity 0."""
        return len(self.statuses) - 1 - self.index(status)

    def label(self, status: str, lang: str = "zh") -> str:
        labels = self.status_labels_en if lang.startswith("en") else self.status_labels_zh
        return labels[self.index(status)]

    def remainder_floor(self, block_status: str) -> str:
        """The minimum status around a block at ``block_status`` (the lowest if no floor)."""
        if not self.block_remainder_floor:
            return self.lowest
        return self.block_remainder_floor[self.index(block_status)]

    def worse(self, a: str, b: str) -> str:
        """The more severe of two statuses."""
        return a if self.index(a) <= self.index(b) else b

    def index_for_age(self, age_days: int) -> int:
        """Status index for a place whose latest case is ``age_days`` old (0 = case today)."""
        return bisect_right(self.windows_days, age_days)

    # -- (de)serialisation, so rule sets can live in settings or the database ---

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "statuses": list(self.statuses),
            "windows_days": list(self.windows_days),
            "status_labels_zh": list(self.status_labels_zh),
            "status_labels_en": list(self.status_labels_en),
            "downgrade_needs_clean_round": self.downgrade_needs_clean_round,
            "description": self.description,
            "block_remainder_floor": list(self.block_remainder_floor),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        return cls(
            name=str(data["name"]),
            label_zh=str(data["label_zh"]),
            label_en=str(data["label_en"]),
            statuses=tuple(str(s) for s in data["statuses"]),
            windows_days=tuple(int(w) for w in data["windows_days"]),
            status_labels_zh=tuple(str(s) for s in data["status_labels_zh"]),
            status_labels_en=tuple(str(s) for s in data["status_labels_en"]),
            downgrade_needs_clean_round=bool(data.get("downgrade_needs_clean_round", False)),
            description=str(data.get("description", "")),
            block_remainder_floor=tuple(str(s) for s in data.get("block_remainder_floor", ())),
        )


_THREE_ZONES = ("sealed", "controlled", "prevention")
_THREE_ZONES_ZH = ("封控区", "管控区", "防范区")
_THREE_ZONES_EN = ("Sealed zone", "Controlled zone", "Prevention zone")
# A sealed block: the remainder at least controlled; a controlled block: no floor.
_SHANGHAI_FLOOR = ("controlled", "prevention", "prevention")

RULE_SETS: dict[str, RuleSet] = {
    rs.name: rs
    for rs in (
        RuleSet(
            name="shanghai-2022-04",
            label_zh="上海三区划分（2022年4月）",
            label_en="Shanghai three zones (April 2022)",
            statuses=_THREE_ZONES,
            windows_days=(7, 14),
            status_labels_zh=_THREE_ZONES_ZH,
            status_labels_en=_THREE_ZONES_EN,
            description="Case in the last 7 days (t-6..t): sealed; in the last 14 days: controlled; "
            "otherwise prevention. Around a micro sealed block the three zones nest outward: while a block "
            "is sealed the rest of its compound is at least controlled (people do not leave the compound); "
            "a controlled block puts no floor on it (the ring around a controlled zone is the prevention zone).",
            block_remainder_floor=_SHANGHAI_FLOOR,
        ),
        RuleSet(
            name="shanghai-2022-05",
            label_zh="上海三区划分（2022年5月）",
            label_en="Shanghai three zones (May 2022)",
            statuses=_THREE_ZONES,
            windows_days=(7, 10),
            status_labels_zh=_THREE_ZONES_ZH,
            status_labels_en=_THREE_ZONES_EN,
            description="Case on day d: sealed d..d+6, controlled d+7..d+9, prevention from d+10. "
            "While a micro sealed block is sealed, the rest of its compound is at least controlled; a "
            "controlled block puts no floor on it.",
            block_remainder_floor=_SHANGHAI_FLOOR,
        ),
        RuleSet(
            name="national-9",
            label_zh="第九版防控方案 高中低风险区",
            label_en="National protocol, 9th edition: high / medium / low risk",
            statuses=("high", "medium", "low"),
            windows_days=(7, 10),
            status_labels_zh=("高风险区", "中风险区", "低风险区"),
            status_labels_en=("High-risk area", "Medium-risk area", "Low-risk area"),
            downgrade_needs_clean_round=True,
            description="Case on day d: high d..d+6, medium d+7..d+9, low from d+10; when testing "
            "rounds are supplied, a downgrade waits for an all-negative round. Blocks: the text draws a "
            "high-risk area 'in principle by residential compound' (原则上以居住小区为单位) and names as "
            "medium-risk the places where cases 'stayed and moved for some time' (停留和活动一定时间); when "
            "the high-risk area is drawn smaller than the compound, the rest of the compound is where the "
            "block's residents shared gates and roads, so it is at least medium-risk while the block is "
            "high-risk. Medium-risk is not a ring the text draws around anything, so a medium-risk block "
            "puts no floor on its compound.",
            block_remainder_floor=("medium", "low", "low"),
        ),
    )
}

DEFAULT_RULE_SET: RuleSet = RULE_SETS["shanghai-2022-04"]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ZoneState:
    """The zone status of one place on one day.

    ``status`` is what to show; ``rule_status`` is what the rules alone give (they differ
    only while an :class:`Override` is active). ``upcoming`` is the schedule of future
    change points assuming no new case (and, under the round gate, assuming the needed
    clean rounds happen); ``next_change_on``/``next_status`` are its first entry, or
    ``None`` when the place is already at the lowest status or the date is unknown
    (a downgrade held until a clean round that has not happened yet).
    """

    on: date
    rule_set: str
    status: str
    rule_status: str
    last_case_on: date | None
    days_without_case: int | None
    next_change_on: date | None
    next_status: str | None
    upcoming: tuple[tuple[date, str], ...] = ()
    #: a downgrade is overdue but held by the clean-round gate
    held: bool = False
    #: the next change depends on testing rounds not yet known
    next_change_conditional: bool = False
    overridden: bool = False
    override_reason: str | None = None
    override_by: str | None = None
    override_until: date | None = None
    #: the key of the micro sealed block whose floor holds this place at ``rule_status`` (its
    #: own cases alone would give a lower status); see :func:`floor_state`
    floor_from: str | None = None


@dataclass(frozen=True)
class Override:
    """A manual status decision (e.g. by the subdistrict), active ``since..until`` inclusive."""

    status: str
    reason: str
    by: str
    until: date
    since: date | None = None

    def active_on(self, on: date) -> bool:
        return on <= self.until and (self.since is None or self.since <= on)


def apply_override(state: ZoneState, override: Override, on: date, rules: RuleSet | None = None) -> ZoneState:
    """Return ``state`` with ``override`` applied if it is active on ``on``, else ``state``.

    The returned state keeps the rule status in ``rule_status`` and recomputes the
    schedule: on ``override.until + 1`` the place falls back to whatever the rules give
    for that day (no change is listed if that equals the override status). If ``rules``
    is given (or ``state.rule_set`` is a registered rule set) the override status is
    validated against it.
    """
    if not override.active_on(on):
        return state
    check = rules if rules is not None else RULE_SETS.get(state.rule_set)
    if check is not None:
        check.index(override.status)
    expiry = override.until + ONE_DAY
    rule_at_expiry = state.rule_status
    for when, st in state.upcoming:
        if when <= expiry:
            rule_at_expiry = st
    upcoming: list[tuple[date, str]] = []
    if rule_at_expiry != override.status:
        upcoming.append((expiry, rule_at_expiry))
    upcoming.extend((when, st) for when, st in state.upcoming if when > expiry)
    first = upcoming[0] if upcoming else None
    return replace(
        state,
        status=override.status,
        overridden=True,
        override_reason=override.reason,
        override_by=override.by,
        override_until=override.until,
        upcoming=tuple(upcoming),
        next_change_on=first[0] if first else None,
        next_status=first[1] if first else None,
        held=False,
        next_change_conditional=state.next_change_conditional and first is not None and first[0] != expiry,
    )


# --------------------------------------------------------------------------- engine


class CaseHistory:
    """Case dates (and optional testing rounds) of one place, sorted once for fast queries.

    ``rounds`` maps a mass-testing round date to ``True`` if the round was all negative.
    Reuse one instance to classify many days; each :meth:`classify` is O(log n).
    """

    __slots__ = ("_clean", "_next_clean", "_rounds", "cases", "has_rounds")

    def __init__(self, case_dates: Iterable[date], rounds: Mapping[date, bool] | None = None) -> None:
        self.cases: tuple[date, ...] = tuple(sorted(set(case_dates)))
        self.has_rounds = rounds is not None
        items = sorted((rounds or {}).items())
        self._rounds: list[date] = [d for d, _ in items]
        self._clean: list[bool] = [bool(ok) for _, ok in items]
        # _next_clean[i] = smallest j >= i with a clean round j (len(rounds) if none)
        nxt = [len(items)] * (len(items) + 1)
        for i in range(len(items) - 1, -1, -1):
            nxt[i] = i if self._clean[i] else nxt[i + 1]
        self._next_clean = nxt

    def last_case_on(self, on: date) -> date | None:
        i = bisect_right(self.cases, on)
        return self.cases[i - 1] if i else None

    def _clean_from(self, due: date, last_case: date, on: date) -> date | None:
        """First day >= ``due`` whose latest round (since ``last_case``) was clean.

        Only rounds dated ``<= on`` are known. Callers guarantee ``due <= on + 1``, so
        every round before ``due`` is known.
        """
        rounds = self._rounds
        k = bisect_left(rounds, due) - 1
        if k >= 0 and rounds[k] >= last_case and self._clean[k]:
            return due
        j = self._next_clean[k + 1]
        if j < len(rounds) and rounds[j] <= on:
            return rounds[j] + ONE_DAY
        return None

    def classify(self, on: date, rules: RuleSet = DEFAULT_RULE_SET) -> ZoneState:
        """Zone state on ``on`` (cases and rounds after ``on`` are ignored)."""
        last = self.last_case_on(on)
        if last is None:
            return ZoneState(
                on=on,
                rule_set=rules.name,
                status=rules.lowest,
                rule_status=rules.lowest,
                last_case_on=None,
                days_without_case=None,
                next_change_on=None,
                next_status=None,
            )
        gate = rules.downgrade_needs_clean_round and self.has_rounds
        lowest = len(rules.statuses) - 1
        tomorrow = on + ONE_DAY
        s = 0  # the case day is always at the most severe status
        held = False
        conditional = False  # the first upcoming change depends on unknown rounds
        upcoming: list[tuple[date, str]] = []
        while s < lowest:
            due = last + timedelta(days=rules.windows_days[s])
            when: date | None
            if not gate:
                when = due
            elif due > tomorrow:
                # the deciding round lies in the future: assume it will be clean
                when, conditional = due, True
            else:
                when = self._clean_from(due, last, on)
                if when is None:
                    held = due <= on
                    break
            if when <= on:
                s = rules.index_for_age((when - last).days)
                continue
            if not upcoming:
                held = due <= on
            nxt = rules.index_for_age((when - last).days)
            upcoming.append((when, rules.statuses[nxt]))
            s_future = nxt
            # project the remaining steps from the future date (assuming clean rounds)
            while s_future < lowest:
                due2 = last + timedelta(days=rules.windows_days[s_future])
                s_future = rules.index_for_age((due2 - last).days)
                upcoming.append((due2, rules.statuses[s_future]))
            break
        status = rules.statuses[s]
        first = upcoming[0] if upcoming else None
        return ZoneState(
            on=on,
            rule_set=rules.name,
            status=status,
            rule_status=status,
            last_case_on=last,
            days_without_case=(on - last).days,
            next_change_on=first[0] if first else None,
            next_status=first[1] if first else None,
            upcoming=tuple(upcoming),
            held=held,
            next_change_conditional=conditional,
        )

    def timeline(self, start: date, end: date, rules: RuleSet = DEFAULT_RULE_SET) -> list[tuple[date, str]]:
        """Change points ``(date, status)`` from ``start`` to ``end`` inclusive.

        The first entry is ``start`` with its status; each further entry is a day whose
        status differs from the day before. Each day is classified with what was known
        on that day.
        """
        if end < start:
            raise ValueError("timeline: end is before start")
        # the status can only change on a case day, a window boundary after a case, or
        # the day after a testing round
        candidates: set[date] = {start}
        windows = [timedelta(days=w) for w in rules.windows_days]
        for c in self.cases:
            for d in (c, *(c + w for w in windows)):
                if start < d <= end:
                    candidates.add(d)
        if rules.downgrade_needs_clean_round and self.has_rounds:
            for r in self._rounds:
                d = r + ONE_DAY
                if start < d <= end:
                    candidates.add(d)
        points: list[tuple[date, str]] = []
        for d in sorted(candidates):
            st = self.classify(d, rules).status
            if not points or points[-1][1] != st:
                points.append((d, st))
        return points


def classify(
    case_dates: Iterable[date],
    on: date,
    rules: RuleSet = DEFAULT_RULE_SET,
    *,
    rounds: Mapping[date, bool] | None = None,
    override: Override | None = None,
) -> ZoneState:
    """Classify one place on day ``on`` from its case report dates.

    Cases and rounds dated after ``on`` are ignored. ``rounds`` (round date -> all
    negative) feeds the clean-round gate of rule sets that have it. ``override``, if
    active on ``on``, is applied with :func:`apply_override` (validated against ``rules``).
    """
    state = CaseHistory(case_dates, rounds).classify(on, rules)
    if override is not None:
        rules.index(override.status)
        state = apply_override(state, override, on, rules)
    return state


def timeline(
    case_dates: Iterable[date],
    start: date,
    end: date,
    rules: RuleSet = DEFAULT_RULE_SET,
    rounds: Mapping[date, bool] | None = None,
) -> list[tuple[date, str]]:
    """Status change points from ``start`` to ``end`` (see :meth:`CaseHistory.timeline`)."""
    return CaseHistory(case_dates, rounds).timeline(start, end, rules)


def classify_many(
    cases_by_place: Mapping[str, Iterable[date]],
    on: date,
    rules: RuleSet = DEFAULT_RULE_SET,
    *,
    rounds_by_place: Mapping[str, Mapping[date, bool]] | None = None,
) -> dict[str, ZoneState]:
    """Classify many places at once: ``{place_key: ZoneState}``."""
    rounds_by_place = rounds_by_place or {}
    return {
        key: CaseHistory(cases, rounds_by_place.get(key)).classify(on, rules) for key, cases in cases_by_place.items()
    }


class DayClassifier:
    """Classify many places on one day under one rule set and one set of rounds.

    A place's state on ``on`` depends only on its latest case up to ``on`` (and on the rounds,
    which are the same for every place here), so a caller that knows each place's last case
    date (one ``GROUP BY`` in the database) classifies any number of places in linear time:
    each distinct last-case date is classified once and the (immutable) state is shared.
    ``state(last)`` equals ``CaseHistory(dates, rounds).classify(on, rules)`` for any ``dates``
    whose latest one up to ``on`` is ``last``.
    """

    __slots__ = ("_memo", "on", "rounds", "rules")

    def __init__(self, on: date, rules: RuleSet = DEFAULT_RULE_SET, rounds: Mapping[date, bool] | None = None) -> None:
        self.on = on
        self.rules = rules
        self.rounds = rounds
        self._memo: dict[date | None, ZoneState] = {}

    def state(self, last: date | None) -> ZoneState:
        """The state on ``self.on`` of a place whose latest case up to that day was on ``last``."""
        if last is not None and last > self.on:
            raise ValueError("DayClassifier.state: the last case is after the classification day")
        found = self._memo.get(last)
        if found is None:
            found = CaseHistory(() if last is None else (last,), self.rounds).classify(self.on, self.rules)
            self._memo[last] = found
        return found

    @staticmethod
    def timeline_needs_from(start: date, rules: RuleSet) -> date:
        """A timeline from ``start`` (:meth:`CaseHistory.timeline`) is the same from the case
        dates on or after this day plus the latest one before it: an earlier case moves no
        change point past ``start``, and only the latest case before a day decides that day."""
        return start - timedelta(days=max(rules.windows_days, default=0))

    def history(self, case_dates: Iterable[date]) -> CaseHistory:
        """A :class:`CaseHistory` of ``case_dates`` with this classifier's rounds (for timelines)."""
        return CaseHistory(case_dates, self.rounds)


# --------------------------------------------------------------------------- micro sealed zones


@dataclass(frozen=True)
class CompoundZones:
    """Zone states of a compound split into micro sealed blocks (小封控区).

    * ``blocks[key]``: state of each block, from the cases in the buildings for which that
      block is the smallest containing zone;
    * ``compound``: the compound proper, from the cases in buildings outside every block;
    * ``compound_all_cases``: the compound as if no block had been drawn (for reporting);
    * a building takes the state of the smallest zone that contains it: its (smallest)
      block if any, else the compound proper (see :meth:`building_state`).
    """

    on: date
    compound: ZoneState
    compound_all_cases: ZoneState
    blocks: Mapping[str, ZoneState]
    block_of_building: Mapping[str, str] = field(default_factory=dict)

    def zone_of(self, building_key: str) -> str | None:
        """The block key governing ``building_key``, or ``None`` for the compound proper."""
        return self.block_of_building.get(building_key)

    def building_state(self, building_key: str) -> ZoneState:
        block = self.block_of_building.get(building_key)
        return self.compound if block is None else self.blocks[block]

    def building_status(self, building_key: str) -> str:
        return self.building_state(building_key).status


def smallest_block_per_building(blocks: Mapping[str, Collection[str]]) -> dict[str, str]:
    """Map each building to its smallest block; blocks must be disjoint or nested."""
    sets = {key: frozenset(members) for key, members in blocks.items()}
    keys = list(sets)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            sa, sb = sets[a], sets[b]
            if sa & sb and not (sa < sb or sb < sa):
                raise ValueError(f"blocks {a!r} and {b!r} overlap without one containing the other")
    owner: dict[str, str] = {}
    # larger blocks first, so smaller (nested) ones overwrite them
    for key in sorted(keys, key=lambda k: (-len(sets[k]), k)):
        for building in sets[key]:
            owner[building] = key
    return owner


def nested_blocks(blocks: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """For each block, the blocks strictly inside it (blocks must be disjoint or nested)."""
    sets = {key: frozenset(members) for key, members in blocks.items()}
    return {key: sorted(k for k, inner in sets.items() if inner < outer) for key, outer in sets.items()}


def _status_at(state: ZoneState, when: date) -> str:
    """``state``'s status on ``when`` >= ``state.on`` along its schedule (no new case)."""
    status = state.status
    for change_on, st in state.upcoming:
        if change_on > when:
            break
        status = st
    return status


def floor_state(own: ZoneState, blocks: Mapping[str, ZoneState], rules: RuleSet) -> ZoneState:
    """``own`` (a compound's remainder, or an enclosing block) held at least at the floor that
    ``rules.block_remainder_floor`` gives for each block inside it.

    The status on each day is the more severe of the own status and every block's floor, so the
    schedule is merged: a change point is a day when the own status or a block's status changes
    and the merged status differs from the day before. ``floor_from`` names the block whose
    floor decides today's status when the own cases alone would give a lower one. Apply
    overrides afterwards (a manual decision wins over the floor). A held downgrade (the own state
    or a block waiting for a clean round) keeps no date, as in :meth:`CaseHistory.classify`.
    """
    if not blocks or not rules.block_remainder_floor:
        return own

    def merged(when: date) -> tuple[str, str | None]:
        status, by = _status_at(own, when), None
        for key in sorted(blocks):
            floor = rules.remainder_floor(_status_at(blocks[key], when))
            if rules.index(floor) < rules.index(status):
                status, by = floor, key
        return status, by

    status, by = merged(own.on)
    changes = sorted({d for d, _ in own.upcoming} | {d for b in blocks.values() for d, _ in b.upcoming})
    upcoming: list[tuple[date, str]] = []
    previous = status
    for when in changes:
        st, _ = merged(when)
        if st != previous:
            upcoming.append((when, st))
            previous = st
    deciders = [own, *blocks.values()]
    first = upcoming[0] if upcoming else None
    conditional = first is not None and any(
        s.next_change_conditional and s.next_change_on is not None and s.next_change_on <= first[0] for s in deciders
    )
    raised = by is not None
    return replace(
        own,
        status=status,
        rule_status=status,
        upcoming=tuple(upcoming),
        next_change_on=first[0] if first else None,
        next_status=first[1] if first else None,
        held=own.held and not raised,
        next_change_conditional=conditional,
        floor_from=by,
    )


def floor_timeline(
    own: list[tuple[date, str]], blocks: Mapping[str, list[tuple[date, str]]], rules: RuleSet
) -> list[tuple[date, str]]:
    """Change points of ``own`` held at least at each block's floor, day by day (the timelines
    all start on the same day, as :meth:`CaseHistory.timeline` draws them)."""
    if not blocks or not rules.block_remainder_floor or not own:
        return own

    def at(points: list[tuple[date, str]], when: date) -> str:
        status = points[0][1]
        for change_on, st in points:
            if change_on > when:
                break
            status = st
        return status

    lines = [points for points in blocks.values() if points]
    days = sorted({d for d, _ in own} | {d for points in lines for d, _ in points})
    out: list[tuple[date, str]] = []
    for when in days:
        status = at(own, when)
        for points in lines:
            status = rules.worse(status, rules.remainder_floor(at(points, when)))
        if not out or out[-1][1] != status:
            out.append((when, status))
    return out


def classify_compound_with_blocks(
    compound_cases: Iterable[tuple[date, str]],
    blocks: Mapping[str, Collection[str]],
    on: date,
    rules: RuleSet = DEFAULT_RULE_SET,
    *,
    rounds: Mapping[date, bool] | None = None,
    block_rounds: Mapping[str, Mapping[date, bool]] | None = None,
) -> CompoundZones:
    """Classify a compound with micro sealed blocks on day ``on``.

    ``compound_cases`` are ``(report_date, building_key)`` pairs for the whole compound;
    ``blocks`` maps a block key to the building keys it contains. Blocks must be
    disjoint or nested (a partial overlap raises ``ValueError``). A case counts for the
    smallest zone containing its building only: a block's cases do not count for the
    compound proper (that is the point of sealing a block instead of the compound), and
    a nested block's cases do not count for the enclosing block. The rule set's
    ``block_remainder_floor`` then holds the compound proper (and an enclosing block) at least at
    the floor each block inside it gives (:func:`floor_state`); ``floor_from`` says which.

    ``rounds`` are the compound's testing rounds; ``block_rounds`` may give a block its
    own rounds (default: the compound's).
    """
    cases = list(compound_cases)
    owner = smallest_block_per_building(blocks)
    per_zone: dict[str | None, list[date]] = {None: []}
    for key in blocks:
        per_zone[key] = []
    for d, building in cases:
        per_zone[owner.get(building)].append(d)
    block_rounds = block_rounds or {}
    own_states = {key: CaseHistory(per_zone[key], block_rounds.get(key, rounds)).classify(on, rules) for key in blocks}
    inside = nested_blocks(blocks)
    block_states = {key: floor_state(own_states[key], {k: own_states[k] for k in inside[key]}, rules) for key in blocks}
    return CompoundZones(
        on=on,
        compound=floor_state(CaseHistory(per_zone[None], rounds).classify(on, rules), own_states, rules),
        compound_all_cases=CaseHistory((d for d, _ in cases), rounds).classify(on, rules),
        blocks=block_states,
        block_of_building=owner,
    )
