"""Writes for the work-order queue. Every app creates its jobs through ``work_order_create``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.registry.models import Building, Community, Household, Resident
from fangzhou.workorders.models import Group, Kind, Priority, Status, WorkOrder, WorkOrderEvent

# Which work group a kind of job goes to unless the caller says otherwise.
DEFAULT_GROUP = {
    Kind.RETEST: Group.TESTING,
    Kind.TRANSFER: Group.MEDICAL,
    Kind.DISINFECTION: Group.DISINFECTION,
    Kind.SUPPLY_DELIVERY: Group.SUPPLIES,
    Kind.MEDICINE: Group.MEDICAL,
    Kind.MEDICAL_ESCORT: Group.MEDICAL,
    Kind.CARE_CHECKIN: Group.CARE,
    Kind.PATROL: Group.PATROL,
    Kind.RESIDENT_REQUEST: Group.DATA,
    Kind.HOUSEHOLD_CHECK: Group.CARE,
    Kind.OTHER: Group.DATA,
}


class WorkOrderError(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    order: WorkOrder
    holder: User | None  # who has it (the caller when won)


def work_order_create(
    *,
    community: Community,
    kind: str,
    title: str,
    actor: User | None,
    detail: str = "",
    priority: int = Priority.NORMAL,
    group: str = "",
    due_at: dt.datetime | None = None,
    building: Building | None = None,
    household: Household | None = None,
    resident: Resident | None = None,
    source_key: str | None = None,
) -> WorkOrder:
    """Create a work order; with ``source_key``, a second call for the same cause returns the first order."""
    if kind not in Kind.values:
        raise WorkOrderError(f"未知的工单类型「{kind}」", f"unknown work-order kind {kind!r}")
    if resident is not None:
        household = household or resident.household
    if household is not None:
        building = building or household.building
    with transaction.atomic():
        if source_key:
            existing = WorkOrder.objects.filter(source_key=source_key).first()
            if existing is not None:
                return existing
        order = WorkOrder(
            community=community,
            kind=kind,
            group=group or DEFAULT_GROUP[Kind(kind)],
            priority=priority,
            title=title[:200],
            detail=detail,
            due_at=due_at,
            building=building,
            household=household,
            resident=resident,
            source_key=source_key,
            created_by=actor,
        )
        if source_key:
            # A concurrent creator for the same cause: the unique constraint picks one.
            with transaction.atomic():
                try:
                    order.save()
                except IntegrityError:
                    existing = WorkOrder.objects.filter(source_key=source_key).first()
                    if existing is None:
                        raise
                    return existing
        else:
            order.save()
        WorkOrderEvent.objects.create(order=order, actor=actor, from_status="", to_status=Status.OPEN, note=title)
    return order


def work_order_claim(*, order_id: int, actor: User) -> ClaimResult:
    """Claim an open order. Exactly one of many simultaneous claimers wins (conditional update)."""
    now = timezone.now()
    with transaction.atomic():
        won = (
            WorkOrder.objects.filter(pk=order_id, status=Status.OPEN).update(
                status=Status.CLAIMED, assignee=actor, claimed_at=now
            )
            == 1
        )
        order = WorkOrder.objects.select_related("assignee").get(pk=order_id)
        if won:
            WorkOrderEvent.objects.create(order=order, actor=actor, from_status=Status.OPEN, to_status=Status.CLAIMED)
    return ClaimResult(won=won, order=order, holder=order.assignee)


_NEXT = {
    "start": ({Status.CLAIMED}, Status.IN_PROGRESS),
    "done": ({Status.CLAIMED, Status.IN_PROGRESS}, Status.DONE),
    "cancel": ({Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS}, Status.CANCELLED),
    "release": ({Status.CLAIMED, Status.IN_PROGRESS}, Status.OPEN),
}


def work_order_transition(*, order_id: int, actor: User, action: str, note: str = "") -> WorkOrder:
    """start / done / cancel / release. Idempotent: repeating an action already done returns the order."""
    if action not in _NEXT:
        raise WorkOrderError(f"未知操作「{action}」", f"unknown action {action!r}")
    allowed, target = _NEXT[action]
    with transaction.atomic():
        order = WorkOrder.objects.select_for_update().get(pk=order_id)
        if order.status == target:
            return order
        if order.status not in allowed:
            raise WorkOrderError(
                f"工单当前状态为「{order.get_status_display()}」，不能执行此操作",
                f"the order is {order.status}; {action} is not possible",
            )
        if action in {"start", "done"} and order.assignee_id not in {actor.pk, None} and order.assignee_id:
            from fangzhou.accounts.models import Role

            if actor.role not in {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER}:
                raise WorkOrderError("这张工单不是您认领的", "this order is claimed by someone else")
        before = order.status
        now = timezone.now()
        order.status = target
        fields = ["status"]
        if target == Status.IN_PROGRESS:
            order.started_at = now
            fields.append("started_at")
        if target in {Status.DONE, Status.CANCELLED}:
            order.closed_at = now
            fields.append("closed_at")
            if note:
                order.completion_note = note
                fields.append("completion_note")
        if target == Status.OPEN:
            order.assignee = None
            order.claimed_at = None
            fields += ["assignee", "claimed_at"]
        order.save(update_fields=fields)
        WorkOrderEvent.objects.create(order=order, actor=actor, from_status=before, to_status=target, note=note)
    return order
