"""Reads for special care and medicine, scoped through the resident's building. Volunteers see
none of it here: they see the work orders assigned to them in the work-order queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q, is_committee, is_volunteer
from fangzhou.care.models import CareProfile, CheckIn, MedicineRequest, MedicineStatus, TreatmentSchedule
from fangzhou.care.schedule import WeeklySchedule, parse_weekdays, sessions_between
from fangzhou.care.services import escort_source_key
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


def community_profiles(user: AnyUser, community: Community, need: str = "") -> list[CareProfile]:
    qs = profiles_visible(user).filter(community=community, active=True)
    if need:
        qs = qs.filter(needs__contains=need)
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
    return medicine_requests_visible(user).select_related("resident__household__building").filter(pk=request_id).first()


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
    trip, births due, and people living alone or bedridden with no carer. Soonest first."""
    now = timezone.localtime(now or timezone.now())
    end = now + WINDOW
    profiles = {
        p.pk: p
        for p in profiles_visible(user)
        .filter(community=community, active=True)
        .select_related("resident__household__building", "carer")
    }
    risks: list[Risk] = []
    sessions: list[tuple[TreatmentSchedule, dt.datetime, str]] = []
    for schedule in TreatmentSchedule.objects.filter(active=True, profile_id__in=list(profiles)):
        weekly = WeeklySchedule(parse_weekdays(schedule.weekdays), schedule.at, schedule.starts_on, schedule.ends_on)
        for session in sessions_between(weekly, now, end):
            sessions.append((schedule, session, escort_source_key(schedule.pk, session)))
    orders = {
        o.source_key: o
        for o in WorkOrder.objects.filter(source_key__in=[s[2] for s in sessions]).only(
            "pk", "source_key", "assignee_id", "status"
        )
    }
    for schedule, session, key in sessions:
        order = orders.get(key)
        if order is not None and order.assignee_id is not None and order.status != Status.CANCELLED:
            continue
        risks.append(
            Risk(
                profiles[schedule.profile_id],
                schedule.kind,
                session,
                f"{schedule.get_kind_display()} {schedule.hospital}",
                order.pk if order else None,
            )
        )
    for request in (
        MedicineRequest.objects.filter(
            resident__care__in=list(profiles), status__in=[MedicineStatus.REQUESTED, MedicineStatus.ON_TRIP]
        )
        .select_related("trip__order", "resident__care")
        .order_by("urgency", "created_at")
    ):
        trip_order = request.trip.order if request.trip else None
        if trip_order is not None and trip_order.assignee_id is not None:
            continue
        risks.append(
            Risk(
                profiles[request.resident.care.pk],
                "medicine",
                None,
                f"{request.pharmacy}: " + "、".join(m["name"] for m in request.medicines),
                trip_order.pk if trip_order else None,
            )
        )
    tz = now.tzinfo
    for profile in profiles.values():
        if profile.carer_id is not None:
            continue
        codes = profile.need_codes
        if SpecialCare.PREGNANT in codes and profile.due_date and profile.due_date <= end.date():
            when = dt.datetime.combine(profile.due_date, dt.time(0, 0), tzinfo=tz)
            risks.append(Risk(profile, SpecialCare.PREGNANT, when, str(profile.due_date)))
        for code in (SpecialCare.ELDERLY_ALONE, SpecialCare.BEDRIDDEN):
            if code in codes:
                risks.append(Risk(profile, code, None, str(code.label)))
                break
    far = dt.datetime.max.replace(tzinfo=tz)
    risks.sort(key=lambda r: (r.when or far, r.profile.pk))
    return risks


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


def at_risk_overview_panel(user: User, community: Community) -> OverviewPanel | None:
    """First on the committee's overview: who is at risk in the next 48 hours (special care)."""
    if not is_committee(user):
        return None
    return OverviewPanel("care/_overview_risks.html", {"risks": at_risk_next_48h(user, community)}, order=10)
