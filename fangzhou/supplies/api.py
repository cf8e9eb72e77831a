"""Supplies endpoints: the same services and selectors as the pages, the same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.params import functions as params

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import acting_user, can_manage_community, can_mark_deliveries
from fangzhou.lib.pagination import paginated
from fangzhou.lib.sheets import UnreadableFile, read_upload
from fangzhou.registry import selectors as registry_selectors
from fangzhou.registry.models import Community, Household
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.supplies import selectors, services
from fangzhou.supplies.models import Delivery, Distribution

router = Router(tags=["supplies"])


def _distribution(request: HttpRequest, distribution_id: int) -> Distribution:
    distribution = selectors.distribution_get(request.user, distribution_id)
    if distribution is None:
        raise Http404("distribution not found")
    return distribution


def _manage(request: HttpRequest, community: Community) -> None:
    if not can_manage_community(request.user, community.pk):
        raise HttpError(403, "无权操作 / not allowed")


def _refused(exc: services.SuppliesError | UnreadableFile) -> HttpError:
    return HttpError(400, f"{exc.zh} / {exc.en}")


class DistributionIn(Schema):
    name: str
    kind: str
    on: dt.date
    package: dict[str, int] = {}
    scaling: str | None = None


class DistributionOut(Schema):
    id: int
    name: str
    kind: str
    scaling: str
    on: dt.date
    package: dict[str, int]


def _out(d: Distribution) -> DistributionOut:
    return DistributionOut(id=d.pk, name=d.name, kind=d.kind, scaling=d.scaling, on=d.on, package=d.package)


class BuildingProgressOut(Schema):
    id: int
    label: str
    compound: str
    total: int
    delivered: int
    left_at_door: int
    pending: int
    volunteer: str


class ProgressOut(Schema):
    distribution: DistributionOut
    total: int
    done: int
    pending: int
    all_delivered: bool
    items: dict[str, int]
    buildings: list[BuildingProgressOut]


class DoorOut(Schema):
    id: int
    room: str
    status: str
    items: dict[str, int]
    delivered_at: dt.datetime | None


class AllocationOut(Schema):
    households: int
    created: int
    updated: int
    unchanged: int


class OrderIn(Schema):
    building: str
    room: str
    items: dict[str, int]


class PurchaseRejectionOut(Schema):
    row: int
    column: str
    reason: str


class PurchaseImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    rows_read: int
    rejected: list[PurchaseRejectionOut]


class DeliveryAssignIn(Schema):
    building_id: int
    volunteer_id: int | None = None


class SweepOut(Schema):
    orders: int
    created: int
    order_ids: list[int]


class RoutePlanIn(Schema):
    building_ids: list[int]
    volunteer_ids: list[int]
    capacity: int = 20
    start: str = ""
    distribution_id: int | None = None
    name: str = ""


class LegOut(Schema):
    index: int
    volunteer_id: int | None
    stops: list[str]
    distance_m: int
    duration_s: int
    load: int
    polyline: list[list[float]]


class RoutePlanOut(Schema):
    id: int
    name: str
    status: str
    total_distance_m: int
    solve_time_s: float
    legs: list[LegOut]
    unserved: list[str]


@router.get("/c/{code}/distributions", response=list[DistributionOut])
@paginated
def distributions(request: HttpRequest, code: str) -> list[DistributionOut]:
    community = community_visible_or_404(request.user, code)
    return [_out(d) for d in selectors.distributions_visible(request.user).filter(community=community)]


@router.post("/c/{code}/distributions", response=DistributionOut)
def distribution_create(request: HttpRequest, code: str, payload: DistributionIn) -> DistributionOut:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    try:
        d = services.distribution_create(
            community=community,
            name=payload.name,
            kind=payload.kind,
            on=payload.on,
            package=payload.package,
            scaling=payload.scaling,
            actor=acting_user(request),
        )
    except services.SuppliesError as exc:
        raise _refused(exc) from exc
    return _out(d)


@router.get("/d/{distribution_id}", response=ProgressOut)
def progress(request: HttpRequest, distribution_id: int) -> ProgressOut:
    d = _distribution(request, distribution_id)
    p = selectors.distribution_progress(request.user, d)
    return ProgressOut(
        distribution=_out(d),
        total=p.total,
        done=p.done,
        pending=p.pending,
        all_delivered=p.all_delivered,
        items=p.items,
        buildings=[
            BuildingProgressOut(**{k: getattr(b, k) for k in BuildingProgressOut.model_fields}) for b in p.buildings
        ],
    )


@router.post("/d/{distribution_id}/allocate", response=AllocationOut)
def allocate(request: HttpRequest, distribution_id: int) -> AllocationOut:
    d = _distribution(request, distribution_id)
    _manage(request, d.community)
    try:
        report = services.distribution_allocate(distribution=d, actor=acting_user(request))
    except services.SuppliesError as exc:
        raise _refused(exc) from exc
    return AllocationOut(**vars(report))


@router.post("/d/{distribution_id}/orders", response=DoorOut)
def order_set(request: HttpRequest, distribution_id: int, payload: OrderIn) -> DoorOut:
    d = _distribution(request, distribution_id)
    _manage(request, d.community)
    household = (
        Household.objects.filter(
            building__community=d.community,
            building__number=services._norm_building(payload.building),
            room=services._norm_room(payload.room),
        )
        .select_related("building")
        .first()
    )
    if household is None:
        raise HttpError(400, "找不到这户 / no such door")
    try:
        delivery = services.group_order_set(
            distribution=d, household=household, items=payload.items, actor=acting_user(request)
        )
    except services.SuppliesError as exc:
        raise _refused(exc) from exc
    return _door(selectors.delivery_get(request.user, delivery.pk) or delivery)


@router.post("/d/{distribution_id}/import", response=PurchaseImportOut)
def order_import(
    request: HttpRequest, distribution_id: int, file: UploadedFile = params.File(...)
) -> PurchaseImportOut:
    d = _distribution(request, distribution_id)
    _manage(request, d.community)
    try:
        report = services.group_purchase_import(
            distribution=d, actor=acting_user(request), data=read_upload(file), filename=file.name or "orders"
        )
    except (UnreadableFile, services.SuppliesError) as exc:
        raise _refused(exc) from exc
    return PurchaseImportOut(**{k: v for k, v in report.as_dict().items() if k != "import_id"})


@router.post("/d/{distribution_id}/assign")
def assign(request: HttpRequest, distribution_id: int, payload: DeliveryAssignIn) -> dict[str, bool]:
    d = _distribution(request, distribution_id)
    _manage(request, d.community)
    building = (
        registry_selectors.buildings_visible(request.user).filter(community=d.community, pk=payload.building_id).first()
    )
    if building is None:
        raise Http404("building not found")
    volunteer = User.objects.filter(pk=payload.volunteer_id).first() if payload.volunteer_id else None
    try:
        services.delivery_assign(distribution=d, building=building, volunteer=volunteer, actor=acting_user(request))
    except services.SuppliesError as exc:
        raise _refused(exc) from exc
    return {"ok": True}


@router.post("/d/{distribution_id}/sweep", response=SweepOut)
def sweep(request: HttpRequest, distribution_id: int) -> SweepOut:
    d = _distribution(request, distribution_id)
    _manage(request, d.community)
    report = services.deliveries_sweep(distribution=d, actor=acting_user(request))
    return SweepOut(**vars(report))


def _door(delivery: object) -> DoorOut:
    assert isinstance(delivery, Delivery)
    return DoorOut(
        id=delivery.pk,
        room=delivery.household.room,
        status=delivery.status,
        items={line.item: line.quantity for line in delivery.lines.all()},
        delivered_at=delivery.delivered_at,
    )


@router.get("/d/{distribution_id}/b/{building_id}", response=list[DoorOut])
@paginated
def doors(request: HttpRequest, distribution_id: int, building_id: int) -> list[DoorOut]:
    d = _distribution(request, distribution_id)
    building = selectors.building_get(request.user, d, building_id)
    if building is None:
        raise Http404("building not found")
    return [_door(x) for x in selectors.building_deliveries(d, building)]


@router.post("/delivery/{delivery_id}/mark", response=DoorOut)
def mark(request: HttpRequest, delivery_id: int, photo: UploadedFile | None = params.File(None)) -> DoorOut:
    delivery = selectors.delivery_get(request.user, delivery_id)
    if delivery is None:
        raise Http404("delivery not found")
    if not can_mark_deliveries(request.user):
        raise HttpError(403, "无权操作 / not allowed")
    delivery = services.delivery_mark(delivery_id=delivery.pk, actor=acting_user(request), photo=photo)
    return _door(delivery)


def _plan_out(request: HttpRequest, plan_id: int) -> RoutePlanOut:
    plan = selectors.route_plan_get(request.user, plan_id)
    if plan is None:
        raise Http404("plan not found")
    legs = selectors.route_legs(request.user, plan)
    return RoutePlanOut(
        id=plan.pk,
        name=plan.name,
        status=plan.status,
        total_distance_m=plan.total_distance_m,
        solve_time_s=plan.solve_time_s,
        legs=[
            LegOut(
                index=leg.index,
                volunteer_id=leg.volunteer_id,
                stops=[s["label"] for s in leg.stops],
                distance_m=leg.distance_m,
                duration_s=leg.duration_s,
                load=leg.load,
                polyline=leg.polyline,
            )
            for leg in legs
        ],
        unserved=[u["label"] for u in plan.result.get("unserved", [])] if isinstance(plan.result, dict) else [],
    )


@router.post("/c/{code}/routes", response=RoutePlanOut)
def route_plan_create(request: HttpRequest, code: str, payload: RoutePlanIn) -> RoutePlanOut:
    community = community_visible_or_404(request.user, code)
    _manage(request, community)
    distribution = None
    if payload.distribution_id is not None:
        distribution = _distribution(request, payload.distribution_id)
    try:
        plan = services.route_plan_request(
            community=community,
            actor=acting_user(request),
            building_ids=payload.building_ids,
            volunteer_ids=payload.volunteer_ids,
            capacity=payload.capacity,
            start=payload.start,
            distribution=distribution,
            name=payload.name,
        )
    except services.SuppliesError as exc:
        raise _refused(exc) from exc
    return _plan_out(request, plan.pk)


@router.get("/routes/{plan_id}", response=RoutePlanOut)
def route_plan(request: HttpRequest, plan_id: int) -> RoutePlanOut:
    return _plan_out(request, plan_id)
