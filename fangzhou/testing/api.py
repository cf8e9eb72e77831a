"""Testing endpoints at /api/testing/. Same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.params import functions as params

from fangzhou.accounts.models import ApiReceipt, ApiToken, Scope
from fangzhou.accounts.permissions import acting_user, can_close_tube, can_manage_community
from fangzhou.accounts.tokens import ApiKeyAuth, BatchConflict, body_digest, receipt_keep, receipt_replay, refuse_place
from fangzhou.lib.importing import ImportReport
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
    compound: str
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
    compound: str
    building: str
    room: str
    reason: str
    tube: str


class AntigenBuildingOut(Schema):
    id: int
    compound: str
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
        MissingOut(
            id=r.pk,
            name=r.name,
            compound=r.household.building.compound.name,
            building=r.household.building.label,
            room=r.household.room,
        )
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
            compound=t.resident.household.building.compound.name,
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
            AntigenBuildingOut(
                id=b.building.pk,
                compound=b.building.compound.name,
                label=b.building.label,
                residents=b.residents,
                reported=b.reported,
            )
            for b in glance.buildings
        ],
    )


# --------------------------------------------------------------------------------------------------
# Machine clients (an API key, not a session): the lab posts results, the sampling app posts samples.
# Each post carries the client's own ``batch_id``: a repeat changes nothing and answers the same.

MAX_ROWS = settings.FANGZHOU_API_MAX_ROWS


class LabResultRowIn(Schema):
    tube: str = Field(max_length=64, description="the tube's code (the lab's own id of the row)")
    result: str = Field(max_length=16, description="阴性/阳性/无效 or negative/positive/invalid")
    ct_orf1ab: float | None = None
    ct_n: float | None = None
    tested_at: dt.datetime | None = None


class LabResultsPostIn(Schema):
    batch_id: str = Field(min_length=1, max_length=64, description="the lab's id of this post")
    rows: list[LabResultRowIn] = Field(max_length=MAX_ROWS)


class MachineRejectionOut(Schema):
    row: int
    ref: str
    column: str
    reason_zh: str
    reason_en: str


class LabResultsPostOut(Schema):
    batch_id: str
    tubes: int
    negative: int
    positive_tubes: list[str]
    invalid_tubes: list[str]
    retests: int
    confirmed: int
    unchanged: int
    rejected: list[MachineRejectionOut]


class SampleRowIn(Schema):
    sample_id: str = Field(min_length=1, max_length=64, description="the sampling app's id of the sample")
    tube: str = Field(max_length=64)
    id_number: str = Field(max_length=32)
    name: str = Field(default="", max_length=64)
    sampled_at: dt.datetime | None = None
    site: str = Field(default="", max_length=64)


class SamplesPostIn(Schema):
    batch_id: str = Field(min_length=1, max_length=64, description="the sampling app's id of this post")
    rows: list[SampleRowIn] = Field(max_length=MAX_ROWS)


class SamplesPostOut(Schema):
    batch_id: str
    tubes: int
    samples: int
    single_tube_retests: int
    unchanged: int
    rejected: list[MachineRejectionOut]


def _key(request: HttpRequest) -> ApiToken:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token


def _key_round(request: HttpRequest, token: ApiToken, round_id: int) -> Round:
    """A round of the key's communities; any other round is 404, and the attempt is audited."""
    rnd = selectors.round_for_token(token, round_id)
    if rnd is None:
        refuse_place(request, token)
        raise Http404("round not found")
    return rnd


def _rejected(report: ImportReport, refs: list[str]) -> list[dict[str, Any]]:
    out = []
    for r in sorted(report.rejected, key=lambda r: r.row):
        zh, en = r.reason_zh, r.reason_en
        if r.column == "name":  # never tell a client the registered name
            zh, en = "姓名与登记不符", "name does not match the registry"
        ref = refs[r.row - 1] if 0 < r.row <= len(refs) else ""
        out.append({"row": r.row, "ref": ref, "column": r.column, "reason_zh": zh, "reason_en": en})
    return out


Keep = Callable[[dict[str, Any]], None]


def _once(
    token: ApiToken, operation: str, batch_id: str, rows: list[dict[str, Any]], run: Callable[[Keep], None]
) -> Any:
    """The stored answer of a repeated post, else run it: ``run`` hands its answer to ``keep`` inside
    the import's transaction (the round locked), so of two racing posts the first import's answer
    is the one kept and both get it."""
    digest = body_digest(rows)
    try:
        stored = receipt_replay(token, operation, batch_id, digest)
    except BatchConflict as exc:
        raise HttpError(409, "此批次号已用于其他内容 / this batch id was already used for other rows") from exc
    if stored is not None:
        return stored.body
    kept: list[ApiReceipt] = []
    run(lambda body: kept.append(receipt_keep(token, operation, batch_id, digest, 200, body)))
    return kept[0].body


@router.post(
    "/rounds/{round_id}/results/rows",
    response={200: LabResultsPostOut, 409: Problem},
    auth=ApiKeyAuth(Scope.RESULTS_WRITE),
)
def lab_results_post(request: HttpRequest, round_id: int, payload: LabResultsPostIn) -> Any:
    """A lab system posts PCR results for a round of its community (key scope ``results:write``).

    Idempotent: per tube (a result already stored is unchanged; a contradicting one is rejected)
    and per ``batch_id`` (a repeated post answers what the first did). Nothing personal in the answer."""
    token = _key(request)
    rnd = _key_round(request, token, round_id)
    rows = [r.model_dump(mode="json") for r in payload.rows]

    def run(keep: Keep) -> None:
        def answer(report: services.ResultsReport) -> None:
            keep(
                {
                    "batch_id": payload.batch_id,
                    "tubes": report.tubes,
                    "negative": report.negative,
                    "positive_tubes": report.positive_tubes,
                    "invalid_tubes": report.invalid_tubes,
                    "retests": len(report.retest),
                    "confirmed": len(report.confirmed_positive),
                    "unchanged": report.unchanged,
                    "rejected": _rejected(report, [r.tube for r in payload.rows]),
                }
            )

        services.results_import(
            round=rnd,
            rows=[r.model_dump() for r in payload.rows],
            filename=f"api:{token.prefix}:{payload.batch_id}",
            actor=None,
            then=answer,
        )

    return _once(token, f"results:{rnd.pk}", payload.batch_id, rows, run)


@router.post(
    "/rounds/{round_id}/samples/rows",
    response={200: SamplesPostOut, 409: Problem},
    auth=ApiKeyAuth(Scope.SAMPLES_WRITE),
)
def samples_post(request: HttpRequest, round_id: int, payload: SamplesPostIn) -> Any:
    """The city sampling app posts the samples of a round (key scope ``samples:write``).

    Idempotent on the app's ``sample_id`` (a sample already stored is unchanged; the same id twice
    in a post is rejected) and per ``batch_id`` (a repeated post answers what the first did)."""
    token = _key(request)
    rnd = _key_round(request, token, round_id)
    rows = [r.model_dump(mode="json") for r in payload.rows]

    def run(keep: Keep) -> None:
        seen: dict[str, int] = {}
        kept: list[dict[str, Any]] = []
        duplicates: list[tuple[int, int]] = []
        for n, row in enumerate(payload.rows, 1):
            first = seen.setdefault(row.sample_id, n)
            if first != n:
                duplicates.append((n, first))
                kept.append({})  # an empty row: reported below, never written
            else:
                kept.append(row.model_dump(exclude={"sample_id"}))

        def answer(report: services.SamplesReport) -> None:
            dup_rows = {n for n, _ in duplicates}
            report.rejected = [r for r in report.rejected if r.row not in dup_rows]
            for n, first in duplicates:
                report.reject(n, "sample_id", f"与第 {first} 行的样本编号重复", f"same sample_id as row {first}")
            keep(
                {
                    "batch_id": payload.batch_id,
                    **{k: v for k, v in report.as_dict().items() if k != "rejected"},
                    "rejected": _rejected(report, [r.sample_id for r in payload.rows]),
                }
            )

        try:
            services.samples_import(
                round=rnd,
                rows=kept,
                filename=f"api:{token.prefix}:{payload.batch_id}",
                actor=None,
                then=answer,
            )
        except TestingError as exc:
            raise HttpError(409, str(exc)) from exc

    return _once(token, f"samples:{rnd.pk}", payload.batch_id, rows, run)
