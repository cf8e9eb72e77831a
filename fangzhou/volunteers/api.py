"""Volunteer endpoints: same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as Reply

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.lib.pagination import Rows, paginated
from fangzhou.lib.ratelimit import public_api_rate_limited
from fangzhou.lib.urls import public_url
from fangzhou.registry.models import Building, Community
from fangzhou.registry.roster.normalize import mask_phone
from fangzhou.registry.selectors import Access, communities_managed, communities_read, community_visible_or_404
from fangzhou.volunteers import selectors, services
from fangzhou.volunteers.models import (
    Shift,
    ShiftAssignment,
    SwapRequest,
    TimeSlot,
    Volunteer,
    VolunteerStatus,
    Weekday,
    WorkGroup,
    codes_in,
)
from fangzhou.volunteers.services import VolunteerError
from fangzhou.workorders.models import Group

router = Router(tags=["volunteers"])

NOT_A_COLLEAGUE = "替班人必须是本居民区已批准的志愿者 / the colleague must be an approved volunteer here"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SignupIn(Schema):
    client_id: str
    name: str
    phone: str
    kind: str = "resident"
    building_id: int | None = None
    skills: list[str] = []
    availability: str = ""
    groups: list[str] = []  # work-group codes they would join
    days: list[str] = []  # 1 = Monday … 7 = Sunday
    slots: list[str] = []  # morning, afternoon, evening, night


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
    wanted_groups: list[str] = []
    available_days: list[str] = []
    available_slots: list[str] = []


class ApproveIn(Schema):
    # The work groups to join; omitted: the ones the volunteer asked for on the sign-up form.
    groups: list[str] | None = None


class ApproveOut(Schema):
    id: int
    username: str
    # A one-time sign-in link for the volunteer (no password is passed by hand); null when the
    # volunteer was already approved (make a new one from the accounts page).
    signin_url: str | None
    expires_at: dt.datetime | None


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
    # Of ``people``, those who may not serve now (health gate closed): their places count in ``gap``.
    not_serving: list[str] = []
    gap: int


class ShiftAssignIn(Schema):
    volunteer_id: int


class ExposureOut(Schema):
    since: dt.datetime
    households: list[str]
    colleagues: list[str]


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
        wanted_groups=v.wanted_group_codes,
        available_days=codes_in(v.available_days, Weekday),
        available_slots=codes_in(v.available_slots, TimeSlot),
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
@public_api_rate_limited
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
            groups=payload.groups,
            days=payload.days,
            slots=payload.slots,
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return SignupOut(id=v.pk, name=v.name, status=v.status)


@router.get("/", response=list[VolunteerOut])
@paginated
def volunteer_list(request: HttpRequest, status: str | None = None) -> Rows[VolunteerOut]:
    qs = selectors.volunteers_visible(request.user).prefetch_related("groups")
    if status:
        qs = qs.filter(status=status)
    return Rows(qs.order_by("name", "id"), _volunteer_out)


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
    if not can_manage_community(request.user, v.community.pk):
        raise Http404("volunteer not found")
    return v


@router.get("/{int:pk}", response=VolunteerOut)
def volunteer_detail(request: HttpRequest, pk: int) -> VolunteerOut:
    return _volunteer_out(_get(request, pk))


@router.get("/{int:pk}/health", response=GateOut)
def health(request: HttpRequest, pk: int) -> GateOut:
    return _gate_out(_get(request, pk))


@router.post("/{int:pk}/approve", response=ApproveOut)
def approve(request: HttpRequest, pk: int, payload: ApproveIn) -> ApproveOut:
    approval = services.volunteer_approve(
        volunteer=_managed(request, pk), actor=acting_user(request), groups=payload.groups
    )
    url = (
        public_url(reverse("accounts:signin_link", args=[approval.token]), request=request)
        if approval.token is not None
        else None
    )
    return ApproveOut(
        id=approval.volunteer.pk, username=approval.username, signin_url=url, expires_at=approval.expires_at
    )


@router.post("/{int:pk}/tests", response=GateOut)
def test_record(request: HttpRequest, pk: int, payload: TestIn) -> GateOut:
    v = _get(request, pk)
    if v.user_id != request.user.pk and not can_manage_community(request.user, v.community.pk):
        raise Http404("volunteer not found")
    try:
        services.volunteer_test_record(
            volunteer=v,
            tested_at=payload.tested_at,
            result=payload.result,
            kind=payload.kind,
            actor=acting_user(request),
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return _gate_out(v)


@router.get("/{int:pk}/exposure", response=ExposureOut)
def exposure(request: HttpRequest, pk: int) -> ExposureOut:
    v = _managed(request, pk)
    positive = selectors.last_positive(v)
    data = selectors.exposure(v, positive_at=positive.tested_at if positive else None)
    return ExposureOut(
        since=data.since, households=[str(h) for h in data.households], colleagues=[c.name for c in data.colleagues]
    )


@router.get("/roster/{code}/{day}", response=list[ShiftOut])
@paginated
def roster(request: HttpRequest, code: str, day: dt.date) -> list[ShiftOut]:
    community = community_visible_or_404(request.user, code, need=Access.READ)
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
            not_serving=[p.volunteer.name for p in r.blocked],
            gap=r.gap,
        )
        for r in selectors.roster_day(community=community, day=day)
    ]


@router.post("/shifts/{shift_id}/assign", response={200: dict[str, int]})
def assign(request: HttpRequest, shift_id: int, payload: ShiftAssignIn) -> dict[str, int]:
    shift = Shift.objects.filter(pk=shift_id, community__in=communities_managed(request.user)).first()
    if shift is None:
        raise Http404("shift not found")
    volunteer = Volunteer.objects.filter(pk=payload.volunteer_id, community_id=shift.community_id).first()
    if volunteer is None:
        raise Http404("volunteer not found")
    try:
        assignment = services.shift_assign(shift=shift, volunteer=volunteer, actor=acting_user(request))
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return {"assignment_id": assignment.pk}


# --- committee actions, work groups, the roster, swaps --------------------------------------


class WorkGroupMemberOut(Schema):
    id: int
    name: str


class WorkGroupOut(Schema):
    id: int
    code: str
    label: str
    lead_id: int | None
    lead: str | None
    members: list[WorkGroupMemberOut]


class LeadIn(Schema):
    lead_id: int | None = None


class GroupsIn(Schema):
    groups: list[str]


class ShiftIn(Schema):
    community: str
    group: str
    post: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str = ""
    needed: int = 1


class SwapIn(Schema):
    reason: str = ""
    proposed_id: int | None = None


class SwapOut(Schema):
    id: int
    status: str
    assignment_id: int
    shift_id: int
    group: str
    post: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    requester: str
    proposed: str | None
    reason: str


class SwapDecideIn(Schema):
    accept: bool
    to_id: int | None = None


class AutofillOut(Schema):
    filled: int
    gaps: int


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _shift_out(row: selectors.RosterRow) -> ShiftOut:
    return ShiftOut(
        id=row.shift.pk,
        group=row.shift.group.code,
        post=row.shift.post,
        place=row.shift.place,
        starts_at=row.shift.starts_at,
        ends_at=row.shift.ends_at,
        needed=row.shift.needed,
        people=[p.name for p in row.people],
        not_serving=[p.volunteer.name for p in row.blocked],
        gap=row.gap,
    )


def _managed_community(request: HttpRequest, code: str) -> Community:
    community = communities_managed(request.user).filter(code=code).first()
    if community is None:
        raise Http404("community not found")
    return community


def _swap_out(swap: SwapRequest) -> SwapOut:
    shift = swap.assignment.shift
    return SwapOut(
        id=swap.pk,
        status=swap.status,
        assignment_id=swap.assignment_id,
        shift_id=shift.pk,
        group=shift.group.code,
        post=shift.post,
        place=shift.place,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        requester=swap.requester.name,
        proposed=swap.proposed.name if swap.proposed else None,
        reason=swap.reason,
    )


@router.post("/{int:pk}/reject", response=VolunteerOut)
def reject(request: HttpRequest, pk: int) -> VolunteerOut:
    """Committee: turn down a sign-up (an approved volunteer cannot be rejected)."""
    try:
        v = services.volunteer_reject(volunteer=_managed(request, pk), actor=acting_user(request))
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return _volunteer_out(v)


@router.post("/{int:pk}/groups", response=VolunteerOut)
def groups_set(request: HttpRequest, pk: int, payload: GroupsIn) -> VolunteerOut:
    """Committee: the work groups a volunteer belongs to (replaces the previous set)."""
    v = _managed(request, pk)
    unknown = sorted(set(payload.groups) - set(Group.values))
    if unknown:
        raise HttpError(400, f"未知的工作组：{'、'.join(unknown)} / unknown work group(s): {', '.join(unknown)}")
    services.volunteer_groups_set(volunteer=v, codes=payload.groups, actor=acting_user(request))
    return _volunteer_out(_get(request, pk))


@router.get("/groups/{code}", response=list[WorkGroupOut])
@paginated
def group_list(request: HttpRequest, code: str) -> list[WorkGroupOut]:
    """The work groups of a community with their leads and members: all of them for the committee,
    the user's own groups (led or joined) for anyone else."""
    community = communities_read(request.user).filter(code=code).first()
    visible = selectors.groups_visible(request.user)
    if community is not None:
        services.work_groups_ensure(community=community)
    else:
        visible = visible.filter(community__code=code)
        if not visible.exists():
            raise Http404("community not found")
    rows = visible.filter(community__code=code).prefetch_related("members").order_by("id")
    return [
        WorkGroupOut(
            id=g.pk,
            code=g.code,
            label=str(g.get_code_display()),
            lead_id=g.lead_id,
            lead=str(g.lead) if g.lead else None,
            members=[WorkGroupMemberOut(id=m.pk, name=m.name) for m in g.members.all()],
        )
        for g in rows
    ]


@router.post("/groups/{group_id}/lead", response=WorkGroupOut)
def group_lead_set(request: HttpRequest, group_id: int, payload: LeadIn) -> WorkGroupOut:
    """Committee: set (or, with no ``lead_id``, clear) a work group's lead."""
    group = WorkGroup.objects.filter(pk=group_id, community__in=communities_managed(request.user)).first()
    if group is None:
        raise Http404("work group not found")
    lead = None
    if payload.lead_id is not None:
        lead = User.objects.filter(pk=payload.lead_id, community_id=group.community_id, is_active=True).first()
        if lead is None:
            raise HttpError(400, "组长必须是本居民区的人员 / the lead must belong to this community")
    try:
        group = services.work_group_lead_set(group=group, lead=lead, actor=acting_user(request))
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return WorkGroupOut(
        id=group.pk,
        code=group.code,
        label=str(group.get_code_display()),
        lead_id=group.lead_id,
        lead=str(group.lead) if group.lead else None,
        members=[WorkGroupMemberOut(id=m.pk, name=m.name) for m in group.members.order_by("name")],
    )


@router.post("/shifts", response={200: ShiftOut, 201: ShiftOut})
def shift_new(request: HttpRequest, payload: ShiftIn) -> Reply[ShiftOut]:
    """Committee: a shift of a work group at a post (idempotent on group + post + place + start)."""
    community = _managed_community(request, payload.community)
    groups = {g.code: g for g in services.work_groups_ensure(community=community)}
    group = groups.get(payload.group)
    if group is None:
        raise HttpError(400, f"未知的工作组「{payload.group}」 / unknown work group {payload.group!r}")
    try:
        shift, created = services.shift_create(
            group=group,
            post=payload.post,
            place=payload.place,
            starts_at=_aware(payload.starts_at),
            ends_at=_aware(payload.ends_at),
            needed=payload.needed,
            actor=acting_user(request),
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    row = next(
        r
        for r in selectors.roster_day(community=community, day=timezone.localdate(shift.starts_at), group=group)
        if r.shift.pk == shift.pk
    )
    return Reply(201 if created else 200, _shift_out(row))


@router.delete("/assignments/{assignment_id}", response={204: None})
def assignment_remove(request: HttpRequest, assignment_id: int) -> Reply[None]:
    """Committee: take a volunteer off a shift."""
    assignment = (
        ShiftAssignment.objects.filter(pk=assignment_id, shift__community__in=communities_managed(request.user))
        .select_related("shift")
        .first()
    )
    if assignment is None:
        raise Http404("assignment not found")
    services.shift_unassign(assignment=assignment, actor=acting_user(request))
    return Reply(204, None)


@router.post("/assignments/{assignment_id}/swap", response=SwapOut)
def swap_request(request: HttpRequest, assignment_id: int, payload: SwapIn) -> SwapOut:
    """A volunteer asks to hand their own place on a shift to someone else (one open request per place)."""
    volunteer = selectors.volunteer_of(request.user)
    assignment = (
        ShiftAssignment.objects.filter(pk=assignment_id, volunteer=volunteer).select_related("shift").first()
        if volunteer
        else None
    )
    if assignment is None:
        raise Http404("shift not found")
    proposed = None
    if payload.proposed_id is not None:
        proposed = Volunteer.objects.filter(
            pk=payload.proposed_id, community_id=assignment.shift.community_id, status=VolunteerStatus.APPROVED
        ).first()
        if proposed is None:
            raise HttpError(
                400, "替班人必须是本居民区已批准的志愿者 / the colleague must be an approved volunteer here"
            )
    try:
        swap = services.swap_request_create(
            assignment=assignment, actor=acting_user(request), reason=payload.reason, proposed=proposed
        )
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return _swap_out(_swap(swap.pk))


def _swap(pk: int) -> SwapRequest:
    return SwapRequest.objects.select_related("assignment__shift__group", "requester", "proposed").get(pk=pk)


@router.get("/swaps/{code}", response=list[SwapOut])
@paginated
def swap_list(request: HttpRequest, code: str) -> list[SwapOut]:
    """Committee: the open swap requests of a community, earliest shift first."""
    return [_swap_out(s) for s in selectors.swaps_open(_managed_community(request, code))]


@router.post("/swaps/{swap_id}/decide", response=SwapOut)
def swap_decide(request: HttpRequest, swap_id: int, payload: SwapDecideIn) -> SwapOut:
    """Committee: accept (the place moves to ``to_id`` or the proposed colleague) or cancel a swap."""
    swap = SwapRequest.objects.filter(
        pk=swap_id, assignment__shift__community__in=communities_managed(request.user)
    ).first()
    if swap is None:
        raise Http404("swap request not found")
    to = None
    if payload.to_id is not None:
        to = Volunteer.objects.filter(pk=payload.to_id, community_id=swap.assignment.shift.community_id).first()
        if to is None:
            raise HttpError(
                400, "替班人必须是本居民区已批准的志愿者 / the colleague must be an approved volunteer here"
            )
    try:
        decided = services.swap_request_decide(swap=swap, actor=acting_user(request), to=to, accept=payload.accept)
    except VolunteerError as exc:
        raise _refuse(exc) from exc
    return _swap_out(_swap(decided.pk))


@router.post("/roster/{code}/{day}/autofill", response=AutofillOut)
def roster_autofill(request: HttpRequest, code: str, day: dt.date) -> AutofillOut:
    """Committee: fill the day's gaps with eligible members of each group (health gate respected)."""
    community = _managed_community(request, code)
    filled = services.shifts_autofill(community=community, day=day, actor=acting_user(request))
    return AutofillOut(filled=filled, gaps=sum(r.gap for r in selectors.roster_day(community=community, day=day)))


@router.get("/roster/{code}/{day}/xlsx", response={200: None})
def roster_xlsx(request: HttpRequest, code: str, day: dt.date) -> HttpResponse:
    """The day's duty roster as an Excel file (phones masked); the export is audited."""
    community = community_visible_or_404(request.user, code, need=Access.READ)
    content = services.roster_export_xlsx(community=community, day=day, actor=acting_user(request))
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="duty-{community.code}-{day.isoformat()}.xlsx"'
    return response
