"""Volunteer endpoints: same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangzhou.accounts.models import User
from fangzhou.registry.models import Building, Community
from fangzhou.registry.roster.normalize import mask_phone
from fangzhou.volunteers import selectors, services
from fangzhou.volunteers.models import Shift, Volunteer
from fangzhou.volunteers.services import VolunteerError

router = Router(tags=["volunteers"])


class SignupIn(Schema):
    client_id: str
    name: str
    phone: str
    kind: str = "resident"
    building_id: int | None = None
    skills: list[str] = []
    availability: str = ""


class SignupOut(Schema):
    id: int
    name: str
    status: str


class GateOut(Schema):
    ok: bool
    reasons: list[str]
    reasons_zh: list[str]
    last_negative_at: dt.datetime | None


class VolunteerOut(Schema):
    id: int
    name: str
    phone_masked: str
    kind: str
    status: str
    building: str
    skills: list[str]
    groups: list[str]


class ApproveIn(Schema):
    groups: list[str] = []


class ApproveOut(Schema):
    id: int
    username: str
    password: str | None


class TestIn(Schema):
    tested_at: dt.datetime
    result: str
    kind: str = "antigen"


class ShiftOut(Schema):
    id: int
    group: str
    post: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    needed: int
    people: list[str]
    gap: int


class AssignIn(Schema):
    volunteer_id: int


class ExposureOut(Schema):
    since: dt.datetime
    households: list[str]
    colleagues: list[str]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _refuse(exc: VolunteerError) -> HttpError:
    return HttpError(400, f"{exc.zh} / {exc.en}")


def _volunteer_out(v: Volunteer) -> VolunteerOut:
    return VolunteerOut(
        id=v.pk,
        name=v.name,
        phone_masked=mask_phone(v.phone),
        kind=v.kind,
        status=v.status,
        building=v.building.label if v.building else "",
        skills=v.skill_codes,
        groups=[g.code for g in v.groups.all()],
    )


def _gate_out(v: Volunteer) -> GateOut:
    gate = selectors.volunteer_health(v)
    return GateOut(
        ok=gate.ok,
        reasons=[r.en for r in gate.reasons],
        reasons_zh=[r.zh for r in gate.reasons],
        last_negative_at=gate.last_negative_at,
    )


@router.post("/signup/{token}", response=SignupOut, auth=None)
def signup(request: HttpRequest, token: str, payload: SignupIn) -> SignupOut:
    """Public: the sign-up form behind the community's QR link (idempotent on client_id)."""
    community = services.signup_link_community(token)
    if community is None:
        raise Http404("sign-up link not valid")
    building = (
        Building.objects.filter(community=community, pk=payload.building_id).first() if payload.building_id else None
    )
    try:
        v, _created = services.volunteer_signup(
            community=community,
            client_id=payload.client_id,
            name=payload.name,
            phone=payload.phone,
            kind=payload.kind,
            building=building,
            skills=payload.skills,
            availability=payload.availability,
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return SignupOut(id=v.pk, name=v.name, status=v.status)


@router.get("/", response=list[VolunteerOut])
def volunteer_list(request: HttpRequest, status: str | None = None) -> list[VolunteerOut]:
    qs = selectors.volunteers_visible(request.user).prefetch_related("groups")
    if status:
        qs = qs.filter(status=status)
    return [_volunteer_out(v) for v in qs.order_by("name")[:1000]]


@router.get("/me", response=VolunteerOut)
def me(request: HttpRequest) -> VolunteerOut:
    v = selectors.volunteer_of(request.user)
    if v is None:
        raise Http404("no volunteer profile")
    return _volunteer_out(v)


def _get(request: HttpRequest, pk: int) -> Volunteer:
    v = selectors.volunteer_get(request.user, pk)
    if v is None:
        raise Http404("volunteer not found")
    return v


def _managed(request: HttpRequest, pk: int) -> Volunteer:
    v = _get(request, pk)
    if not selectors.can_manage(request.user, v.community):
        raise Http404("volunteer not found")
    return v


@router.get("/{pk}", response=VolunteerOut)
def volunteer_detail(request: HttpRequest, pk: int) -> VolunteerOut:
    return _volunteer_out(_get(request, pk))


@router.get("/{pk}/health", response=GateOut)
def health(request: HttpRequest, pk: int) -> GateOut:
    return _gate_out(_get(request, pk))


@router.post("/{pk}/approve", response=ApproveOut)
def approve(request: HttpRequest, pk: int, payload: ApproveIn) -> ApproveOut:
    approval = services.volunteer_approve(volunteer=_managed(request, pk), actor=_user(request), groups=payload.groups)
    return ApproveOut(id=approval.volunteer.pk, username=approval.username, password=approval.password)


@router.post("/{pk}/tests", response=GateOut)
def test_record(request: HttpRequest, pk: int, payload: TestIn) -> GateOut:
    v = _get(request, pk)
    if v.user_id != request.user.pk and not selectors.can_manage(request.user, v.community):
        raise Http404("volunteer not found")
    try:
        services.volunteer_test_record(
            volunteer=v, tested_at=payload.tested_at, result=payload.result, kind=payload.kind, actor=_user(request)
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return _gate_out(v)


@router.get("/{pk}/exposure", response=ExposureOut)
def exposure(request: HttpRequest, pk: int) -> ExposureOut:
    v = _managed(request, pk)
    positive = selectors.last_positive(v)
    data = selectors.exposure(v, positive_at=positive.tested_at if positive else None)
    return ExposureOut(
        since=data.since, households=[str(h) for h in data.households], colleagues=[c.name for c in data.colleagues]
    )


def _community(request: HttpRequest, code: str) -> Community:
    community = selectors.communities_read(request.user).filter(code=code).first()
    if community is None:
        raise Http404("community not found")
    return community


@router.get("/roster/{code}/{day}", response=list[ShiftOut])
def roster(request: HttpRequest, code: str, day: dt.date) -> list[ShiftOut]:
    community = _community(request, code)
    return [
        ShiftOut(
            id=r.shift.pk,
            group=r.shift.group.code,
            post=r.shift.post,
            place=r.shift.place,
            starts_at=r.shift.starts_at,
            ends_at=r.shift.ends_at,
            needed=r.shift.needed,
            people=[p.name for p in r.people],
            gap=r.gap,
        )
        for r in selectors.roster_day(community=community, day=day)
    ]


@router.post("/shifts/{shift_id}/assign", response={200: dict[str, int]})
def assign(request: HttpRequest, shift_id: int, payload: AssignIn) -> dict[str, int]:
    shift = Shift.objects.filter(pk=shift_id, community__in=selectors.communities_managed(request.user)).first()
    if shift is None:
        raise Http404("shift not found")
    volunteer = Volunteer.objects.filter(pk=payload.volunteer_id, community_id=shift.community_id).first()
    if volunteer is None:
        raise Http404("volunteer not found")
    try:
        assignment = services.shift_assign(shift=shift, volunteer=volunteer, actor=_user(request))
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return {"assignment_id": assignment.pk}
