"""Writes for supplies: distributions, allocation, group-purchase orders and imports, marking doors
delivered, the end-of-day sweep into work orders, and volunteer route plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.services import audit_record
from fangzhou.lib.errors import Refused
from fangzhou.lib.jobs import job_enqueue
from fangzhou.registry.models import Building, Community, Household
from fangzhou.registry.roster.reader import Sheet, UnreadableFile, data_rows, find_header, read_table
from fangzhou.supplies import routing
from fangzhou.supplies.models import (
    Delivery,
    DeliveryAssignment,
    DeliveryLine,
    DeliveryStatus,
    Distribution,
    DistributionKind,
    GroupPurchaseImport,
    PlanStatus,
    RouteLeg,
    RoutePlan,
    Scaling,
)
from fangzhou.supplies.sites import community_site_graph
from fangzhou.zones.selectors import building_is_sealed, sealed_building_ids

MAX_ITEMS = 30
MAX_QUANTITY = 10_000


class SuppliesError(Refused):
    """Refused by the supplies rules (reason in Chinese and English)."""


# --------------------------------------------------------------------------------------------
# Settings (declared in settings.py)


def package_scaling_default() -> str:
    value: str = settings.FANGZHOU_PACKAGE_SCALING
    return value


def route_time_limit_s() -> float:
    """Wall-clock time the route solver may take (seconds)."""
    return settings.FANGZHOU_ROUTE_TIME_LIMIT_S


def trip_time_limit_s() -> int:
    """Longest trip a volunteer should walk with a trolley (seconds, including time at doors)."""
    return settings.FANGZHOU_TRIP_TIME_LIMIT_S


def can_manage(user: Any, community: Community) -> bool:
    """Committee roles create distributions, import orders, assign lists and plan routes."""
    if not isinstance(user, User) or not user.is_active:
        return False
    if user.role == Role.ADMIN or user.is_superuser:
        return True
    return user.role in {Role.SECRETARY, Role.SOCIAL_WORKER} and user.community_id == community.pk


def _audit(actor: User | None, action: str, target: str, target_id: int, community: Community, **detail: Any) -> None:
    audit_record(
        actor=actor, action=action, target_type=target, target_id=str(target_id), community=community, detail=detail
    )


def _clean_items(items: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for raw_name, raw_qty in items.items():
        name = str(raw_name).strip()[:64]
        if not name:
            continue
        try:
            quantity = int(raw_qty)
        except (TypeError, ValueError) as exc:
            raise SuppliesError(f"「{name}」的数量不是整数", f"the quantity of {name!r} is not a whole number") from exc
        if quantity < 0 or quantity > MAX_QUANTITY:
            raise SuppliesError(f"「{name}」的数量超出范围", f"the quantity of {name!r} is out of range")
        out[name] = quantity
    if len(out) > MAX_ITEMS:
        raise SuppliesError("物品种类过多", "too many kinds of item")
    return out


# --------------------------------------------------------------------------------------------
# Distributions


@transaction.atomic
def distribution_create(
    *,
    community: Community,
    name: str,
    kind: str,
    on: dt.date,
    actor: User | None,
    package: Mapping[str, Any] | None = None,
    scaling: str | None = None,
) -> Distribution:
    """Create a distribution; a second call with the same name returns the first one."""
    name = name.strip()[:100]
    if not name:
        raise SuppliesError("请填写名称", "a name is required")
    if kind not in DistributionKind.values:
        raise SuppliesError(f"未知的类型「{kind}」", f"unknown kind {kind!r}")
    scaling = scaling or package_scaling_default()
    if scaling not in Scaling.values:
        raise SuppliesError(f"未知的分配方式「{scaling}」", f"unknown scaling {scaling!r}")
    items = _clean_items(package or {})
    if kind == DistributionKind.GOVERNMENT and not any(items.values()):
        raise SuppliesError("政府物资包至少要有一种物品", "a government package needs at least one item")
    existing = Distribution.objects.filter(community=community, name=name).first()
    if existing is not None:
        return existing
    distribution = Distribution.objects.create(
        community=community, name=name, kind=kind, on=on, package=items, scaling=scaling, created_by=actor
    )
    _audit(actor, "distribution.create", "distribution", distribution.pk, community, kind=kind, scaling=scaling)
    return distribution


def _set_lines(delivery: Delivery, items: Mapping[str, int]) -> str:
    """Make the delivery's lines equal ``items``; 'created', 'updated' or 'unchanged'."""
    current = {line.item: line for line in delivery.lines.all()}
    wanted = {k: v for k, v in items.items() if v > 0}
    if {k: line.quantity for k, line in current.items()} == wanted:
        return "unchanged"
    for item, line in current.items():
        if item not in wanted:
            line.delete()
        elif line.quantity != wanted[item]:
            line.quantity = wanted[item]
            line.save(update_fields=["quantity"])
    DeliveryLine.objects.bulk_create(
        [DeliveryLine(delivery=delivery, item=k, quantity=v) for k, v in wanted.items() if k not in current]
    )
    return "created" if not current else "updated"


@dataclass
class AllocationReport:
    households: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@transaction.atomic
def distribution_allocate(*, distribution: Distribution, actor: User | None) -> AllocationReport:
    """Give every lived-in household of the community its government package. Idempotent."""
    if distribution.kind != DistributionKind.GOVERNMENT:
        raise SuppliesError("团购订单按户录入或导入，不能按户分配", "group purchases are entered per household")
    Distribution.objects.select_for_update().filter(pk=distribution.pk).first()
    households = (
        Household.objects.filter(building__community=distribution.community)
        .annotate(people=Count("residents"))
        .filter(people__gt=0)
        .select_related("building")
    )
    existing = {d.household_id: d for d in Delivery.objects.filter(distribution=distribution).prefetch_related("lines")}
    report = AllocationReport()
    new: list[Delivery] = []
    for household in households:
        if household.pk not in existing:
            new.append(Delivery(distribution=distribution, household=household, building=household.building))
    Delivery.objects.bulk_create(new, batch_size=500)
    if new:
        existing = {
            d.household_id: d for d in Delivery.objects.filter(distribution=distribution).prefetch_related("lines")
        }
    package = {k: int(v) for k, v in distribution.package.items()}
    fresh_lines: list[DeliveryLine] = []
    for household in households:
        report.households += 1
        factor = household.people if distribution.scaling == Scaling.BY_SIZE else 1
        items = {k: v * factor for k, v in package.items() if v > 0}
        delivery = existing[household.pk]
        if not delivery.lines.all():
            fresh_lines += [DeliveryLine(delivery=delivery, item=k, quantity=v) for k, v in items.items()]
            report.created += 1
        else:
            outcome = _set_lines(delivery, items)
            setattr(report, outcome, getattr(report, outcome) + 1)
    DeliveryLine.objects.bulk_create(fresh_lines, batch_size=1000)
    _audit(
        actor,
        "distribution.allocate",
        "distribution",
        distribution.pk,
        distribution.community,
        created=report.created,
        updated=report.updated,
    )
    return report


def _delivery_for(distribution: Distribution, household: Household) -> Delivery:
    delivery, _ = Delivery.objects.get_or_create(
        distribution=distribution, household=household, defaults={"building": household.building}
    )
    return delivery


@transaction.atomic
def group_order_set(
    *, distribution: Distribution, household: Household, items: Mapping[str, Any], actor: User | None
) -> Delivery:
    """Enter (or correct) one household's group-purchase order; the quantities replace the old ones."""
    if distribution.kind != DistributionKind.GROUP_PURCHASE:
        raise SuppliesError("只有团购可以按户录入订单", "only a group purchase takes orders per household")
    if household.building.community_id != distribution.community_id:
        raise SuppliesError("这户不在本社区", "this household is not in the community")
    clean = _clean_items(items)
    delivery = _delivery_for(distribution, household)
    outcome = _set_lines(delivery, clean)
    if outcome != "unchanged":
        _audit(actor, "group_order.set", "delivery", delivery.pk, distribution.community, items=clean, outcome=outcome)
    return delivery


IMPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "building": ("楼号", "楼栋", "楼", "building", "bldg"),
    "room": ("室号", "房号", "门牌", "room", "door"),
    "item": ("商品", "物品", "品名", "商品名称", "item", "product"),
    "quantity": ("数量", "份数", "quantity", "qty"),
    "compound": ("小区", "compound"),
}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows_read: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    import_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rows_read": self.rows_read,
            "rejected": self.rejected,
            "import_id": self.import_id,
        }


def _reject(report: ImportReport, row: int, column: str, zh: str, en: str) -> None:
    report.rejected.append({"row": row, "column": column, "reason": f"{zh} / {en}", "reason_zh": zh, "reason_en": en})


def _norm_building(value: Any) -> str:
    text = str(value or "").strip().upper()
    for suffix in ("号楼", "号", "栋", "幢", "楼"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text.strip()


def _norm_room(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value or "").strip()
    return text[:-1] if text.endswith("室") else text


def group_purchase_import(
    *,
    distribution: Distribution,
    actor: User | None,
    data: bytes | None = None,
    filename: str = "orders.xlsx",
    sheet: Sheet | None = None,
) -> ImportReport:
    """Read the organiser's spreadsheet (building, room, item, quantity): bad rows are reported one by
    one, good rows are written in one transaction, and importing the same file again changes nothing.
    Rows for the same door and item are added up within one file."""
    if distribution.kind != DistributionKind.GROUP_PURCHASE:
        raise SuppliesError("只有团购可以导入订单", "only a group purchase takes an order spreadsheet")
    if sheet is None:
        if data is None:
            raise UnreadableFile("没有文件", "no file")
        sheet = read_table(data, filename)
    header = find_header(sheet, IMPORT_ALIASES, required=("building", "room", "item", "quantity"))
    report = ImportReport()
    community = distribution.community
    buildings: dict[str, list[Building]] = {}
    for b in Building.objects.filter(community=community).select_related("compound"):
        buildings.setdefault(b.number.upper(), []).append(b)
    households = {(h.building_id, h.room): h for h in Household.objects.filter(building__community=community)}
    wanted: dict[int, dict[str, int]] = {}
    household_of: dict[int, Household] = {}
    for number, row in data_rows(sheet, header):
        report.rows_read += 1
        label = _norm_building(row.get("building"))
        candidates = buildings.get(label, [])
        compound = str(row.get("compound") or "").strip()
        if compound:
            candidates = [b for b in candidates if b.compound.name == compound]
        if not label:
            _reject(report, number, "楼号", "缺少楼号", "building missing")
            continue
        if len(candidates) != 1:
            if candidates:
                _reject(report, number, "楼号", f"{label}号楼有多个小区，请填小区", f"building {label} is ambiguous")
            else:
                _reject(report, number, "楼号", f"本社区没有{label}号楼", f"no building {label} in this community")
            continue
        room = _norm_room(row.get("room"))
        household = households.get((candidates[0].pk, room))
        if household is None:
            _reject(
                report, number, "室号", f"{label}号楼没有{room or '（空）'}室", f"no room {room!r} in building {label}"
            )
            continue
        item = str(row.get("item") or "").strip()[:64]
        if not item:
            _reject(report, number, "商品", "缺少商品名称", "item missing")
            continue
        raw = row.get("quantity")
        try:
            quantity = int(float(str(raw).strip()))
            if quantity != float(str(raw).strip()):
                raise ValueError
        except (TypeError, ValueError):
            _reject(report, number, "数量", f"数量「{raw}」不是整数", f"quantity {raw!r} is not a whole number")
            continue
        if quantity <= 0 or quantity > MAX_QUANTITY:
            _reject(report, number, "数量", f"数量「{quantity}」超出范围", f"quantity {quantity} is out of range")
            continue
        bucket = wanted.setdefault(household.pk, {})
        bucket[item] = bucket.get(item, 0) + quantity
        household_of[household.pk] = household
    with transaction.atomic():
        Distribution.objects.select_for_update().filter(pk=distribution.pk).first()
        for household_id, items in wanted.items():
            delivery = _delivery_for(distribution, household_of[household_id])
            current = {line.item: line.quantity for line in delivery.lines.all()}
            merged = {**current, **items}
            outcome = _set_lines(delivery, merged)
            setattr(report, outcome, getattr(report, outcome) + 1)
        record = GroupPurchaseImport.objects.create(
            distribution=distribution,
            actor=actor,
            filename=filename[:255],
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
        )
        report.import_id = record.pk
        _audit(
            actor,
            "group_purchase.import",
            "distribution",
            distribution.pk,
            community,
            created=report.created,
            updated=report.updated,
            rejected=len(report.rejected),
        )
    return report


# --------------------------------------------------------------------------------------------
# Delivering


@transaction.atomic
def delivery_assign(
    *, distribution: Distribution, building: Building, volunteer: User | None, actor: User | None
) -> DeliveryAssignment | None:
    """Give one building's list to a volunteer (or take it back with ``volunteer=None``)."""
    if building.community_id != distribution.community_id:
        raise SuppliesError("这栋楼不在本社区", "this building is not in the community")
    if volunteer is not None and volunteer.role != Role.VOLUNTEER:
        raise SuppliesError("只能分配给志愿者", "lists go to volunteers")
    if volunteer is not None and volunteer.community_id not in {None, distribution.community_id}:
        raise SuppliesError("这位志愿者不属于本社区", "this volunteer belongs to another community")
    current = DeliveryAssignment.objects.filter(distribution=distribution, building=building).first()
    if volunteer is None:
        if current is not None:
            current.delete()
            _audit(actor, "delivery.unassign", "building", building.pk, distribution.community)
        return None
    if current is not None and current.volunteer_id == volunteer.pk:
        return current
    assignment, _ = DeliveryAssignment.objects.update_or_create(
        distribution=distribution, building=building, defaults={"volunteer": volunteer, "assigned_by": actor}
    )
    _audit(actor, "delivery.assign", "building", building.pk, distribution.community, volunteer=volunteer.pk)
    return assignment


@transaction.atomic
def delivery_mark(
    *,
    delivery_id: int,
    actor: User,
    photo: UploadedFile[bytes] | None = None,
    note: str = "",
    today: dt.date | None = None,
    sealed: bool | None = None,
) -> Delivery:
    """Mark one door delivered. At a sealed building it is contactless: "left at the door", with an
    optional photo. Idempotent: a second tap returns the delivery as it is."""
    delivery = Delivery.objects.select_for_update().select_related("building", "distribution").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING:
        return delivery
    if sealed is None:  # callers marking many doors may look the zone status up once
        sealed = building_is_sealed(delivery.building, today or timezone.localdate())
    delivery.status = DeliveryStatus.LEFT_AT_DOOR if sealed else DeliveryStatus.DELIVERED
    delivery.delivered_at = timezone.now()
    delivery.delivered_by = actor
    delivery.note = note[:200]
    fields = ["status", "delivered_at", "delivered_by", "note"]
    if photo is not None:
        delivery.photo.save(photo.name or "door.jpg", photo, save=False)
        fields.append("photo")
    delivery.save(update_fields=fields)
    _audit(
        actor,
        "delivery.mark",
        "delivery",
        delivery.pk,
        delivery.distribution.community,
        status=delivery.status,
        photo=photo is not None,
    )
    return delivery


@transaction.atomic
def delivery_undo(*, delivery_id: int, actor: User) -> Delivery:
    """Put a door back to 'not yet delivered' (a wrong tap)."""
    delivery = Delivery.objects.select_for_update().select_related("distribution__community").get(pk=delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        return delivery
    before = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.delivered_at = None
    delivery.delivered_by = None
    delivery.save(update_fields=["status", "delivered_at", "delivered_by"])
    _audit(actor, "delivery.undo", "delivery", delivery.pk, delivery.distribution.community, before=before)
    return delivery


@dataclass
class SweepReport:
    orders: int = 0
    created: int = 0
    order_ids: list[int] = field(default_factory=list)


def deliveries_sweep(*, distribution: Distribution, actor: User | None, on: dt.date | None = None) -> SweepReport:
    """End of the day: every door still waiting becomes a supply-delivery work order (one per door,
    idempotent by ``source_key``)."""
    from fangzhou.workorders.models import Priority
    from fangzhou.workorders.services import work_order_create

    on = on or timezone.localdate()
    report = SweepReport()
    pending = (
        Delivery.objects.filter(distribution=distribution, status=DeliveryStatus.PENDING)
        .select_related("household__building__compound", "building")
        .prefetch_related("lines")
    )
    sealed_ids = sealed_building_ids(distribution.community, on)  # once, not once per door
    with transaction.atomic():
        for delivery in pending:
            key = f"supply:{distribution.pk}:{delivery.household_id}"
            items = "、".join(f"{line.item}×{line.quantity}" for line in delivery.lines.all())
            sealed = delivery.building_id in sealed_ids
            household = delivery.household
            detail = f"{distribution.name}: {household.building.label} {household.room}室 — {items}"
            if sealed:
                detail += "\n封控楼栋：无接触配送，放在门口 / sealed building: contactless, leave at the door"
            from fangzhou.workorders.models import WorkOrder

            existed = WorkOrder.objects.filter(source_key=key).exists()
            order = work_order_create(
                community=distribution.community,
                kind="supply_delivery",
                title=f"补送物资 {household.building.label} {household.room}室 / deliver supplies",
                actor=actor,
                detail=detail,
                priority=Priority.URGENT,
                household=household,
                due_at=timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time(12, 0))),
                source_key=key,
            )
            report.orders += 1
            report.created += 0 if existed else 1
            report.order_ids.append(order.pk)
        _audit(actor, "deliveries.sweep", "distribution", distribution.pk, distribution.community, **vars(report))
    return report


@transaction.atomic
def distribution_close(*, distribution: Distribution, actor: User | None) -> Distribution:
    if distribution.closed_at is None:
        distribution.closed_at = timezone.now()
        distribution.save(update_fields=["closed_at"])
        _audit(actor, "distribution.close", "distribution", distribution.pk, distribution.community)
    return distribution


# --------------------------------------------------------------------------------------------
# Routes


STAIRS_S_PER_FLOOR = 20
DOOR_S = 30


def _door_stops(
    households: Sequence[Household], entrances: Mapping[int, str], nodes: Mapping[str, tuple[float, float]]
) -> list[routing.Stop]:
    stops = []
    for h in households:
        node = entrances.get(h.building_id)
        if node is None:
            continue
        x, y = nodes[node]
        floor = _floor_of(h.room)
        stops.append(
            routing.Stop(
                key=f"h{h.pk}", x=x, y=y, demand=1, service_s=DOOR_S + STAIRS_S_PER_FLOOR * max(floor - 1, 0), node=node
            )
        )
    return stops


def _floor_of(room: str) -> int:
    digits = "".join(ch for ch in room if ch.isdigit())
    if len(digits) >= 3:
        return max(int(digits[:-2]), 1)
    return 1


@transaction.atomic
def route_plan_request(
    *,
    community: Community,
    actor: User | None,
    building_ids: Sequence[int],
    volunteer_ids: Sequence[int],
    capacity: int,
    start: str = "",
    distribution: Distribution | None = None,
    name: str = "",
    purpose: str = "delivery",
    pending_only: bool = True,
    time_limit_s: float | None = None,
) -> RoutePlan:
    """Ask for volunteer routes over the doors of some buildings; the plan is solved in the background
    (``fangzhou.lib.jobs``) and drawn when done."""
    buildings = list(
        Building.objects.filter(community=community, pk__in=list(building_ids)).values_list("pk", flat=True)
    )
    if not buildings:
        raise SuppliesError("请至少选择一栋楼", "choose at least one building")
    volunteers = list(
        User.objects.filter(pk__in=list(volunteer_ids), role=Role.VOLUNTEER, community=community).values_list(
            "pk", flat=True
        )
    )
    if not volunteers:
        raise SuppliesError("请至少选择一位在岗志愿者", "choose at least one volunteer on shift")
    if capacity < 1 or capacity > 500:
        raise SuppliesError("载量应在 1 到 500 之间", "capacity must be between 1 and 500")
    plan = RoutePlan.objects.create(
        community=community,
        distribution=distribution,
        name=(name or f"{timezone.localtime():%m-%d %H:%M}")[:100],
        purpose=purpose,
        params={
            "building_ids": buildings,
            "volunteer_ids": volunteers,
            "capacity": capacity,
            "start": start,
            "pending_only": pending_only and distribution is not None,
            "time_limit_s": time_limit_s if time_limit_s is not None else route_time_limit_s(),
            "trips_per_volunteer": 3,
        },
        created_by=actor,
    )
    _audit(actor, "route_plan.request", "route_plan", plan.pk, community, buildings=len(buildings))
    job_enqueue("fangzhou.supplies.tasks.route_plan_run", plan_id=plan.pk)
    return plan


def route_plan_run(*, plan_id: int) -> RoutePlan:
    """Solve a queued plan (safe to run twice: a plan already planned is returned as it is)."""
    plan = RoutePlan.objects.select_related("community", "distribution").get(pk=plan_id)
    if plan.status == PlanStatus.DONE:
        return plan
    params = plan.params
    try:
        site = community_site_graph(plan.community)
        households_qs = Household.objects.filter(building_id__in=params["building_ids"]).select_related("building")
        if plan.distribution_id is not None:
            deliveries = Delivery.objects.filter(distribution_id=plan.distribution_id)
            if params.get("pending_only"):
                deliveries = deliveries.filter(status=DeliveryStatus.PENDING)
            households_qs = households_qs.filter(pk__in=deliveries.values("household_id"))
        else:
            households_qs = households_qs.filter(residents__isnull=False).distinct()
        households = list(households_qs.order_by("building__sort_key", "building__number", "room"))
        start = params.get("start") or next(iter(site.gates))
        if start not in site.gates:
            start = next(iter(site.gates))
        gate_label, gate_node = site.gates[start]
        gx, gy = site.graph.nodes[gate_node]
        problem = routing.RoutingProblem(
            depot=routing.Stop(key="__start__", x=gx, y=gy, node=gate_node),
            stops=_door_stops(households, site.entrances, site.graph.nodes),
            vehicles=len(params["volunteer_ids"]) * int(params.get("trips_per_volunteer", 3)),
            capacity=int(params["capacity"]),
            max_duration_s=trip_time_limit_s(),
            graph=site.graph,
        )
        solution = routing.solve(problem, time_limit_s=float(params["time_limit_s"]))
    except (ValueError, KeyError) as exc:
        RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.FAILED, error=str(exc)[:300])
        plan.refresh_from_db()
        return plan
    labels = {f"h{h.pk}": (f"{h.building.label} {h.room}室", h.building_id) for h in households}
    volunteers = list(params["volunteer_ids"])
    # Trips go round-robin to the volunteers, shortest-first, so each walks a similar distance.
    ordered = sorted(solution.routes, key=lambda r: -r.duration_s)
    totals = dict.fromkeys(volunteers, 0)
    legs: list[RouteLeg] = []
    for index, route in enumerate(ordered):
        volunteer = min(volunteers, key=lambda v: (totals[v], volunteers.index(v)))
        totals[volunteer] += route.duration_s
        legs.append(
            RouteLeg(
                plan=plan,
                index=index,
                volunteer_id=volunteer,
                stops=[{"key": k, "label": labels[k][0], "building_id": labels[k][1]} for k in route.stop_keys],
                polyline=[[round(x, 1), round(y, 1)] for x, y in routing.route_polyline(problem, route)],
                distance_m=route.distance_m,
                duration_s=route.duration_s,
                load=route.load,
            )
        )
    with transaction.atomic():
        locked = RoutePlan.objects.select_for_update().get(pk=plan.pk)
        if locked.status == PlanStatus.DONE:
            return locked
        RouteLeg.objects.filter(plan=locked).delete()
        RouteLeg.objects.bulk_create(legs)
        locked.status = PlanStatus.DONE
        locked.total_distance_m = solution.total_distance_m
        locked.solve_time_s = round(solution.solve_time_s, 3)
        locked.result = {
            "start": {"key": start, "label": gate_label, "x": gx, "y": gy},
            "unserved": [
                {"key": k, "label": labels.get(k, (k, 0))[0], "reason": solution.unserved_reasons.get(k, "")}
                for k in solution.unserved
            ],
            "solver": solution.solver,
            "graph": site.source,
            "doors": len(problem.stops),
        }
        locked.save(update_fields=["status", "total_distance_m", "solve_time_s", "result"])
    return locked


def walk_order(
    community: Community,
    stops: Sequence[Household | Building],
    *,
    start: str = "",
    time_limit_s: float = 1.0,
) -> list[Household | Building]:
    """One walk through ``stops`` (doors or buildings) from a gate and back, shortest first found in
    ``time_limit_s``: door-to-door sampling, a medicine trip. Returns the same objects, reordered."""
    if len(stops) <= 1:
        return list(stops)
    try:
        site = community_site_graph(community)
    except ValueError:  # no building is on the site plan yet: keep the given order
        return list(stops)
    keyed: dict[str, Household | Building] = {}
    points: list[routing.Stop] = []
    for i, item in enumerate(stops):
        building_id = item.building_id if isinstance(item, Household) else item.pk
        node = site.entrances.get(building_id)
        key = f"s{i}"
        keyed[key] = item
        if node is None:
            continue
        x, y = site.graph.nodes[node]
        floor = _floor_of(item.room) if isinstance(item, Household) else 1
        points.append(routing.Stop(key=key, x=x, y=y, demand=0, service_s=STAIRS_S_PER_FLOOR * floor, node=node))
    start = start if start in site.gates else next(iter(site.gates))
    gate_node = site.gates[start][1]
    gx, gy = site.graph.nodes[gate_node]
    problem = routing.RoutingProblem(
        depot=routing.Stop(key="__start__", x=gx, y=gy, node=gate_node),
        stops=points,
        vehicles=1,
        capacity=None,
        graph=site.graph,
    )
    solution = routing.solve(problem, time_limit_s=time_limit_s)
    order = [key for route in solution.routes for key in route.stop_keys]
    seen = set(order)
    order += [key for key in keyed if key not in seen]  # unplaced stops keep their given order at the end
    return [keyed[key] for key in order]
