"""Testing endpoints at /api/testing/. Same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.params import functions as params

from fangzhou.accounts.permissions import acting_user, can_close_tube, can_manage_community
from fangzhou.lib.pagination import paginated
from fangzhou.lib.problems import Problem
from fangzhou.lib.sheets import read_upload
from fangzhou.registry import selectors as registry
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.testing import selectors, services
from fangzhou.testing.models import Round, SamplingSite
from fangzhou.testing.services import TestingError

router = Router(tags=["testing"])


class RoundIn(Schema):
    date: dt.date
    pool_size: int = 10


class RoundOut(Schema):
    id: int
    community: str
    date: dt.date
    pool_size: int
    status: str


class SamplingCountOut(Schema):
    name: str
    expected: int
    sampled: int
    missing: int
    exempt: int


class RoundCountsOut(Schema):
    round: RoundOut
    total: SamplingCountOut
    buildings: list[SamplingCountOut]
    grids: list[SamplingCountOut]


class MissingOut(Schema):
    id: int
    name: str
    building: str
    room: str


class SampleIn(Schema):
    resident_ids: list[int]
    station: str = "api"
    site_id: int | None = None
    door_to_door: bool = False
    tube_code: str = ""


class SampleOut(Schema):
    tube: str
    tube_id: int
    single: bool
    closed: list[str]
    residents: list[int]


class TubeOut(Schema):
    id: int
    code: str
    status: str


class TestingRejectionOut(Schema):
    row: int
    reason: str


class ResultsOut(Schema):
    tubes: int
    negative: int
    positive_tubes: list[str]
    invalid_tubes: list[str]
    retest: list[str]
    confirmed_positive: list[str]
    cleared: list[str]
    unchanged: int
    rejected: list[TestingRejectionOut]


class SamplesOut(Schema):
    tubes: int
    samples: int
    single_tube_retests: int
    unchanged: int
    rejected: list[TestingRejectionOut]


class RetestOut(Schema):
    resident_id: int
    name: str
    building: str
    room: str
    reason: str
    tube: str


class AntigenBuildingOut(Schema):
    id: int
    label: str
    residents: int
    reported: int


class AntigenOut(Schema):
    day: dt.date
    residents: int
    reported: int
    positive: int
    buildings: list[AntigenBuildingOut]


def _round(request: HttpRequest, round_id: int) -> Round:
    rnd = selectors.round_get(request.user, round_id)
    if rnd is None:
        raise Http404("round not found")
    return rnd


def _runner(request: HttpRequest, rnd: Round) -> None:
    if not can_manage_community(request.user, rnd.community_id):
        raise HttpError(403, "只有居委会可以执行此操作 / only the committee may do this")


def _round_out(rnd: Round) -> RoundOut:
    return RoundOut(id=rnd.pk, community=rnd.community.code, date=rnd.date, pool_size=rnd.pool_size, status=rnd.status)


def _count(c: selectors.Count3) -> SamplingCountOut:
    return SamplingCountOut(name=c.name, expected=c.expected, sampled=c.sampled, missing=c.missing, exempt=c.exempt)


@router.post("/communities/{code}/rounds", response={201: RoundOut})
def round_create(request: HttpRequest, code: str, payload: RoundIn) -> tuple[int, RoundOut]:
    community = community_visible_or_404(request.user, code)
    user = acting_user(request)
    if not can_manage_community(user, community.pk):
        raise HttpError(403, "只有居委会可以执行此操作 / only the committee may do this")
    try:
        rnd = services.round_create(community=community, date=payload.date, pool_size=payload.pool_size, actor=user)
    except TestingError as exc:
        raise HttpError(400, str(exc)) from exc
    return 201, _round_out(rnd)


@router.get("/rounds/{round_id}", response=RoundCountsOut)
def round_counts(request: HttpRequest, round_id: int) -> RoundCountsOut:
    rnd = _round(request, round_id)
    counts = selectors.round_counts(request.user, rnd)
    return RoundCountsOut(
        round=_round_out(rnd),
        total=_count(counts.total),
        buildings=[_count(b) for b in counts.buildings],
        grids=[_count(g) for g in counts.grids],
    )


@router.get("/rounds/{round_id}/missing", response=list[MissingOut])
@paginated
def round_missing(request: HttpRequest, round_id: int) -> list[MissingOut]:
    rnd = _round(request, round_id)
    return [
        MissingOut(id=r.pk, name=r.name, building=r.household.building.label, room=r.household.room)
        for r in selectors.missing_residents(request.user, rnd)
    ]


@router.post("/rounds/{round_id}/samples", response={201: SampleOut, 409: Problem})
def sample_take(request: HttpRequest, round_id: int, payload: SampleIn) -> tuple[int, SampleOut]:
    rnd = _round(request, round_id)
    residents = list(
        registry.residents_visible(request.user).filter(pk__in=payload.resident_ids, community_id=rnd.community_id)
    )
    if len(residents) != len(set(payload.resident_ids)) or not residents:
        raise Http404("resident not found")
    order = {rid: i for i, rid in enumerate(payload.resident_ids)}
    residents.sort(key=lambda r: order[r.pk])
    site = None
    if payload.site_id is not None:
        site = SamplingSite.objects.filter(round=rnd, pk=payload.site_id).first()
        if site is None:
            raise Http404("site not found")
    try:
        result = services.sample_take(
            round=rnd,
            residents=residents,
            actor=acting_user(request),
            station=f"api:{acting_user(request).pk}:{payload.station[:20]}",
            site=site,
            door_to_door=payload.door_to_door,
            tube_code=payload.tube_code,
        )
    except TestingError as exc:
        raise HttpError(409, str(exc)) from exc
    return 201, SampleOut(
        tube=result.tube.code,
        tube_id=result.tube.pk,
        single=result.single,
        closed=result.closed,
        residents=[s.resident_id for s in result.samples],
    )


@router.post("/tubes/{tube_id}/close", response=TubeOut)
def tube_close(request: HttpRequest, tube_id: int) -> TubeOut:
    tube = selectors.tube_get(request.user, tube_id)
    if tube is None:
        raise Http404("tube not found")
    if not can_close_tube(request.user, tube.round.community_id, opened_by_id=tube.opened_by_id):
        raise HttpError(403, "只有居委会或装管人可以封管 / only the committee or whoever fills the tube may close it")
    services.tube_close(tube=tube, actor=acting_user(request))
    return TubeOut(id=tube.pk, code=tube.code, status=tube.status)


@router.post("/rounds/{round_id}/results", response=ResultsOut)
def results_import(request: HttpRequest, round_id: int, file: UploadedFile = params.File(...)) -> dict[str, object]:
    rnd = _round(request, round_id)
    _runner(request, rnd)
    report = services.results_import(
        round=rnd, data=read_upload(file), filename=file.name or "results", actor=acting_user(request)
    )
    return report.as_dict()


@router.post("/rounds/{round_id}/samples-file", response={200: SamplesOut, 409: Problem})
def samples_import(request: HttpRequest, round_id: int, file: UploadedFile = params.File(...)) -> dict[str, object]:
    rnd = _round(request, round_id)
    _runner(request, rnd)
    try:
        report = services.samples_import(
            round=rnd, data=read_upload(file), filename=file.name or "samples", actor=acting_user(request)
        )
    except TestingError as exc:
        raise HttpError(409, str(exc)) from exc
    return report.as_dict()


@router.get("/communities/{code}/retests", response=list[RetestOut])
@paginated
def retests(request: HttpRequest, code: str) -> list[RetestOut]:
    community = community_visible_or_404(request.user, code)
    return [
        RetestOut(
            resident_id=t.resident_id,
            name=t.resident.name,
            building=t.resident.household.building.label,
            room=t.resident.household.room,
            reason=t.reason,
            tube=t.source_tube.code if t.source_tube else "",
        )
        for t in selectors.retests_visible(request.user, community)
    ]


@router.get("/communities/{code}/antigen", response=AntigenOut)
def antigen(request: HttpRequest, code: str, day: dt.date | None = None) -> AntigenOut:
    from django.utils import timezone

    community = community_visible_or_404(request.user, code)
    glance = selectors.antigen_glance(request.user, community, day or timezone.localdate())
    return AntigenOut(
        day=glance.day,
        residents=glance.residents,
        reported=glance.reported,
        positive=len(glance.positives),
        buildings=[
            AntigenBuildingOut(id=b.building.pk, label=b.building.label, residents=b.residents, reported=b.reported)
            for b in glance.buildings
        ],
    )
