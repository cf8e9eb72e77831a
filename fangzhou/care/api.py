"""Special-care and medicine endpoints: same services and selectors as the pages, same scope."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import acting_user, can_manage_community, is_officer, is_volunteer
from fangzhou.care import selectors, services
from fangzhou.care.models import CareProfile, MedicineRequest
from fangzhou.lib.pagination import Rows, paginated
from fangzhou.registry import selectors as registry_selectors
from fangzhou.registry.models import Community
from fangzhou.registry.selectors import community_visible_or_404

router = Router(tags=["care"])


def _profile(request: HttpRequest, profile_id: int) -> CareProfile:
    profile = selectors.profile_get(request.user, profile_id)
    if profile is None:
        raise Http404("not found")
    return profile


def _manage(request: HttpRequest, community: Community) -> None:
    if not can_manage_community(request.user, community.pk):
        raise HttpError(403, "无权操作 / not allowed")


def _refused(exc: services.CareError) -> HttpError:
    return HttpError(400, f"{exc.zh} / {exc.en}")


class ScheduleOut(Schema):
    id: int
    kind: str
    weekdays: list[int]
    at: dt.time
    hospital: str
    active: bool


class ProfileOut(Schema):
    id: int
    resident_id: int
    name: str
    compound: str
    building: str
    room: str
    needs: list[str]
    due_date: dt.date | None
    carer_id: int | None
    schedules: list[ScheduleOut]


def _profile_out(p: CareProfile) -> ProfileOut:
    return ProfileOut(
        id=p.pk,
        resident_id=p.resident_id,
        name=p.resident.name,
        compound=p.resident.household.building.compound.name,
        building=p.resident.household.building.label,
        room=p.resident.household.room,
        needs=p.need_codes,
        due_date=p.due_date,
        carer_id=p.carer_id,
        schedules=[
            ScheduleOut(id=s.pk, kind=s.kind, weekdays=s.weekday_list, at=s.at, hospital=s.hospital, active=s.active)
            for s in p.schedules.all()
        ],
    )


class ProfileIn(Schema):
    needs: list[str] | None = None
    due_date: dt.date | None = None
    carer_id: int | None = None
    note: str | None = None


class ScheduleIn(Schema):
    kind: str
    weekdays: list[int]
    at: dt.time
    hospital: str
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class RiskOut(Schema):
    profile_id: int
    name: str
    compound: str
    building: str
    room: str
    need: str
    when: dt.datetime | None
    what: str
    order_id: int | None


class CareCountsOut(Schema):
    created: int
    updated: int = 0
    sessions: int = 0
    sealed: int = 0


class CheckInIn(Schema):
    status: str = "ok"
    note: str = ""


class CheckInOut(Schema):
    profile_id: int
    on: dt.date
    status: str


class CloseOut(Schema):
    due: int
    missed: int
    created: int


class MedicineIn(Schema):
    name: str
    dose: str = ""
    quantity: str = ""


class MedicineRequestIn(Schema):
    resident_id: int
    medicines: list[MedicineIn]
    pharmacy: str
    prescription: str = ""
    urgency: int = 2
    payer: str = "resident"
    client_id: str | None = None


class MedicineRequestOut(Schema):
    id: int
    resident_id: int
    pharmacy: str
    medicines: list[MedicineIn]
    urgency: int
    payer: str
    status: str
    trip_id: int | None
    order_id: int | None


def _request_out(r: MedicineRequest) -> MedicineRequestOut:
    return MedicineRequestOut(
        id=r.pk,
        resident_id=r.resident_id,
        pharmacy=r.pharmacy,
        medicines=[MedicineIn(**m) for m in r.medicines],
        urgency=r.urgency,
        payer=r.payer,
        status=r.status,
        trip_id=r.trip_id,
        order_id=r.trip.order_id if r.trip else None,
    )


class TripOut(Schema):
    id: int
    pharmacy: str
    order_id: int | None
    requests: int


@router.get("/c/{code}/profiles", response=list[ProfileOut])
@paginated
def profiles(request: HttpRequest, code: str, need: str = "") -> list[ProfileOut]:
    community = community_visible_or_404(request.user, code)
    return [_profile_out(p) for p in selectors.community_profiles(request.user, community, need)]


@router.post("/c/{code}/sync", response=CareCountsOut)
def sync(request: HttpRequest, code: str) -> CareCountsOut:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    report = services.care_registry_sync(community=community, actor=acting_user(request))
    return CareCountsOut(created=report.created, updated=report.updated)


@router.get("/c/{code}/at-risk", response=list[RiskOut])
@paginated
def at_risk(request: HttpRequest, code: str) -> list[RiskOut]:
    community = community_visible_or_404(request.user, code)
    return [
        RiskOut(
            profile_id=r.profile.pk,
            name=r.profile.resident.name,
            compound=r.profile.resident.household.building.compound.name,
            building=r.profile.resident.household.building.label,
            room=r.profile.resident.household.room,
            need=str(r.need),
            when=r.when,
            what=r.what,
            order_id=r.order_id,
        )
        for r in selectors.at_risk_next_48h(request.user, community)
    ]


@router.post("/c/{code}/escorts", response=CareCountsOut)
def escorts(request: HttpRequest, code: str) -> CareCountsOut:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    report = services.care_escorts_ensure(community=community, actor=acting_user(request))
    return CareCountsOut(created=report.created, sessions=report.sessions, sealed=report.sealed)


@router.get("/profiles/{profile_id}", response=ProfileOut)
def profile(request: HttpRequest, profile_id: int) -> ProfileOut:
    if is_volunteer(request.user):
        raise Http404("not found")
    return _profile_out(_profile(request, profile_id))


@router.patch("/profiles/{profile_id}", response=ProfileOut)
def profile_update(request: HttpRequest, profile_id: int, payload: ProfileIn) -> ProfileOut:
    p = _profile(request, profile_id)
    _manage(request, p.community)
    fields = payload.model_fields_set
    kwargs: dict[str, object] = {}
    if "due_date" in fields:
        kwargs["due_date"] = payload.due_date
    if "carer_id" in fields:
        kwargs["carer"] = User.objects.filter(pk=payload.carer_id).first() if payload.carer_id else None
    try:
        services.care_profile_update(
            profile_id=p.pk,
            actor=acting_user(request),
            needs=payload.needs,
            note=payload.note,
            **kwargs,  # type: ignore[arg-type]
        )
    except services.CareError as exc:
        raise _refused(exc) from exc
    return _profile_out(_profile(request, profile_id))


@router.post("/profiles/{profile_id}/schedules", response=ScheduleOut)
def schedule_add(request: HttpRequest, profile_id: int, payload: ScheduleIn) -> ScheduleOut:
    p = _profile(request, profile_id)
    _manage(request, p.community)
    try:
        s = services.treatment_schedule_set(
            profile_id=p.pk,
            actor=acting_user(request),
            kind=payload.kind,
            weekdays=payload.weekdays,
            at=payload.at,
            hospital=payload.hospital,
            starts_on=payload.starts_on,
            ends_on=payload.ends_on,
        )
    except services.CareError as exc:
        raise _refused(exc) from exc
    return ScheduleOut(id=s.pk, kind=s.kind, weekdays=s.weekday_list, at=s.at, hospital=s.hospital, active=s.active)


@router.post("/profiles/{profile_id}/checkin", response=CheckInOut)
def checkin(request: HttpRequest, profile_id: int, payload: CheckInIn) -> CheckInOut:
    if is_volunteer(request.user) or is_officer(request.user):
        raise Http404("not found")
    p = _profile(request, profile_id)
    try:
        c = services.checkin_record(
            profile_id=p.pk, actor=acting_user(request), status=payload.status, note=payload.note
        )
    except services.CareError as exc:
        raise _refused(exc) from exc
    return CheckInOut(profile_id=p.pk, on=c.on, status=c.status)


@router.post("/c/{code}/checkins/close", response=CloseOut)
def checkins_close(request: HttpRequest, code: str) -> CloseOut:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    report = services.care_checkins_close(community=community, actor=acting_user(request))
    return CloseOut(**vars(report))


@router.get("/c/{code}/medicine", response=list[MedicineRequestOut])
@paginated
def medicine_list(request: HttpRequest, code: str) -> Rows[MedicineRequestOut]:
    community = community_visible_or_404(request.user, code)
    rows = (
        selectors.medicine_requests_visible(request.user)
        .filter(community=community)
        .select_related("trip")
        .order_by("-created_at", "-id")
    )
    return Rows(rows, _request_out)


@router.post("/medicine", response=MedicineRequestOut)
def medicine_create(request: HttpRequest, payload: MedicineRequestIn) -> MedicineRequestOut:
    if is_volunteer(request.user):
        raise Http404("not found")
    resident = registry_selectors.resident_get(request.user, payload.resident_id)
    if resident is None:
        raise Http404("resident not found")
    _manage(request, resident.community)
    try:
        r = services.medicine_request_create(
            resident=resident,
            actor=acting_user(request),
            medicines=[m.model_dump() for m in payload.medicines],
            pharmacy=payload.pharmacy,
            prescription=payload.prescription,
            urgency=payload.urgency,
            payer=payload.payer,
            client_id=payload.client_id,
        )
    except services.CareError as exc:
        raise _refused(exc) from exc
    return _request_out(r)


@router.post("/c/{code}/medicine/batch", response=list[TripOut])
def medicine_batch(request: HttpRequest, code: str) -> list[TripOut]:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    report = services.medicine_trips_batch(community=community, actor=acting_user(request))
    return [
        TripOut(id=t.pk, pharmacy=t.pharmacy, order_id=t.order_id, requests=t.requests.count()) for t in report.trips
    ]


@router.post("/medicine/{request_id}/deliver", response=MedicineRequestOut)
def medicine_deliver(request: HttpRequest, request_id: int) -> MedicineRequestOut:
    if is_officer(request.user):
        raise Http404("not found")
    r = selectors.medicine_request_get(request.user, request_id)
    if r is None:
        raise Http404("not found")
    try:
        r = services.medicine_request_deliver(request_id=r.pk, actor=acting_user(request))
    except services.CareError as exc:
        raise _refused(exc) from exc
    return _request_out(r)
