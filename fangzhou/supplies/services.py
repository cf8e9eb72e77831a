"""Writes for supplies: distributions, allocation, group-purchase orders and imports, marking doors
delivered, the end-of-day sweep into work orders, and volunteer route plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import Role, User
from fangzhou.lib.db import analyze
from fangzhou.lib.errors import Refused
from fangzhou.lib.files import file_store_on_commit
from fangzhou.lib.importing import Columns, ImportReport, Outcome, Row, rows_check, sheet_map, sheet_read
from fangzhou.lib.jobs import job_enqueue
from fangzhou.lib.sheets import Sheet
from fangzhou.registry.models import Building, Community, Household
from fangzhou.registry.roster.normalize import room_stair_key
from fangzhou.supplies import signals
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
from fangzhou.volunteers.selectors import health_of_users
from fangzhou.workorders.models import CloseReason, Priority, Status
from fangzhou.workorders.services import work_order_create_in_transaction, work_orders_close_in_transaction
from fangzhou.zones import routing
from fangzhou.zones.selectors import building_is_sealed, sealed_building_ids
from fangzhou.zones.sitegraph import STAIRS_S_PER_FLOOR, community_site_graph, floor_of

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


@transaction.atomic(durable=True)
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
    audit_record(
        action=AuditAction.DISTRIBUTION_CREATE,
        actor=actor,
        target_type="distribution",
        target_id=distribution.pk,
        community=community,
        detail={"kind": kind, "scaling": scaling},
    )
    return distribution


def _set_lines(delivery: Delivery, items: Mapping[str, int]) -> Outcome:
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


@transaction.atomic(durable=True)
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
            new.append(
                Delivery(
                    community_id=distribution.community_id,
                    distribution=distribution,
                    household=household,
                    building=household.building,
                )
            )
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
    audit_record(
        action=AuditAction.DISTRIBUTION_ALLOCATE,
        actor=actor,
        target_type="distribution",
        target_id=distribution.pk,
        community=distribution.community,
        detail={"created": report.created, "updated": report.updated},
    )
    return report


def _delivery_for(distribution: Distribution, household: Household) -> Delivery:
    delivery, _ = Delivery.objects.get_or_create(
        distribution=distribution,
        household=household,
        defaults={"building": household.building, "community_id": distribution.community_id},
    )
    return delivery


@transaction.atomic(durable=True)
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
        audit_record(
            action=AuditAction.GROUP_ORDER_SET,
            actor=actor,
            target_type="delivery",
            target_id=delivery.pk,
            community=distribution.community,
            detail={"items": clean, "outcome": outcome},
        )
    return delivery


IMPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "building": ("楼号", "楼栋", "楼", "building", "bldg"),
    "room": ("室号", "房号", "门牌", "room", "door"),
    "item": ("商品", "物品", "品名", "商品名称", "item", "product"),
    "quantity": ("数量", "份数", "quantity", "qty"),
    "compound": ("小区", "compound"),
}


IMPORT_COLUMNS = Columns(IMPORT_ALIASES, ("building", "room", "item", "quantity"), max_rows=50_000)


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
    report = ImportReport()
    mapped = sheet_map(
        sheet_read(data=data, filename=filename, sheet=sheet, columns=IMPORT_COLUMNS), IMPORT_COLUMNS, report
    )
    community = distribution.community
    buildings: dict[str, list[Building]] = {}
    for b in Building.objects.filter(community=community).select_related("compound"):
        buildings.setdefault(b.number.upper(), []).append(b)
    households = {(h.building_id, h.room): h for h in Household.objects.filter(building__community=community)}

    def parse(row: Row) -> tuple[Household, str, int] | None:
        label = _norm_building(row.get("building"))
        candidates = buildings.get(label, [])
        compound = str(row.get("compound") or "").strip()
        if compound:
            candidates = [b for b in candidates if b.compound.name == compound]
        if not label:
            row.reject("楼号", "缺少楼号", "building missing")
            return None
        if len(candidates) != 1:
            if candidates:
                row.reject("楼号", f"{label}号楼有多个小区，请填小区", f"building {label} is ambiguous")
            else:
                row.reject("楼号", f"本社区没有{label}号楼", f"no building {label} in this community")
            return None
        room = _norm_room(row.get("room"))
        household = households.get((candidates[0].pk, room))
        if household is None:
            row.reject("室号", f"{label}号楼没有{room or '（空）'}室", f"no room {room!r} in building {label}")
            return None
        item = str(row.get("item") or "").strip()[:64]
        if not item:
            row.reject("商品", "缺少商品名称", "item missing")
            return None
        raw = row.get("quantity")
        try:
            quantity = int(float(str(raw).strip()))
            if quantity != float(str(raw).strip()):
                raise ValueError
        except (TypeError, ValueError):
            row.reject("数量", f"数量「{raw}」不是整数", f"quantity {raw!r} is not a whole number")
            return None
        if quantity <= 0 or quantity > MAX_QUANTITY:
            row.reject("数量", f"数量「{quantity}」超出范围", f"quantity {quantity} is out of range")
            return None
        return household, item, quantity

    wanted: dict[int, dict[str, int]] = {}
    household_of: dict[int, Household] = {}
    for household, item, quantity in rows_check(mapped, parse, report):
        bucket = wanted.setdefault(household.pk, {})
        bucket[item] = bucket.get(item, 0) + quantity
        household_of[household.pk] = household
    with transaction.atomic(durable=True):
        Distribution.objects.select_for_update().filter(pk=distribution.pk).first()
        for household_id, items in wanted.items():
            delivery = _delivery_for(distribution, household_of[household_id])
            current = {line.item: line.quantity for line in delivery.lines.all()}
            merged = {**current, **items}
            report.count(_set_lines(delivery, merged))
        record = GroupPurchaseImport.objects.create(
            distribution=distribution, actor=actor, filename=filename[:255], **report.record()
        )
        report.import_id = record.pk
        audit_record(
            action=AuditAction.GROUP_PURCHASE_IMPORT,
            actor=actor,
            target_type="distribution",
            target_id=distribution.pk,
            community=community,
            detail={"created": report.created, "updated": report.updated, "rejected": len(report.rejected)},
        )
        analyze(Delivery, DeliveryLine, rows=report.created + report.updated)
    return report


# --------------------------------------------------------------------------------------------
# Delivering


def _door_gate_or_raise(user_ids: Sequence[int]) -> None:
    """Deliveries and routes are door-to-door work: refuse volunteers whose health gate is closed."""
    health = health_of_users(user_ids)
    closed = [(uid, g) for uid, g in health.items() if not g.ok]
    if not closed:
        return
    names = dict(User.objects.filter(pk__in=[uid for uid, _ in closed]).values_list("pk", "display_name"))
    zh = "；".join(f"{names.get(uid) or uid}：" + "、".join(r.zh for r in g.reasons) for uid, g in closed)
    en = "; ".join(f"{names.get(uid) or uid}: " + ", ".join(r.en for r in g.reasons) for uid, g in closed)
    raise SuppliesError(f"暂不能上门送货 — {zh}", f"may not go to doors now — {en}")


@transaction.atomic(durable=True)
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
    if volunteer is not None:
        _door_gate_or_raise([volunteer.pk])
    current = DeliveryAssignment.objects.filter(distribution=distribution, building=building).first()
    if volunteer is None:
        if current is not None:
            current.delete()
            audit_record(
                action=AuditAction.DELIVERY_UNASSIGN,
                actor=actor,
                target_type="building",
                target_id=building.pk,
                community=distribution.community,
            )
        return None
    if current is not None and current.volunteer_id == volunteer.pk:
        return current
    assignment, _ = DeliveryAssignment.objects.update_or_create(
        distribution=distribution, building=building, defaults={"volunteer": volunteer, "assigned_by": actor}
    )
    audit_record(
        action=AuditAction.DELIVERY_ASSIGN,
        actor=actor,
        target_type="building",
        target_id=building.pk,
        community=distribution.community,
        detail={"volunteer": volunteer.pk},
    )
    return assignment


@transaction.atomic(durable=True)
def delivery_mark(
    *,
    delivery_id: int,
    actor: User,
    photo: UploadedFile[bytes] | None = None,
    note: str = "",
    today: dt.date | None = None,
    sealed: bool | None = None,
    receipt: Callable[[Delivery], None] | None = None,
) -> Delivery:
    """Mark one door delivered. At a sealed building it is contactless: "left at the door", with an
    optional photo. Idempotent: a second tap returns the delivery as it is. ``receipt`` (a phone's
    outbox tap) is called inside the transaction when this call marked the door."""
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
        file_store_on_commit(delivery, "photo", photo, photo.name or "door.jpg")
        fields.append("photo")
    delivery.save(update_fields=fields)
    # The end-of-day sweep may have turned this door into a work order: it is served now.
    work_orders_close_in_transaction(
        source_keys=[sweep_source_key(delivery.distribution_id, delivery.household_id)],
        outcome=Status.DONE,
        reason=CloseReason.DELIVERED,
        actor=actor,
    )
    audit_record(
        action=AuditAction.DELIVERY_MARK,
        actor=actor,
        target_type="delivery",
        target_id=delivery.pk,
        community=delivery.distribution.community,
        detail={"status": delivery.status, "photo": photo is not None},
    )
    if receipt is not None:
        receipt(delivery)
    delivered = delivery.pk
    transaction.on_commit(lambda: signals.delivery_done.send(sender=Delivery, delivery_id=delivered), robust=True)
    return delivery


@transaction.atomic(durable=True)
def delivery_undo(*, delivery_id: int, actor: User, receipt: Callable[[Delivery], None] | None = None) -> Delivery:
    """Put a door back to 'not yet delivered' (a wrong tap). ``receipt``: as for :func:`delivery_mark`."""
    delivery = Delivery.objects.select_for_update().select_related("distribution__community").get(pk=delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        return delivery
    before = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.delivered_at = None
    delivery.delivered_by = None
    delivery.save(update_fields=["status", "delivered_at", "delivered_by"])
    audit_record(
        action=AuditAction.DELIVERY_UNDO,
        actor=actor,
        target_type="delivery",
        target_id=delivery.pk,
        community=delivery.distribution.community,
        detail={"before": before},
    )
    if receipt is not None:
        receipt(delivery)
    return delivery


@dataclass
class SweepReport:
    orders: int = 0
    created: int = 0
    order_ids: list[int] = field(default_factory=list)


def sweep_source_key(distribution_id: int, household_id: int) -> str:
    """The cause of the sweep's order for one undelivered door."""
    return f"supply:{distribution_id}:{household_id}"


def deliveries_sweep(*, distribution: Distribution, actor: User | None, on: dt.date | None = None) -> SweepReport:
    """End of the day: every door still waiting becomes a supply-delivery work order (one per door,
    idempotent by ``source_key``)."""
    on = on or timezone.localdate()
    report = SweepReport()
    pending = (
        Delivery.objects.filter(distribution=distribution, status=DeliveryStatus.PENDING)
        .select_related("household__building__compound", "building")
        .prefetch_related("lines")
    )
    sealed_ids = sealed_building_ids(distribution.community, on)  # once, not once per door
    with transaction.atomic(durable=True):
        for delivery in pending:
            key = sweep_source_key(distribution.pk, delivery.household_id)
            items = "、".join(f"{line.item}×{line.quantity}" for line in delivery.lines.all())
            sealed = delivery.building_id in sealed_ids
            household = delivery.household
            detail = f"{distribution.name}: {household.full_label} — {items}"
            if sealed:
                detail += "\n封控楼栋：无接触配送，放在门口 / sealed building: contactless, leave at the door"
            order, created = work_order_create_in_transaction(
                community=distribution.community,
                kind="supply_delivery",
                title=f"补送物资 {household.full_label} / deliver supplies",
                title_code="supplies.redeliver",
                title_args={"place": f"{household.full_label}"},
                actor=actor,
                detail=detail,
                priority=Priority.URGENT,
                household=household,
                due_at=timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time(12, 0))),
                source_key=key,
            )
            report.orders += 1
            report.created += int(created)
            report.order_ids.append(order.pk)
        audit_record(
            action=AuditAction.DELIVERIES_SWEEP,
            actor=actor,
            target_type="distribution",
            target_id=distribution.pk,
            community=distribution.community,
            detail=vars(report),
        )
    return report


@transaction.atomic(durable=True)
def distribution_close(*, distribution: Distribution, actor: User | None) -> Distribution:
    if distribution.closed_at is None:
        distribution.closed_at = timezone.now()
        distribution.save(update_fields=["closed_at"])
        audit_record(
            action=AuditAction.DISTRIBUTION_CLOSE,
            actor=actor,
            target_type="distribution",
            target_id=distribution.pk,
            community=distribution.community,
        )
    return distribution


# --------------------------------------------------------------------------------------------
# Routes


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
        floor = floor_of(h.room)
        stops.append(
            routing.Stop(
                key=f"h{h.pk}", x=x, y=y, demand=1, service_s=DOOR_S + STAIRS_S_PER_FLOOR * max(floor - 1, 0), node=node
            )
        )
    return stops


def _stair_order(keys: Sequence[str], doors: Mapping[str, tuple[int, str]]) -> list[str]:
    """The solver's visiting order with each building's doors in stair order.

    All doors of a building share its entrance on the site graph, so the solver's order among them
    is arbitrary (zero metres apart). Each run of consecutive stops in one building is put floor by
    floor, doors in order on each floor; the walk between buildings, its distance and its polyline
    are unchanged."""
    ordered: list[str] = []
    run: list[str] = []
    for key in [*keys, ""]:
        if run and (not key or doors[key][0] != doors[run[0]][0]):
            ordered += sorted(run, key=lambda k: room_stair_key(doors[k][1]))
            run = []
        if key:
            run.append(key)
    return ordered


@transaction.atomic(durable=True)
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
    _door_gate_or_raise(volunteers)
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
    audit_record(
        action=AuditAction.ROUTE_PLAN_REQUEST,
        actor=actor,
        target_type="route_plan",
        target_id=plan.pk,
        community=community,
        detail={"buildings": len(buildings)},
    )
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
        households_qs = Household.objects.filter(building_id__in=params["building_ids"]).select_related(
            "building__compound"
        )
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
        with transaction.atomic(durable=True):
            RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.FAILED, error=str(exc)[:300])
            audit_record(
                action=AuditAction.ROUTE_PLAN_RUN,
                actor=None,
                target_type="route_plan",
                target_id=plan.pk,
                community_id=plan.community_id,
                detail={"status": PlanStatus.FAILED, "routes": 0},
            )
        plan.refresh_from_db()
        return plan
    labels = {f"h{h.pk}": (h.full_label, h.building_id) for h in households}
    rooms = {f"h{h.pk}": (h.building.full_label, h.room) for h in households}
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
                stops=[
                    {
                        "key": k,
                        "label": labels[k][0],
                        "building_id": labels[k][1],
                        "building": rooms[k][0],
                        "room": rooms[k][1],
                    }
                    for k in _stair_order(route.stop_keys, {k: (labels[k][1], rooms[k][1]) for k in route.stop_keys})
                ],
                polyline=[[round(x, 1), round(y, 1)] for x, y in routing.route_polyline(problem, route)],
                distance_m=route.distance_m,
                duration_s=route.duration_s,
                load=route.load,
            )
        )
    with transaction.atomic(durable=True):  # the solver ran outside any transaction
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
        audit_record(
            action=AuditAction.ROUTE_PLAN_RUN,
            actor=None,
            target_type="route_plan",
            target_id=locked.pk,
            community_id=locked.community_id,
            detail={"status": PlanStatus.DONE, "routes": len(legs)},
        )
    return locked
