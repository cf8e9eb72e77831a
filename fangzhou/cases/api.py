"""Case endpoints. Names only for the committee; building and grid leaders get counts."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_manage_community
from fangzhou.cases import selectors, services
from fangzhou.cases.models import Case, Source
from fangzhou.lib.pagination import paginated
from fangzhou.registry.selectors import community_visible_or_404, resident_get

router = Router(tags=["cases"])


class CaseOut(Schema):
    id: int
    resident_id: int
    name: str
    compound: str
    building: str
    room: str
    source: str
    report_date: dt.date
    site_kind: str
    site_name: str
    transferred_on: dt.date | None
    discharged_on: dt.date | None
    monitoring_until: dt.date | None


class CaseCountOut(Schema):
    compound: str
    building: str
    cases: int
    last_report: dt.date | None


class CaseIn(Schema):
    resident_id: int
    report_date: dt.date
    source: str = Source.STAFF


class TransferIn(Schema):
    site_kind: str
    site_name: str
    transferred_on: dt.date


class PcrIn(Schema):
    sampled_at: dt.datetime
    negative: bool
    ct: float | None = None


class DischargeIn(Schema):
    discharged_on: dt.date


class TimelineOut(Schema):
    on: dt.date
    kind: str
    label: str
    detail: str


class ResidentTimelineOut(Schema):
    resident_id: int
    tests_included: bool
    items: list[TimelineOut]


def _out(case: Case) -> CaseOut:
    return CaseOut(
        id=case.pk,
        resident_id=case.resident_id,
        name=case.resident.name,
        compound=case.building.compound.name,
        building=case.building.label,
        room=case.resident.household.room,
        source=case.source,
        report_date=case.report_date,
        site_kind=case.site_kind,
        site_name=case.site_name,
        transferred_on=case.transferred_on,
        discharged_on=case.discharged_on,
        monitoring_until=case.monitoring_until,
    )


def _case_for_write(request: HttpRequest, case_id: int) -> tuple[Case, User]:
    case = selectors.case_get(request.user, case_id)
    if case is None:
        raise Http404("case not found")
    if not can_manage_community(request.user, case.community_id):
        raise HttpError(403, "仅居委会可操作 / only the committee may do this")
    assert isinstance(request.user, User)
    return case, request.user


@router.get("/communities/{code}/cases", response=list[CaseOut])
@paginated
def case_list(request: HttpRequest, code: str) -> list[CaseOut]:
    community = community_visible_or_404(request.user, code)
    if not selectors.sees_case_people(request.user):
        raise HttpError(403, "只能查看病例数 / you may see counts only")
    return [_out(c) for c in selectors.case_list(request.user, community)]


@router.get("/communities/{code}/counts", response=list[CaseCountOut])
@paginated
def case_counts(request: HttpRequest, code: str) -> list[CaseCountOut]:
    community = community_visible_or_404(request.user, code)
    return [
        CaseCountOut(compound=c.compound, building=c.building, cases=c.cases, last_report=c.last_report)
        for c in selectors.case_counts_by_building(request.user, community)
    ]


@router.post("/communities/{code}/cases", response={200: CaseOut, 201: CaseOut})
def case_create(request: HttpRequest, code: str, payload: CaseIn) -> Status[CaseOut]:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        raise HttpError(403, "仅居委会可操作 / only the committee may do this")
    resident = resident_get(request.user, payload.resident_id)
    if resident is None or resident.community_id != community.pk:
        raise Http404("resident not found")
    if payload.source not in Source.values:
        raise HttpError(422, "来源无效 / unknown source")
    assert isinstance(request.user, User)
    case, created = services.case_confirm(
        resident=resident, report_date=payload.report_date, source=payload.source, actor=request.user
    )
    case = selectors.case_get(request.user, case.pk) or case
    return Status(201 if created else 200, _out(case))


@router.get("/{case_id}", response=CaseOut)
def case_detail(request: HttpRequest, case_id: int) -> CaseOut:
    case = selectors.case_get(request.user, case_id)
    if case is None:
        raise Http404("case not found")
    return _out(case)


@router.post("/{case_id}/transfer", response=CaseOut)
def case_transfer(request: HttpRequest, case_id: int, payload: TransferIn) -> CaseOut:
    case, actor = _case_for_write(request, case_id)
    try:
        services.case_transfer(
            case_id=case.pk,
            site_kind=payload.site_kind,
            site_name=payload.site_name,
            transferred_on=payload.transferred_on,
            actor=actor,
        )
    except services.CaseError as exc:
        raise HttpError(422, str(exc)) from exc
    case.refresh_from_db()
    return _out(case)


@router.post("/{case_id}/pcr", response={201: dict[str, int]})
def case_pcr(request: HttpRequest, case_id: int, payload: PcrIn) -> Status[dict[str, int]]:
    case, actor = _case_for_write(request, case_id)
    try:
        row = services.case_pcr_record(
            case_id=case.pk, sampled_at=payload.sampled_at, negative=payload.negative, ct=payload.ct, actor=actor
        )
    except services.CaseError as exc:
        raise HttpError(422, str(exc)) from exc
    return Status(201, {"id": row.pk})


@router.post("/{case_id}/discharge", response=CaseOut)
def case_discharge(request: HttpRequest, case_id: int, payload: DischargeIn) -> CaseOut:
    case, actor = _case_for_write(request, case_id)
    try:
        services.case_discharge(case_id=case.pk, discharged_on=payload.discharged_on, actor=actor)
    except services.CaseError as exc:
        raise HttpError(422, str(exc)) from exc
    case.refresh_from_db()
    return _out(case)


@router.get("/residents/{resident_id}/timeline", response=ResidentTimelineOut)
def resident_timeline(request: HttpRequest, resident_id: int) -> ResidentTimelineOut:
    resident = resident_get(request.user, resident_id) if selectors.sees_case_people(request.user) else None
    if resident is None:
        raise Http404("resident not found")
    items, tests = selectors.resident_timeline(resident)
    return ResidentTimelineOut(
        resident_id=resident.pk,
        tests_included=tests,
        items=[TimelineOut(on=i.on, kind=i.kind, label=i.label, detail=i.detail) for i in items],
    )
