"""Registry endpoints. Same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.params import functions as params

from fangzhou.accounts.permissions import acting_user, can_export, can_manage_community, unmask_fields
from fangzhou.lib.pagination import paginated
from fangzhou.lib.sheets import read_upload
from fangzhou.registry import selectors
from fangzhou.registry.models import Resident
from fangzhou.registry.roster.normalize import mask_id, mask_phone
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.registry.services import resident_unmask, roster_export, roster_import

router = Router(tags=["registry"])


class CommunityOut(Schema):
    code: str
    name: str
    subdistrict: str


class PlaceCountsOut(Schema):
    name: str
    buildings: int
    households: int
    residents: int


class BuildingOut(Schema):
    id: int
    label: str
    compound: str
    grid: str
    x: float | None
    y: float | None
    households: int
    residents: int


class OverviewOut(Schema):
    community: CommunityOut
    households: int
    residents: int
    special: int
    compounds: list[PlaceCountsOut]
    grids: list[PlaceCountsOut]
    buildings: list[BuildingOut]


class ResidentOut(Schema):
    id: int
    name: str
    compound: str
    building: str
    room: str
    id_type: str
    id_number_masked: str
    phone_masked: str
    sex: str
    birth_date: dt.date | None
    resident_type: str
    special: list[str]


class UnmaskOut(Schema):
    """The revealed values; a field the user may not reveal stays masked."""

    id: int
    id_number: str
    phone: str


class RosterRejectionOut(Schema):
    row: int
    column: str
    reason: str
    reason_zh: str
    reason_en: str


class RosterImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    rejected: list[RosterRejectionOut]
    rows_read: int
    dry_run: bool
    import_id: int | None


def resident_out(resident: object) -> ResidentOut:
    assert isinstance(resident, Resident)
    building = resident.household.building
    return ResidentOut(
        id=resident.pk,
        name=resident.name,
        compound=building.compound.name,
        building=building.label,
        room=resident.household.room,
        id_type=resident.id_type if resident.id_number else "",
        id_number_masked=mask_id(resident.id_number),
        phone_masked=mask_phone(resident.phone),
        sex=resident.sex,
        birth_date=resident.birth_date,
        resident_type=resident.resident_type,
        special=resident.special_codes,
    )


@router.get("/communities", response=list[CommunityOut])
@paginated
def community_list(request: HttpRequest) -> list[CommunityOut]:
    return [
        CommunityOut(code=c.code, name=c.name, subdistrict=c.subdistrict.name)
        for c in selectors.communities_visible(request.user)
    ]


@router.get("/communities/{code}/overview", response=OverviewOut)
def community_overview(request: HttpRequest, code: str) -> OverviewOut:
    community = community_visible_or_404(request.user, code)
    data = selectors.community_overview(request.user, community)
    return OverviewOut(
        community=CommunityOut(code=community.code, name=community.name, subdistrict=community.subdistrict.name),
        households=data.households,
        residents=data.residents,
        special=data.special,
        compounds=[PlaceCountsOut(**c) for c in data.compounds],  # type: ignore[arg-type]
        grids=[PlaceCountsOut(**g) for g in data.grids],  # type: ignore[arg-type]
        buildings=[
            BuildingOut(
                id=b.id,
                label=b.label,
                compound=b.compound,
                grid=b.grid,
                x=b.x,
                y=b.y,
                households=b.households,
                residents=b.residents,
            )
            for b in data.buildings
        ],
    )


@router.get("/buildings/{building_id}/residents", response=list[ResidentOut])
@paginated
def building_residents(request: HttpRequest, building_id: int) -> list[ResidentOut]:
    building = selectors.building_get(request.user, building_id)
    if building is None:
        raise Http404("building not found")
    out = []
    for household in selectors.building_households(building):
        for resident in household.residents.all():
            resident.household = household
            household.building = building
            out.append(resident_out(resident))
    return out


@router.get("/residents", response=list[ResidentOut])
@paginated
def resident_search(request: HttpRequest, q: str, community: str | None = None) -> list[ResidentOut]:
    scope = community_visible_or_404(request.user, community) if community else None
    return [resident_out(r) for r in selectors.resident_search(request.user, q, community=scope)]


@router.get("/residents/{resident_id}", response=ResidentOut)
def resident_detail(request: HttpRequest, resident_id: int) -> ResidentOut:
    resident = selectors.resident_get(request.user, resident_id)
    if resident is None:
        raise Http404("resident not found")
    return resident_out(resident)


@router.post("/residents/{resident_id}/unmask", response=UnmaskOut)
def resident_unmask_endpoint(request: HttpRequest, resident_id: int) -> UnmaskOut:
    resident = selectors.resident_get(request.user, resident_id)
    if resident is None:
        raise Http404("resident not found")
    if not unmask_fields(request.user, resident.community_id):
        raise HttpError(403, "无权查看完整信息 / you may not reveal this resident's details")
    values = resident_unmask(actor=acting_user(request), resident=resident)
    return UnmaskOut(
        id=resident.pk,
        id_number=values.get("id_number", mask_id(resident.id_number)),
        phone=values.get("phone", mask_phone(resident.phone)),
    )


@router.post("/communities/{code}/roster", response=RosterImportOut)
def roster_upload(
    request: HttpRequest,
    code: str,
    file: UploadedFile = params.File(...),
    dry_run: bool = params.Form(False),
) -> dict[str, object]:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        raise HttpError(403, "无权导入本社区花名册 / you may not import this community's roster")
    data = read_upload(file)
    report = roster_import(
        community=community, actor=acting_user(request), data=data, filename=file.name or "roster", dry_run=dry_run
    )
    return report.as_dict()


@router.get("/communities/{code}/roster.xlsx")
def roster_download(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_export(request.user, community.pk):
        raise HttpError(403, "无权导出本社区花名册 / you may not export this community's roster")
    content = roster_export(community=community, actor=acting_user(request))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="roster-{community.code}.xlsx"'
    return response
