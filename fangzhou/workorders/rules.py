"""Pure rules of the work-order queue (no Django): emergency priority, escalation, nearest first."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

EMERGENCY = 0

# Special-care codes that make a medical job an emergency: these are the cases where delay kills.
EMERGENCY_CONDITIONS = ("dialysis", "chemotherapy", "pregnant")
MEDICAL_KINDS = frozenset({"medicine", "medical_escort", "transfer", "resident_request"})


def emergency_reason(*, kind: str, special_codes: Iterable[str], acute: bool = False) -> str:
    """The condition that makes this job an emergency, or "" if none."""
    if acute:
        return "acute_illness"
    if kind not in MEDICAL_KINDS:
        return ""
    codes = set(special_codes)
    for condition in EMERGENCY_CONDITIONS:
        if condition in codes:
            return condition
    return ""


@dataclass(frozen=True)
class Overdue:
    order_id: int
    level: int  # current escalation level
    due_at: dt.datetime


def escalation_target(order: Overdue, *, now: dt.datetime, committee_after: dt.timedelta) -> int:
    """The level an overdue order should be at: 1 (group lead) once past due, 2 (committee) after a grace."""
    if now <= order.due_at:
        return order.level
    target = 2 if now - order.due_at > committee_after else 1
    return max(order.level, target)


def distance(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> float:
    """Straight-line distance on the site plan in metres; unknown places are far away."""
    if a[0] is None or a[1] is None or b[0] is None or b[1] is None:
        return math.inf
    return math.hypot(a[0] - b[0], a[1] - b[1])


def distance_shown(metres: float) -> int | None:
    """A distance as a person reads it: whole metres, or nothing when a place is not on the site
    plan (never "inf m")."""
    return round(metres) if math.isfinite(metres) else None


# Jobs done at a door (or in a building): the health gate applies to whoever claims them.
DOOR_TO_DOOR_KINDS = frozenset(
    {
        "retest",
        "transfer",
        "disinfection",
        "supply_delivery",
        "medicine",
        "medical_escort",
        "care_checkin",
        "resident_request",
        "household_check",
        "other",
    }
)


def is_door_to_door(kind: str, place_id: int | None) -> bool:
    return bool(place_id) and kind in DOOR_TO_DOOR_KINDS


# One door, one task: the jobs of one purpose at one household are done in one knock (the re-tests
# of three members, a household check). A resident's own request or a free-text job stays alone:
# two requests from one door are two different errands. Orders due on different days are different
# knocks too: a close contact's seven daily tests are seven visits, not one task of "7 people".
DOOR_GROUPED_KINDS = frozenset({"retest", "household_check", "care_checkin", "medicine", "supply_delivery"})

DoorKey = tuple[int, str, str, int | None, dt.date | None]
T = TypeVar("T")


def door_key(
    *, kind: str, household_id: int | None, status: str, assignee_id: int | None, due_day: dt.date | None = None
) -> DoorKey | None:
    """The key that puts orders into one door task (same household, purpose, holder and day due;
    open, or taken: claimed and under way are one task), or None for an order that stays a task of
    its own. ``due_day`` is the day the order is due on the community's clock (None: no due time)."""
    if household_id is None or kind not in DOOR_GROUPED_KINDS:
        return None
    return (household_id, kind, "open" if status == "open" else "taken", assignee_id, due_day)


def group_by_door(items: Iterable[T], key: Callable[[T], DoorKey | None]) -> list[list[T]]:
    """Items grouped by their door key, in the order of each group's first item (so a list sorted
    by urgency stays sorted by its most urgent member); an item without a key is a group alone."""
    groups: list[list[T]] = []
    at: dict[DoorKey, list[T]] = {}
    for item in items:
        k = key(item)
        if k is None:
            groups.append([item])
        elif k in at:
            at[k].append(item)
        else:
            at[k] = [item]
            groups.append(at[k])
    return groups
