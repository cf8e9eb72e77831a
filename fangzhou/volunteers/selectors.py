"""Reads for volunteers, scoped to the user: who may see which volunteer, the roster, the health gate."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Max, Q, QuerySet
from django.utils import timezone, translation

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import NOTHING, active_user
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Building, Community, Household
from fangzhou.registry.selectors import communities_read
from fangzhou.testing.selectors import last_negative_test_at
from fangzhou.volunteers.gate import GateInput, GateResult, health_gate
from fangzhou.volunteers.models import (
    Shift,
    ShiftAssignment,
    SwapRequest,
    SwapStatus,
    TestResult,
    Volunteer,
    VolunteerStatus,
    VolunteerTest,
    WorkGroup,
)
from fangzhou.workorders.hooks import Membership
from fangzhou.workorders.models import WorkOrder
from fangzhou.zones.selectors import sealed_building_ids

log = logging.getLogger(__name__)


def volunteer_of(user: User | AnonymousUser) -> Volunteer | None:
    active = active_user(user)
    if active is None:
        return None
    return Volunteer.objects.filter(user=active).select_related("building", "community").first()


def volunteers_q(user: User | AnonymousUser) -> Q:
    """Volunteers the user may see: committee all of the community; a group lead the members; oneself."""
    active = active_user(user)
    if active is None:
        return NOTHING
    q = Q(community__in=communities_read(active).values("pk")) | Q(user=active)
    q |= Q(groups__lead=active)
    return q


def volunteers_visible(user: User | AnonymousUser) -> QuerySet[Volunteer]:
    return Volunteer.objects.filter(pk__in=Volunteer.objects.filter(volunteers_q(user)).values("pk")).select_related(
        "building__compound", "user"
    )


def volunteer_get(user: User | AnonymousUser, volunteer_id: int) -> Volunteer | None:
    return volunteers_visible(user).filter(pk=volunteer_id).first()


def groups_visible(user: User | AnonymousUser) -> QuerySet[WorkGroup]:
    active = active_user(user)
    if active is None:
        return WorkGroup.objects.none()
    q = Q(community__in=communities_read(active).values("pk")) | Q(lead=active) | Q(members__user=active)
    return WorkGroup.objects.filter(pk__in=WorkGroup.objects.filter(q).values("pk")).select_related("lead")


def groups_led(user: User | AnonymousUser) -> QuerySet[WorkGroup]:
    active = active_user(user)
    if active is None:
        return WorkGroup.objects.none()
    return WorkGroup.objects.filter(lead=active)


# --- the health gate ------------------------------------------------------------------------


def _max_age() -> dt.timedelta:
    return dt.timedelta(hours=settings.FANGZHOU_VOLUNTEER_TEST_HOURS)


def building_is_sealed(building: Building | None, on: dt.date, *, cache: dict[Any, Any] | None = None) -> bool:
    """Whether the building is in the most severe zone (sealed, 封控区) on that day, as the zones
    app says. ``cache`` keeps one answer per community and day across many volunteers."""
    if building is None:
        return False
    memo = cache if cache is not None else {}
    key = (building.community_id, on)
    if key not in memo:
        memo[key] = sealed_building_ids(Community.objects.get(pk=building.community_id), on)
    return building.pk in memo[key]


def _registry_last_negative(resident_id: int | None) -> dt.datetime | None:
    """The latest negative PCR or antigen result of a volunteer who is a registered resident."""
    if resident_id is None:
        return None
    return last_negative_test_at(resident_id)


def _latest(*values: dt.datetime | None) -> dt.datetime | None:
    known = [v for v in values if v is not None]
    # On the reader's clock (the community's zone): the gate's refusal prints this time.
    return timezone.localtime(max(known)) if known else None


def volunteer_health_many(volunteers: Iterable[Volunteer], *, at: dt.datetime | None = None) -> dict[int, GateResult]:
    """The health gate of each volunteer, in two queries plus one look-up per resident and building."""
    people = list(volunteers)
    now = at or timezone.now()
    ids = [v.pk for v in people]
    stats = {
        row["volunteer_id"]: row
        for row in VolunteerTest.objects.filter(volunteer_id__in=ids, tested_at__lte=now)
        .values("volunteer_id")
        .annotate(
            neg=Max("tested_at", filter=Q(result=TestResult.NEGATIVE)),
            pos=Max("tested_at", filter=Q(result=TestResult.POSITIVE)),
        )
    }
    buildings = {b.pk: b for b in Building.objects.filter(pk__in={v.building_id for v in people if v.building_id})}
    sealed_cache: dict[int, bool] = {}
    reports: dict[Any, Any] = {}
    today = timezone.localdate(now)
    out: dict[int, GateResult] = {}
    for v in people:
        row: dict[str, Any] = dict(stats.get(v.pk, {}))
        building = buildings.get(v.building_id) if v.building_id else None
        if building is not None and building.pk not in sealed_cache:
            sealed_cache[building.pk] = building_is_sealed(building, today, cache=reports)
        out[v.pk] = health_gate(
            GateInput(
                now=now,
                last_negative_at=_latest(row.get("neg"), _registry_last_negative(v.resident_id)),
                last_positive_at=row.get("pos"),
                building_sealed=sealed_cache.get(building.pk, False) if building else False,
                building_label=building.label if building else "",
            ),
            max_age=_max_age(),
        )
    return out


def volunteer_health(volunteer: Volunteer, *, at: dt.datetime | None = None) -> GateResult:
    return volunteer_health_many([volunteer], at=at)[volunteer.pk]


def health_of_users(user_ids: Iterable[int], *, at: dt.datetime | None = None) -> dict[int, GateResult]:
    """The health gate of each account that has a volunteer profile, by user id (for the pickers of
    the apps above: delivery lists, route planning). Accounts without a profile are not in it."""
    people = list(Volunteer.objects.filter(user_id__in=list(user_ids)))
    health = volunteer_health_many(people, at=at)
    return {v.user_id: health[v.pk] for v in people if v.user_id is not None}


# --- roster ---------------------------------------------------------------------------------


def gate_text(result: GateResult) -> str:
    """The gate's reasons in the reader's language (the page's active language)."""
    zh = (translation.get_language() or "zh-hans").startswith("zh")
    return ("；" if zh else "; ").join(r.zh if zh else r.en for r in result.reasons)


@dataclass(frozen=True)
class Place:
    """One person's place on a shift, with their health gate now."""

    assignment: ShiftAssignment
    volunteer: Volunteer
    gate: GateResult

    @property
    def serving(self) -> bool:
        return self.gate.ok

    @property
    def why(self) -> str:
        return gate_text(self.gate)


@dataclass
class RosterRow:
    """A shift and who holds it. A place held by someone who may not serve now (the health gate is
    closed) does not count: the shift shows the gap, says why, and auto-fill offers to fill it."""

    shift: Shift
    people: list[Volunteer] = field(default_factory=list)
    assignments: list[ShiftAssignment] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)

    @property
    def serving(self) -> int:
        return sum(1 for p in self.places if p.serving)

    @property
    def blocked(self) -> list[Place]:
        return [p for p in self.places if not p.serving]

    @property
    def gap(self) -> int:
        return max(0, self.shift.needed - self.serving)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def roster_day(*, community: Community, day: dt.date, group: WorkGroup | None = None) -> list[RosterRow]:
    """Every shift that starts on this day (local time), who is on it, their health gate now, and the
    gap (places not held by someone who may serve). Two queries plus the gate's (one set for all)."""
    start, end = day_bounds(day)
    shifts = Shift.objects.filter(community=community, starts_at__gte=start, starts_at__lt=end).select_related("group")
    if group is not None:
        shifts = shifts.filter(group=group)
    rows = {s.pk: RosterRow(shift=s) for s in shifts.order_by("starts_at", "group_id", "post", "place")}
    for a in (
        ShiftAssignment.objects.filter(shift_id__in=list(rows))
        .select_related("volunteer")
        .order_by("shift_id", "volunteer__name")
    ):
        rows[a.shift_id].people.append(a.volunteer)
        rows[a.shift_id].assignments.append(a)
    people = {v.pk: v for r in rows.values() for v in r.people}
    health = volunteer_health_many(people.values())
    for row in rows.values():
        row.places = [Place(a, a.volunteer, health[a.volunteer_id]) for a in row.assignments]
    return list(rows.values())


def shifts_of(volunteer: Volunteer, *, since: dt.datetime | None = None) -> list[ShiftAssignment]:
    qs = ShiftAssignment.objects.filter(volunteer=volunteer).select_related("shift__group")
    if since is not None:
        qs = qs.filter(shift__ends_at__gte=since)
    return list(qs.order_by("shift__starts_at"))


def swaps_open(community: Community) -> list[SwapRequest]:
    return list(
        SwapRequest.objects.filter(assignment__shift__community=community, status=SwapStatus.OPEN)
        .select_related("assignment__shift__group", "requester", "proposed")
        .order_by("assignment__shift__starts_at")
    )


def eligible_for(shift: Shift) -> list[tuple[Volunteer, GateResult]]:
    """The approved members of the shift's group, each with their health gate (for the assign menu)."""
    members = list(
        Volunteer.objects.filter(groups=shift.group, status=VolunteerStatus.APPROVED)
        .exclude(assignments__shift=shift)
        .order_by("name")
    )
    health = volunteer_health_many(members)
    return [(v, health[v.pk]) for v in members]


# --- exposure -------------------------------------------------------------------------------


@dataclass
class Exposure:
    since: dt.datetime
    until: dt.datetime
    households: list[Household]
    colleagues: list[Volunteer]
    shifts: list[Shift]


def exposure(volunteer: Volunteer, *, positive_at: dt.datetime | None = None, days: int = 3) -> Exposure:
    """Households served and colleagues who shared a shift with the volunteer from ``days`` days before
    the positive test (or before now) until now."""
    end = timezone.now()
    start = (positive_at or end) - dt.timedelta(days=days)
    households: list[Household] = []
    if volunteer.user_id:
        touched = WorkOrder.objects.filter(assignee_id=volunteer.user_id, household__isnull=False).filter(
            Q(claimed_at__range=(start, end)) | Q(started_at__range=(start, end)) | Q(closed_at__range=(start, end))
        )
        households = list(
            Household.objects.filter(pk__in=touched.values("household_id"))
            .select_related("building__compound")
            .prefetch_related("residents")
            .order_by("building_id", "room")
        )
    shifts = list(
        Shift.objects.filter(assignments__volunteer=volunteer, starts_at__lt=end, ends_at__gt=start)
        .select_related("group")
        .order_by("starts_at")
    )
    colleagues = list(
        Volunteer.objects.filter(assignments__shift__in=shifts).exclude(pk=volunteer.pk).distinct().order_by("name")
    )
    return Exposure(since=start, until=end, households=households, colleagues=colleagues, shifts=shifts)


def last_positive(volunteer: Volunteer) -> VolunteerTest | None:
    return volunteer.tests.filter(result=TestResult.POSITIVE).order_by("-tested_at").first()


# --- what the work-order queue asks (registered in VolunteersConfig.ready) -----------------


def work_membership(user: User) -> Membership:
    """The groups ``user`` leads and belongs to (approved), and their home building's position."""
    led = frozenset(WorkGroup.objects.filter(lead=user).values_list("community_id", "code"))
    member = frozenset(
        WorkGroup.objects.filter(members__user=user, members__status=VolunteerStatus.APPROVED).values_list(
            "community_id", "code"
        )
    )
    volunteer = Volunteer.objects.filter(user=user).select_related("building").first()
    home = (volunteer.building.x, volunteer.building.y) if volunteer and volunteer.building else (None, None)
    return Membership(led=led, member=member, home=home)


def door_work_health_check(user: User) -> None:
    """The health gate for door-to-door work: refuses, saying why, when the volunteer may not go now."""
    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is None:
        return
    gate = volunteer_health(volunteer)
    if not gate.ok:
        raise Refused(
            "您暂不能认领上门工单：" + "；".join(r.zh for r in gate.reasons),
            "you cannot claim door-to-door work now: " + "; ".join(r.en for r in gate.reasons),
        )
