"""Reads for special care and medicine, scoped through the resident's building. Volunteers see
none of it here: they see the work orders assigned to them in the work-order queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q, is_committee, is_volunteer
from fangzhou.care.models import (
    CareProfile,
    CheckIn,
    MedicineRequest,
    MedicineStatus,
    TreatmentSchedule,
)
from fangzhou.care.schedule import WeeklySchedule, parse_weekdays, sessions_between
from fangzhou.care.services import escort_source_key
from fangzhou.lib.aggregates import json_value, rows_of
from fangzhou.lib.choices import choice_label
from fangzhou.registry.hooks import OverviewPanel
from fangzhou.registry.models import Building, Community, Resident, SpecialCare
from fangzhou.workorders.models import Status, WorkOrder

AnyUser = User | AnonymousUser
WINDOW = dt.timedelta(hours=48)


def _buildings(user: AnyUser) -> QuerySet[Building]:
    return Building.objects.filter(building_q(user))


def profiles_visible(user: AnyUser) -> QuerySet[CareProfile]:
    return CareProfile.objects.filter(resident__household__building__in=_buildings(user).values("pk"))


def profile_get(user: AnyUser, profile_id: int) -> CareProfile | None:
    return (
        profiles_visible(user)
        .select_related("resident__household__building__compound", "community", "carer")
        .filter(pk=profile_id)
        .first()
    )


DUE_SOON_DAYS = 14


def community_profiles(
    user: AnyUser,
    community: Community,
    need: str = "",
    *,
    building_id: int | None = None,
    on: dt.date | None = None,
) -> list[CareProfile]:
    """The special-care registry, filtered by need, building and day. A day keeps the people with
    something on it: a treatment session that day (an active schedule on its weekday, within its
    dates) or a due date within the next ``DUE_SOON_DAYS`` days."""
    qs = profiles_visible(user).filter(community=community, active=True)
    if need:
        qs = qs.filter(needs__contains=need)
    if building_id is not None:
        qs = qs.filter(resident__household__building_id=building_id)
    if on is not None:
        session = TreatmentSchedule.objects.filter(
            Q(starts_on__isnull=True) | Q(starts_on__lte=on),
            Q(ends_on__isnull=True) | Q(ends_on__gte=on),
            profile=OuterRef("pk"),
            active=True,
            weekdays__contains=str(on.isoweekday()),
        )
        qs = qs.filter(Q(Exists(session)) | Q(due_date__gte=on, due_date__lte=on + dt.timedelta(days=DUE_SOON_DAYS)))
    return list(
        qs.select_related("resident__household__building__compound", "carer")
        .prefetch_related("schedules")
        .order_by("resident__household__building__sort_key", "resident__household__room")
    )


def medicine_requests_visible(user: AnyUser) -> QuerySet[MedicineRequest]:
    """Staff and leaders through the building; a volunteer only the requests on a trip they claimed."""
    if is_volunteer(user):
        return MedicineRequest.objects.filter(trip__order__assignee=user)
    return MedicineRequest.objects.filter(resident__household__building__in=_buildings(user).values("pk"))


def medicine_request_get(user: AnyUser, request_id: int) -> MedicineRequest | None:
    return (
        medicine_requests_visible(user)
        .select_related("resident__household__building__compound")
        .filter(pk=request_id)
        .first()
    )


def checkins_today(user: AnyUser, community: Community, on: dt.date) -> list[tuple[CareProfile, CheckIn | None]]:
    profiles = community_profiles(user, community, SpecialCare.ELDERLY_ALONE)
    done = {c.profile_id: c for c in CheckIn.objects.filter(profile__in=[p.pk for p in profiles], on=on)}
    return [(p, done.get(p.pk)) for p in profiles]


@dataclass
class Risk:
    profile: CareProfile
    need: str  # a SpecialCare code or "medicine"
    when: dt.datetime | None
    what: str
    order_id: int | None = None


def at_risk_next_48h(user: AnyUser, community: Community, now: dt.datetime | None = None) -> list[Risk]:
    """Every vulnerable resident with a need in the next 48 hours and no volunteer assigned yet:
    treatment sessions whose escort order is missing or unclaimed, medicine not yet on a claimed
    trip, births due, and people living alone or bedridden with no carer. Soonest first.

    One statement: each profile carries its active schedules, its open medicine requests and its
    escort orders due from an hour before now (an order is due an hour before its session) as
    JSON rows (:mod:`fangzhou.lib.aggregates`), so the committee's overview does not pay a round
    trip for each kind."""
    now = timezone.localtime(now or timezone.now())
    end = now + WINDOW
    profiles = list(
        profiles_visible(user)
        .filter(community=community, active=True)
        .select_related("resident__household__building__compound", "carer")
        .annotate(
            schedule_rows=rows_of(
                TreatmentSchedule.objects.filter(active=True),
                ("id", "kind", "weekdays", "at", "hospital", "starts_on", "ends_on"),
                owner="profile_id",
            ),
            medicine_rows=rows_of(
                MedicineRequest.objects.filter(_OPEN_MEDICINE),
                ("id", "pharmacy", "medicines", "urgency", "created_at"),
                owner="resident_id",
                outer="resident_id",
                order_id="trip__order_id",
            ),
            escort_rows=rows_of(
                WorkOrder.objects.filter(source_key__startswith="escort:", due_at__gte=now - dt.timedelta(hours=1)),
                ("id", "assignee_id", "status"),
                owner="resident_id",
                outer="resident_id",
                key="source_key",
            ),
        )
    )
    risks: list[Risk] = []
    for profile in profiles:
        orders = {o["key"]: o for o in profile.escort_rows or ()}
        for row in sorted(profile.schedule_rows or (), key=lambda r: r["id"]):
            weekly = WeeklySchedule(
                parse_weekdays(row["weekdays"]),
                dt.time.fromisoformat(row["at"]),
                _day(row["starts_on"]),
                _day(row["ends_on"]),
            )
            what = f"{choice_label(_KIND, row['kind'])} {row['hospital']}"
            for session in sessions_between(weekly, now, end):
                order = orders.get(escort_source_key(row["id"], session))
                if order is not None and order["assignee_id"] is not None and order["status"] != Status.CANCELLED:
                    continue
                risks.append(Risk(profile, row["kind"], session, what, order["id"] if order else None))
    # Open medicine, most urgent and oldest first (the later sort keeps this order within a person).
    medicine = sorted(
        ((row, profile) for profile in profiles for row in profile.medicine_rows or ()),
        key=lambda pair: (pair[0]["urgency"], pair[0]["created_at"], pair[0]["id"]),
    )
    for row, profile in medicine:
        names = "、".join(m["name"] for m in json_value(row["medicines"]))
        risks.append(Risk(profile, "medicine", None, f"{row['pharmacy']}: {names}", row["order_id"]))
    tz = now.tzinfo
    for profile in profiles:
        if profile.carer_id is not None:
            continue
        codes = profile.need_codes
        if SpecialCare.PREGNANT in codes and profile.due_date and profile.due_date <= end.date():
            when = dt.datetime.combine(profile.due_date, dt.time(0, 0), tzinfo=tz)
            risks.append(Risk(profile, SpecialCare.PREGNANT, when, str(SpecialCare.PREGNANT.label)))
        for code in (SpecialCare.ELDERLY_ALONE, SpecialCare.BEDRIDDEN):
            if code in codes:
                risks.append(Risk(profile, code, None, str(code.label)))
                break
    far = dt.datetime.max.replace(tzinfo=tz)
    risks.sort(key=lambda r: (r.when or far, r.profile.pk))
    return risks


_KIND = TreatmentSchedule._meta.get_field("kind")


def _day(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


# A medicine request still open and not on a trip a volunteer claimed: at risk.
_OPEN_MEDICINE = Q(status__in=[MedicineStatus.REQUESTED, MedicineStatus.ON_TRIP]) & (
    Q(trip__isnull=True) | Q(trip__order__isnull=True) | Q(trip__order__assignee__isnull=True)
)


def _open_medicine(resident: OuterRef) -> QuerySet[MedicineRequest]:
    """The resident's medicine requests not yet on a trip a volunteer claimed."""
    return MedicineRequest.objects.filter(_OPEN_MEDICINE, resident_id=resident)


def _has_need(code: str) -> Q:
    """``code`` is one of the profile's comma-joined needs (as ``code in needs.split(",")``)."""
    inside = Q(needs__startswith=f"{code},") | Q(needs__endswith=f",{code}") | Q(needs__contains=f",{code},")
    return Q(needs=code) | inside


def at_risk_window_end(now: dt.datetime | None = None) -> dt.date:
    """The last day of the 48 hours after ``now`` on the current clock: a birth due by then is at risk."""
    return (timezone.localtime(now or timezone.now()) + WINDOW).date()


def at_risk_profiles(end: dt.date) -> tuple[QuerySet[CareProfile], QuerySet[CareProfile]]:
    """For a count per community inside another statement (the daily report's): the active
    profiles at risk by the rules that need no schedule (an open medicine request; no carer and
    living alone, bedridden, or a birth due by ``end``), among those living in their community;
    and the active profiles for which that is not the whole answer (an active treatment schedule,
    or a home in another community): where there is one, count with :func:`at_risk_count`.

    No user scope: for a reader of the whole community (the daily report's readers) every
    profile living in it is visible, which is all the first set holds."""
    active = CareProfile.objects.filter(active=True)
    at_home = Q(resident__household__building__community_id=F("community_id"))
    flagged = active.filter(at_home).filter(
        Exists(_open_medicine(OuterRef("resident_id")))
        | Q(carer__isnull=True)
        & (
            _has_need(SpecialCare.ELDERLY_ALONE)
            | _has_need(SpecialCare.BEDRIDDEN)
            | (_has_need(SpecialCare.PREGNANT) & Q(due_date__isnull=False, due_date__lte=end))
        )
    )
    scheduled = TreatmentSchedule.objects.filter(profile_id=OuterRef("pk"), active=True)
    beyond = active.filter(Exists(scheduled) | ~at_home)
    return flagged, beyond


def at_risk_count(user: AnyUser, community: Community, now: dt.datetime | None = None) -> int:
    """How many residents :func:`at_risk_next_48h` lists (the daily report's figure), by the same
    rules, in two queries whatever the size: the profiles joined with their schedules (one
    many-valued side) and an open medicine request as a flag, then the escort orders of the
    sessions in the window."""
    now = timezone.localtime(now or timezone.now())
    end = now + WINDOW
    open_medicine = _open_medicine(OuterRef("resident_id"))
    rows = (
        profiles_visible(user)
        .filter(community=community, active=True)
        .annotate(medicine=Exists(open_medicine))
        .order_by("pk")
        .values_list(
            "pk", "carer_id", "needs", "due_date", "medicine", "schedules__id", "schedules__active",
            "schedules__weekdays", "schedules__at", "schedules__starts_on", "schedules__ends_on",
        )
    )  # fmt: skip
    at_risk: set[int] = set()
    sessions: dict[str, int] = {}
    for pk, carer_id, needs, due_date, medicine, schedule_id, active, weekdays, at, starts_on, ends_on in rows:
        if medicine:
            at_risk.add(pk)
        codes = [c for c in needs.split(",") if c]
        if carer_id is None and (
            SpecialCare.ELDERLY_ALONE in codes
            or SpecialCare.BEDRIDDEN in codes
            or (SpecialCare.PREGNANT in codes and due_date is not None and due_date <= end.date())
        ):
            at_risk.add(pk)
        if schedule_id is not None and active:
            weekly = WeeklySchedule(parse_weekdays(weekdays), at, starts_on, ends_on)
            for session in sessions_between(weekly, now, end):
                sessions[escort_source_key(schedule_id, session)] = pk
    if sessions:
        covered = set(
            WorkOrder.objects.filter(source_key__in=list(sessions), assignee__isnull=False)
            .exclude(status=Status.CANCELLED)
            .values_list("source_key", flat=True)
        )
        at_risk |= {pk for key, pk in sessions.items() if key not in covered}
    return len(at_risk)


@dataclass
class PublicStatus:
    pharmacy: str
    medicines: list[str]
    status: str
    status_label: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None


def public_medicine_status(building: Building, room: str, last4: str) -> list[PublicStatus] | None:
    """For the building's QR page: the medicine requests of the residents of ``room`` whose phone
    ends with ``last4``. ``None`` when nobody matches (the page says so without telling more)."""
    room = room.strip()[:16]
    if not room or len(last4) != 4 or not last4.isdigit():
        return None
    requests = list(
        MedicineRequest.objects.filter(resident__household__building=building, resident__household__room=room)
        .filter(resident__household__residents__phone__endswith=last4)
        .distinct()
        .order_by("-created_at")[:20]
    )
    if not Resident.objects.filter(household__building=building, household__room=room, phone__endswith=last4).exists():
        return None
    return [
        PublicStatus(
            r.pharmacy,
            [m["name"] for m in r.medicines],
            r.status,
            str(r.get_status_display()),
            r.created_at,
            r.delivered_at,
        )
        for r in requests
    ]


@dataclass
class RiskGroup:
    """One kind of need on the overview's at-risk list: its people, soonest first."""

    key: str
    title: str
    risks: list[Risk]

    @property
    def first(self) -> dt.datetime | None:
        return next((r.when for r in self.risks if r.when is not None), None)


# The overview groups the at-risk list by what has to be done, the most time-bound first.
RISK_GROUPS = (
    ("escort", gettext_lazy("Treatment without an escort")),
    ("medicine", gettext_lazy("Medicine not yet on a volunteer's trip")),
    ("birth", gettext_lazy("Birth due")),
    ("alone", gettext_lazy("Living alone or bedridden, no carer")),
)


def _risk_group(risk: Risk) -> str:
    if risk.need == "medicine":
        return "medicine"
    if risk.need == SpecialCare.PREGNANT:
        return "birth"
    if risk.need in (SpecialCare.ELDERLY_ALONE, SpecialCare.BEDRIDDEN):
        return "alone"
    return "escort"


def at_risk_groups(risks: list[Risk]) -> list[RiskGroup]:
    """The at-risk list in groups (empty groups left out), each keeping the list's order."""
    groups = {key: RiskGroup(key, str(title), []) for key, title in RISK_GROUPS}
    for risk in risks:
        groups[_risk_group(risk)].risks.append(risk)
    return [g for g in groups.values() if g.risks]


def at_risk_overview_panel(user: User, community: Community) -> OverviewPanel | None:
    """On the committee's overview, after the zone plan and the counts: who is at risk in the next
    48 hours (special care), grouped by need and collapsed, so the page does not open on a register."""
    if not is_committee(user):
        return None
    risks = at_risk_next_48h(user, community)
    context = {"risks": risks, "groups": at_risk_groups(risks), "community": community}
    return OverviewPanel("care/_overview_risks.html", context, order=10)
