"""Zone endpoints: status on a date, blocks with their access check, overrides, the rule set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_manage_community
from fangzhou.lib.problems import Problem, problem_response
from fangzhou.registry.models import Community, Compound
from fangzhou.registry.selectors import communities_visible, community_visible_or_404
from fangzhou.zones import services
from fangzhou.zones.models import MicroZone
from fangzhou.zones.selectors import (
    UnknownRuleSet,
    rule_set_named,
    visible_building_ids,
    zone_report,
    zone_report_json,
)
from fangzhou.zones.site import AccessOutcome, access_check_block

router = Router(tags=["zones"])


class PlaceOut(Schema):
    name: str
    status: str
    last_case_on: dt.date | None
    next_change_on: dt.date | None
    next_status: str | None
    held_by: str | None = None  # the block whose floor holds this place at its status


class BlockStatusOut(PlaceOut):
    compound: str


class BuildingStatusOut(Schema):
    compound: str
    building: str
    status: str
    zone: str | None
    last_case_on: dt.date | None
    next_change_on: dt.date | None
    next_status: str | None
    days_without_case: int | None
    overridden: bool
    held_by: str | None = None
    cases: int | None


class StatusOut(Schema):
    compounds: list[PlaceOut]
    microzones: list[BlockStatusOut]
    buildings: list[BuildingStatusOut]


class BlockIn(Schema):
    compound_id: int
    name: str = ""
    building_ids: list[int]
    accept_cut_off: bool = False


class CutOffOut(Schema):
    target: str
    vehicles: list[str]


class AccessOut(Schema):
    checked: bool
    ok: bool
    cut_off: list[CutOffOut]
    closed_gates: list[str]
    proposed_sampling_site: str | None
    microzone_id: int | None = None


class BlockCutsOffProblem(Problem):
    """409: the block would cut buildings off (problem details with the access check's fields)."""

    checked: bool
    ok: bool
    cut_off: list[CutOffOut]
    closed_gates: list[str]
    proposed_sampling_site: str | None
    microzone_id: int | None = None


class RulesIn(Schema):
    rules: str


class OverrideIn(Schema):
    compound_id: int | None = None
    microzone_id: int | None = None
    status: str
    reason: str
    since: dt.date | None = None
    until: dt.date


def _writer(request: HttpRequest, community: Community) -> User:
    if not can_manage_community(request.user, community.pk):
        raise HttpError(403, "仅居委会可操作 / only the committee may do this")
    assert isinstance(request.user, User)
    return request.user


def _access(outcome: AccessOutcome, microzone_id: int | None = None) -> AccessOut:
    return AccessOut(
        checked=outcome.checked,
        ok=outcome.ok,
        cut_off=[CutOffOut(target=c.label, vehicles=c.vehicles) for c in outcome.cut_off],
        closed_gates=outcome.closed_gates,
        proposed_sampling_site=outcome.proposal.open_space.label if outcome.proposal else None,
        microzone_id=microzone_id,
    )


@router.get("/communities/{code}/status", response=StatusOut)
def status(request: HttpRequest, code: str, on: dt.date | None = None, rules: str | None = None) -> dict[str, Any]:
    community = community_visible_or_404(request.user, code)
    try:
        rule_set = rule_set_named(rules) if rules else None
    except UnknownRuleSet as exc:
        raise HttpError(422, str(exc)) from exc
    report = zone_report(community, on or timezone.localdate(), rule_set)
    return zone_report_json(report, case_buildings=visible_building_ids(request.user, community))


@router.post("/communities/{code}/rules", response={200: dict[str, str]})
def rules_set(request: HttpRequest, code: str, payload: RulesIn) -> dict[str, str]:
    community = community_visible_or_404(request.user, code)
    actor = _writer(request, community)
    try:
        services.zone_rules_set(community=community, rule_set=payload.rules, actor=actor)
    except services.ZoneError as exc:
        raise HttpError(422, str(exc)) from exc
    return {"rules": payload.rules}


def _compound(community: Community, compound_id: int) -> Compound:
    compound = Compound.objects.filter(community=community, pk=compound_id).first()
    if compound is None:
        raise Http404("compound not found")
    return compound


@router.post("/communities/{code}/blocks/check", response=AccessOut)
def block_check(request: HttpRequest, code: str, payload: BlockIn) -> AccessOut:
    community = community_visible_or_404(request.user, code)
    _writer(request, community)
    compound = _compound(community, payload.compound_id)
    try:
        outcome = access_check_block(compound, payload.building_ids)
    except ValueError as exc:
        raise HttpError(422, "所选楼栋不在平面图上 / the buildings are not on the plan") from exc
    return _access(outcome)


@router.post("/communities/{code}/blocks", response={201: AccessOut, 409: BlockCutsOffProblem})
def block_draw(request: HttpRequest, code: str, payload: BlockIn) -> Status[AccessOut] | HttpResponse:
    community = community_visible_or_404(request.user, code)
    actor = _writer(request, community)
    compound = _compound(community, payload.compound_id)
    try:
        saved = services.microzone_draw(
            compound=compound,
            name=payload.name,
            building_ids=payload.building_ids,
            drawn_on=timezone.localdate(),
            actor=actor,
            accept_cut_off=payload.accept_cut_off,
        )
    except services.BlockCutsOff as exc:
        return problem_response(
            409,
            zh=exc.zh,
            en=exc.en,
            type="urn:fangzhou:problem:conflict",
            **_access(exc.outcome).model_dump(),
        )
    except services.ZoneError as exc:
        raise HttpError(422, str(exc)) from exc
    return Status(201, _access(saved.outcome, saved.microzone.pk))


@router.post("/blocks/{block_id}/dissolve", response={200: dict[str, str]})
def block_dissolve(request: HttpRequest, block_id: int) -> dict[str, str]:
    mz = MicroZone.objects.filter(pk=block_id, community__in=communities_visible(request.user)).first()
    if mz is None:
        raise Http404("block not found")
    actor = _writer(request, mz.community)
    services.microzone_dissolve(microzone_id=mz.pk, on=timezone.localdate(), actor=actor)
    return {"dissolved_on": timezone.localdate().isoformat()}


@router.post("/communities/{code}/overrides", response={201: dict[str, int]})
def override_create(request: HttpRequest, code: str, payload: OverrideIn) -> Status[dict[str, int]]:
    community = community_visible_or_404(request.user, code)
    actor = _writer(request, community)
    compound = _compound(community, payload.compound_id) if payload.compound_id else None
    microzone = (
        MicroZone.objects.filter(community=community, pk=payload.microzone_id).first() if payload.microzone_id else None
    )
    if payload.microzone_id and microzone is None:
        raise Http404("block not found")
    try:
        override = services.zone_override_create(
            community=community,
            actor=actor,
            status=payload.status,
            reason=payload.reason,
            since=payload.since or timezone.localdate(),
            until=payload.until,
            compound=compound,
            microzone=microzone,
        )
    except services.ZoneError as exc:
        raise HttpError(422, str(exc)) from exc
    return Status(201, {"id": override.pk})
