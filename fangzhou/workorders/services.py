"""Writes for the work-order queue. Every app creates its jobs through ``work_order_create`` (or, inside
its own service's transaction, ``work_order_create_in_transaction``)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, audit_row, masked
from fangzhou.accounts.models import AuditLog, User
from fangzhou.accounts.permissions import is_manager
from fangzhou.lib.bulk import LOOKUP_CHUNK, rows_stage, stage_drop
from fangzhou.lib.errors import Refused
from fangzhou.lib.files import file_store_on_commit
from fangzhou.registry.addressing import household_label
from fangzhou.registry.models import Building, Community, Household, Resident
from fangzhou.registry.roster import normalize as nz
from fangzhou.workorders import rules, signals
from fangzhou.workorders.hooks import door_work_checks_run
from fangzhou.workorders.models import (
    CloseReason,
    Group,
    Kind,
    Priority,
    RequestKind,
    RequestSource,
    ResidentRequest,
    Status,
    Urgency,
    WorkOrder,
    WorkOrderEvent,
)

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


class WorkOrderError(Refused):
    """Refused by the workorder rules (reason in Chinese and English)."""


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    order: WorkOrder
    holder: User | None  # who has it (the caller when won)


def work_order_create_in_transaction(
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
    acute: bool = False,
    title_code: str = "",
    title_args: dict[str, Any] | None = None,
) -> tuple[WorkOrder, bool]:
    """Create a work order; with ``source_key``, a second call for the same cause returns the first order.

    A title the system writes names a ``title_code`` of ``workorders.texts.TITLES`` with its
    ``title_args``: it is shown in the reader's language; ``title`` is kept as the stored text.

    Returns ``(order, created)``. A medical job for a resident on dialysis or chemotherapy, or who is
    pregnant, or any job marked ``acute`` (acute illness), is an emergency: it goes to the front of
    the queue whatever was asked. Services create their orders with this form, inside their own
    transaction; everyone else calls :func:`work_order_create`, the same in a transaction of its own.
    """
    if kind not in Kind.values:
        raise WorkOrderError(f"未知的工单类型「{kind}」", f"unknown work-order kind {kind!r}")
    if resident is not None:
        household = household or resident.household
    if household is not None:
        building = building or household.building
    reason = rules.emergency_reason(
        kind=kind, special_codes=resident.special_codes if resident is not None else (), acute=acute
    )
    if reason:
        priority = Priority.EMERGENCY
    if source_key:
        existing = WorkOrder.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing, False
    order = WorkOrder(
        community=community,
        kind=kind,
        group=group or DEFAULT_GROUP[Kind(kind)],
        priority=priority,
        title=title[:200],
        title_code=title_code,
        title_args=title_args or {},
        detail=detail,
        due_at=due_at,
        building=building,
        household=household,
        resident=resident,
        source_key=source_key,
        created_by=actor,
        emergency_reason=reason,
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
                return existing, False
    else:
        order.save()
    WorkOrderEvent.objects.create(order=order, actor=actor, from_status="", to_status=Status.OPEN, note=title)
    audit_record(
        action=AuditAction.WORK_ORDER_CREATE,
        actor=actor,
        target_type="work_order",
        target_id=order.pk,
        community=community,
        detail={"kind": kind, "group": order.group, "priority": int(priority), "source_key": source_key or ""},
    )
    return order, True


work_order_create = transaction.atomic(durable=True)(work_order_create_in_transaction)


@dataclass(frozen=True)
class OrderSpec:
    """One order of :func:`work_orders_create_many_in_transaction`: a resident's job for a cause."""

    resident: Resident
    title: str
    source_key: str
    detail: str = ""
    title_code: str = ""
    title_args: dict[str, Any] = field(default_factory=dict)


def work_orders_create_many_in_transaction(
    *, community: Community, kind: str, specs: Sequence[OrderSpec], actor: User | None, priority: int = Priority.NORMAL
) -> int:
    """:func:`work_order_create_in_transaction` for many residents at once (a positive round's
    re-tests), in a constant number of statements whatever their number: the orders already there
    for a cause (its source key) are left as they are; the others are staged by one COPY
    (``executemany`` elsewhere) and written, with their first event and their audit row, by one
    ``INSERT … SELECT`` each. Returns how many were written; the caller finds every spec's order by
    its source key. The titles, the emergency rule and the audit checks stay the Python ones.

    A concurrent creator of one of the causes makes the insert fail (unique source key) and the
    caller's savepoint roll back; the caller then goes one by one."""
    if kind not in Kind.values:
        raise WorkOrderError(f"未知的工单类型「{kind}」", f"unknown work-order kind {kind!r}")
    keys = [s.source_key for s in specs]
    seen: set[str | None] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        seen.update(
            WorkOrder.objects.filter(source_key__any_of=keys[start : start + LOOKUP_CHUNK]).values_list(
                "source_key", flat=True
            )
        )
    group = DEFAULT_GROUP[Kind(kind)]
    rows: list[tuple[Any, ...]] = []
    for n, spec in enumerate(specs):
        if spec.source_key in seen:
            continue
        seen.add(spec.source_key)
        resident = spec.resident
        reason = rules.emergency_reason(kind=kind, special_codes=resident.special_codes, acute=False)
        level = int(Priority.EMERGENCY if reason else priority)
        audit = audit_row(
            action=AuditAction.WORK_ORDER_CREATE,
            actor=actor,
            target_type="work_order",
            target_id=0,  # the order's id, written by the statement
            community=community,
            detail={"kind": kind, "group": group, "priority": level, "source_key": spec.source_key},
        )
        rows.append(
            (
                n,
                resident.pk,
                resident.household.building_id,
                resident.household_id,
                level,
                spec.title[:200],
                spec.title_code,
                json.dumps(spec.title_args),
                spec.detail,
                spec.source_key,
                reason,
                json.dumps(audit.detail),
            )
        )
    if not rows:
        return 0
    json_type = "jsonb" if connection.vendor == "postgresql" else "text"
    columns = (
        ("rn", "integer"),
        ("resident_id", "bigint"),
        ("building_id", "bigint"),
        ("household_id", "bigint"),
        ("priority", "integer"),
        ("title", "text"),
        ("title_code", "text"),
        ("title_args", json_type),
        ("detail", "text"),
        ("source_key", "text"),
        ("emergency_reason", "text"),
        ("audit_detail", json_type),
    )
    rows_stage(_ORDERS_STAGE, columns, rows, analyze=("source_key",))
    qn = connection.ops.quote_name
    now = timezone.now()
    params: dict[str, Any] = {
        "community": community.pk,
        "kind": kind,
        "group": group,
        "open": Status.OPEN,
        "actor": actor.pk if actor is not None else None,
        "now": now if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(now),
        "action": AuditAction.WORK_ORDER_CREATE.value,
    }
    written = (
        ("community_id", "%(community)s"),
        ("building_id", "s.building_id"),
        ("household_id", "s.household_id"),
        ("resident_id", "s.resident_id"),
        ("kind", "%(kind)s"),
        ("group", "%(group)s"),
        ("priority", "s.priority"),
        ("status", "%(open)s"),
        ("title", "s.title"),
        ("title_code", "s.title_code"),
        ("title_args", "s.title_args"),
        ("detail", "s.detail"),
        ("source_key", "s.source_key"),
        ("created_by_id", "%(actor)s"),
        ("created_at", "%(now)s"),
        ("escalation_level", "0"),
        ("emergency_reason", "s.emergency_reason"),
        ("completion_note", "''"),
        ("close_reason", "''"),
    )
    stage = qn(_ORDERS_STAGE)
    orders, events, audit_log = (qn(m._meta.db_table) for m in (WorkOrder, WorkOrderEvent, AuditLog))
    joined = f"FROM {stage} s JOIN {orders} o ON o.source_key = s.source_key ORDER BY s.rn"
    statements = (
        f"INSERT INTO {orders} ({', '.join(qn(c) for c, _ in written)}) "  # noqa: S608 - names from the models
        f"SELECT {', '.join(e for _, e in written)} FROM {stage} s ORDER BY s.rn",
        f"INSERT INTO {events} ({qn('order_id')}, {qn('at')}, {qn('actor_id')}, {qn('from_status')}, "
        f"{qn('to_status')}, {qn('note')}, {qn('reason')}) "
        f"SELECT o.id, %(now)s, %(actor)s, '', %(open)s, o.title, '' {joined}",
        f"INSERT INTO {audit_log} ({qn('at')}, {qn('actor_id')}, {qn('action')}, {qn('target_type')}, "
        f"{qn('target_id')}, {qn('community_id')}, {qn('detail')}) "
        f"SELECT %(now)s, %(actor)s, %(action)s, 'work_order', CAST(o.id AS TEXT), %(community)s, s.audit_detail "
        f"{joined}",
    )
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)  # names from the models and constants, values as parameters
    # Dropped on success only: after an error the transaction is aborted (PostgreSQL refuses even a
    # DROP) and its rollback, or the caller's savepoint's, removes the staged table with the rest.
    stage_drop(_ORDERS_STAGE)
    return len(rows)


# The orders :func:`work_orders_create_many_in_transaction` stages (a temporary table; a constant).
_ORDERS_STAGE = "fz_orders_new"


def _door_work_gate_or_raise(actor: User) -> None:
    """The checks the apps above registered (the volunteers' health gate), as this app's refusal."""
    try:
        door_work_checks_run(actor)
    except Refused as exc:
        if isinstance(exc, WorkOrderError):
            raise
        raise WorkOrderError(exc.zh, exc.en) from exc


@transaction.atomic(durable=True)
def work_order_claim(
    *, order_id: int, actor: User, receipt: Callable[[ClaimResult], None] | None = None
) -> ClaimResult:
    """Claim an open order. Exactly one of many simultaneous claimers wins (row lock, conditional update).
    ``receipt`` (a phone's outbox tap) is called inside the transaction when this claim won.

    A volunteer whose health gate is closed (no recent negative test, or living in a sealed
    building) may not claim door-to-door work: ``WorkOrderError`` says why. The gate is asked
    inside the transaction, with the order's row locked, so it decides the claim it guards.
    """
    order_place = (
        WorkOrder.objects.select_for_update().filter(pk=order_id).values("kind", "building_id", "household_id").first()
    )
    if order_place is None:
        raise WorkOrderError("工单不存在", "no such work order")
    if rules.is_door_to_door(order_place["kind"], order_place["building_id"] or order_place["household_id"]):
        _door_work_gate_or_raise(actor)
    now = timezone.now()
    won = (
        WorkOrder.objects.filter(pk=order_id, status=Status.OPEN).update(
            status=Status.CLAIMED, assignee=actor, claimed_at=now
        )
        == 1
    )
    order = WorkOrder.objects.select_related("assignee").get(pk=order_id)
    if won:
        WorkOrderEvent.objects.create(order=order, actor=actor, from_status=Status.OPEN, to_status=Status.CLAIMED)
        audit_record(
            action=AuditAction.WORK_ORDER_CLAIM,
            actor=actor,
            target_type="work_order",
            target_id=order.pk,
            community_id=order.community_id,
        )
        transaction.on_commit(
            lambda: signals.order_status_changed.send(sender=WorkOrder, order_id=order_id, status=Status.CLAIMED),
            robust=True,
        )
    result = ClaimResult(won=won, order=order, holder=order.assignee)
    if won and receipt is not None:
        receipt(result)
    return result


def _door_siblings(order: WorkOrder, statuses: Iterable[str], assignee: User | None) -> list[int]:
    """The other orders of ``order``'s door task (same household, purpose, group and day due) in one
    of ``statuses`` and held by ``assignee`` (None: nobody)."""
    household_id = order.household_id
    if household_id is None or order.kind not in rules.DOOR_GROUPED_KINDS:
        return []
    return list(
        WorkOrder.objects.filter(
            order.same_due_day(),
            community_id=order.community_id,
            household_id=household_id,
            kind=order.kind,
            group=order.group,
            status__in=list(statuses),
            assignee=assignee,
        )
        .exclude(pk=order.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def door_task_claim(*, order_id: int, actor: User, receipt: Callable[[ClaimResult], None] | None = None) -> ClaimResult:
    """Claim one door: the order tapped, then every other open order of its household and purpose
    (one knock for the re-tests of three members). Each is an ordinary :func:`work_order_claim` of
    its own (its own lock, conditional update, event and audit row), so a retry or an outbox replay
    repeats only claims that are already the actor's, and a sibling someone else took meanwhile
    simply stays theirs. Returns the result of the order tapped (whose claim carries ``receipt``)."""
    result = work_order_claim(order_id=order_id, actor=actor, receipt=receipt)
    holder = result.holder
    if holder is not None and holder.pk == actor.pk:
        for sibling in _door_siblings(result.order, [Status.OPEN], None):
            work_order_claim(order_id=sibling, actor=actor)
    return result


def door_task_transition(
    *,
    order_id: int,
    actor: User,
    action: str,
    note: str = "",
    photo: UploadedFile[bytes] | None = None,
    receipt: Callable[[WorkOrder], None] | None = None,
) -> WorkOrder:
    """start / done / release for a whole door: the order tapped and the actor's other orders of its
    household and purpose in the same state, each an ordinary (idempotent) :func:`work_order_transition`.
    The photo goes with the order tapped; the note with each."""
    if action not in {"start", "done", "release"}:
        raise WorkOrderError(f"未知操作「{action}」", f"unknown action {action!r}")
    before = WorkOrder.objects.filter(pk=order_id).first()
    if before is None:
        raise WorkOrderError("工单不存在", "no such work order")
    allowed = _NEXT[action][0]
    siblings = _door_siblings(before, allowed, before.assignee) if before.assignee_id == actor.pk else []
    order = work_order_transition(
        order_id=order_id, actor=actor, action=action, note=note, photo=photo, receipt=receipt
    )
    for sibling in siblings:
        try:
            work_order_transition(order_id=sibling, actor=actor, action=action, note=note)
        except WorkOrderError:
            continue  # closed by its own cause meanwhile (a re-test came back): nothing to do there
    return order


_NEXT = {
    "start": ({Status.CLAIMED}, Status.IN_PROGRESS),
    "done": ({Status.CLAIMED, Status.IN_PROGRESS}, Status.DONE),
    "cancel": ({Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS}, Status.CANCELLED),
    "release": ({Status.CLAIMED, Status.IN_PROGRESS}, Status.OPEN),
}
_AUDIT = {
    "start": AuditAction.WORK_ORDER_START,
    "done": AuditAction.WORK_ORDER_DONE,
    "cancel": AuditAction.WORK_ORDER_CANCEL,
    "release": AuditAction.WORK_ORDER_RELEASE,
}


def work_order_transition(
    *,
    order_id: int,
    actor: User,
    action: str,
    note: str = "",
    photo: UploadedFile[bytes] | None = None,
    receipt: Callable[[WorkOrder], None] | None = None,
) -> WorkOrder:
    """start / done / cancel / release. Idempotent: repeating an action already done returns the order.

    ``done`` may carry a note and a photo (proof of delivery, the state of a stairwell).
    ``receipt`` (a phone's outbox tap) is called inside the transaction when the order changed.
    """
    if action not in _NEXT:
        raise WorkOrderError(f"未知操作「{action}」", f"unknown action {action!r}")
    allowed, target = _NEXT[action]
    with transaction.atomic(durable=True):
        order = WorkOrder.objects.select_for_update().get(pk=order_id)
        if order.status == target:
            return order
        if order.status not in allowed:
            raise WorkOrderError(
                f"工单当前状态为「{order.get_status_display()}」，不能执行此操作",
                f"the order is {order.status}; {action} is not possible",
            )
        if action in {"start", "done"} and order.assignee_id not in {actor.pk, None} and not is_manager(actor):
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
            if photo is not None and target == Status.DONE:
                file_store_on_commit(order, "completion_photo", photo, photo.name or "photo.jpg")
                fields.append("completion_photo")
        if target == Status.OPEN:
            order.assignee = None
            order.claimed_at = None
            fields += ["assignee", "claimed_at"]
        order.save(update_fields=fields)
        WorkOrderEvent.objects.create(order=order, actor=actor, from_status=before, to_status=target, note=note)
        audit_record(
            action=_AUDIT[action],
            actor=actor,
            target_type="work_order",
            target_id=order.pk,
            community_id=order.community_id,
            detail={"from": before, "to": target, "photo": "completion_photo" in fields},
        )
        if receipt is not None:
            receipt(order)
        changed = order.pk
        transaction.on_commit(
            lambda: signals.order_status_changed.send(sender=WorkOrder, order_id=changed, status=target), robust=True
        )
    return order


ACTIVE = (Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS)


def work_orders_close_in_transaction(
    *,
    reason: str,
    outcome: str,
    actor: User | None,
    order_ids: Iterable[int] = (),
    source_keys: Iterable[str] = (),
) -> list[WorkOrder]:
    """Close the still-active orders whose cause has ended (a re-test came back, a door was served,
    a check-in was made): ``outcome`` is ``done`` or ``cancelled``, ``reason`` a :class:`CloseReason`
    code, shown in the reader's language. Runs inside the service that ends the cause, so the event
    and its orders change together; an order already closed is left as it is (idempotent).
    """
    if reason not in CloseReason.values:
        raise WorkOrderError(f"未知的关闭原因「{reason}」", f"unknown close reason {reason!r}")
    if outcome not in {Status.DONE, Status.CANCELLED}:
        raise WorkOrderError(f"未知的关闭结果「{outcome}」", f"unknown outcome {outcome!r}")
    ids, keys = list(order_ids), list(source_keys)
    if not ids and not keys:
        return []
    orders = list(
        WorkOrder.objects.select_for_update()
        .filter(status__in=ACTIVE)
        .filter(Q(pk__in=ids) | Q(source_key__in=keys))
        .order_by("pk")
    )
    now = timezone.now()
    for order in orders:
        before = order.status
        order.status = outcome
        order.closed_at = now
        order.close_reason = reason
        order.save(update_fields=["status", "closed_at", "close_reason"])
        WorkOrderEvent.objects.create(order=order, actor=actor, from_status=before, to_status=outcome, reason=reason)
        audit_record(
            action=AuditAction.WORK_ORDER_AUTO_CLOSE,
            actor=actor,
            target_type="work_order",
            target_id=order.pk,
            community_id=order.community_id,
            detail={"from": before, "to": outcome, "reason": reason},
        )
    return orders


# --- escalation -----------------------------------------------------------------------------


def _committee_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.FANGZHOU_ESCALATE_COMMITTEE_MINUTES)


def work_orders_escalate(*, now: dt.datetime | None = None, community: Community | None = None) -> dict[str, int]:
    """Escalate past-due orders: to the work group's lead once past due, to the committee after a grace.

    Safe to run on a schedule and twice at once (a conditional update per order and level).
    """
    now = now or timezone.now()
    qs = WorkOrder.objects.filter(
        status__in=[Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS], due_at__lt=now, escalation_level__lt=2
    )
    if community is not None:
        qs = qs.filter(community=community)
    counts = {"lead": 0, "committee": 0}
    for order in qs.only("pk", "escalation_level", "due_at", "community_id"):
        assert order.due_at is not None
        target = rules.escalation_target(
            rules.Overdue(order.pk, order.escalation_level, order.due_at), now=now, committee_after=_committee_after()
        )
        if target <= order.escalation_level:
            continue
        with transaction.atomic(durable=True):  # one order at a time: a sweep commits what it has done
            moved = WorkOrder.objects.filter(pk=order.pk, escalation_level=order.escalation_level).update(
                escalation_level=target, escalated_at=now
            )
            if not moved:
                continue
            to = "committee" if target == 2 else "lead"
            current = WorkOrder.objects.values_list("status", flat=True).get(pk=order.pk)
            WorkOrderEvent.objects.create(
                order_id=order.pk,
                actor=None,
                from_status=current,
                to_status=current,
                note="逾期，已上报居委会 / overdue: escalated to the committee"
                if to == "committee"
                else "逾期，已提醒工作组组长 / overdue: escalated to the group lead",
            )
            audit_record(
                action=AuditAction.WORK_ORDER_ESCALATE,
                actor=None,
                target_type="work_order",
                target_id=str(order.pk),
                community_id=order.community_id,
                detail={"level": target},
            )
            counts[to] += 1
    return counts


# --- residents' requests --------------------------------------------------------------------

# Which group answers which kind of request.
REQUEST_GROUP = {
    RequestKind.MEDICINE: Group.MEDICAL,
    RequestKind.MEDICAL: Group.MEDICAL,
    RequestKind.FOOD: Group.SUPPLIES,
    RequestKind.REPAIR: Group.DATA,
    RequestKind.MENTAL_HEALTH: Group.CARE,
    RequestKind.OTHER: Group.DATA,
}
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DUE = {
    Urgency.EMERGENCY: dt.timedelta(hours=1),
    Urgency.URGENT: dt.timedelta(hours=8),
    Urgency.NORMAL: dt.timedelta(hours=48),
}


def _reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def resident_request_submit(
    *,
    building: Building,
    kind: str,
    text: str,
    urgency: int = Urgency.NORMAL,
    room: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    photo: UploadedFile[bytes] | None = None,
    client_id: str | None = None,
    source: str = RequestSource.QR,
    actor: User | None = None,
    receipt: Callable[[ResidentRequest], None] | None = None,
) -> tuple[ResidentRequest, bool]:
    """Record a resident's request and its work order. A retry with the same client id returns the first.

    ``receipt`` (a phone's outbox tap) is called with the new request inside the transaction, so
    the request and the tap's receipt are committed together."""
    client_id = (client_id or "").strip()[:64] or None
    if client_id:
        existing = ResidentRequest.objects.filter(client_id=client_id).select_related("order").first()
        if existing is not None:
            return existing, False
    if kind not in RequestKind.values:
        raise WorkOrderError("请选择诉求类型", "choose what the request is about")
    if urgency not in Urgency.values:
        raise WorkOrderError("请选择紧急程度", "choose how urgent it is")
    text = (text or "").strip()
    if len(text) < 2:
        raise WorkOrderError("请写下需要什么帮助", "say what help is needed")
    if len(text) > 2000:
        raise WorkOrderError("内容太长（最多 2000 字）", "the text is too long (2,000 characters at most)")
    try:
        room = nz.room_number(room) if room else ""
        contact_phone = nz.phone(contact_phone) if contact_phone else ""
    except nz.CellError as exc:
        raise WorkOrderError(exc.zh, exc.en) from exc
    household = Household.objects.filter(building=building, room=room).first() if room else None
    resident = None
    if household is not None and contact_phone:
        resident = Resident.objects.filter(household=household, phone=contact_phone).first()
    kind_label = str(RequestKind(kind).label)
    try:
        with transaction.atomic(durable=True):
            request = ResidentRequest(
                community_id=building.community_id,
                building=building,
                household=household,
                room=room,
                contact_name=contact_name.strip()[:64],
                contact_phone=contact_phone,
                kind=kind,
                urgency=urgency,
                text=text,
                source=source if source in RequestSource.values else RequestSource.QR,
                client_id=client_id,
                recorded_by=actor,
            )
            for _attempt in range(5):
                request.reference = _reference()
                if not ResidentRequest.objects.filter(reference=request.reference).exists():
                    break
            if photo is not None:
                file_store_on_commit(request, "photo", photo, photo.name or "photo.jpg")
            request.save()
            place = household_label(building.compound.name, building.number, room) if room else building.full_label
            order, _created = work_order_create_in_transaction(
                community=building.community,
                kind=Kind.RESIDENT_REQUEST,
                title=f"{kind_label}: {place} · {text[:60]}",
                title_code="request.order",
                title_args={"kind": kind, "place": place, "text": text[:60]},
                detail=text,
                actor=actor,
                priority=int(urgency),
                group=REQUEST_GROUP[RequestKind(kind)],
                due_at=timezone.now() + DUE[Urgency(urgency)],
                building=building,
                household=household,
                resident=resident,
                source_key=f"request:{request.pk}",
                acute=urgency == Urgency.EMERGENCY and kind in {RequestKind.MEDICAL, RequestKind.MEDICINE},
            )
            request.order = order
            request.save(update_fields=["order"])
            audit_record(
                action=AuditAction.REQUEST_SUBMIT,
                actor=actor,
                target_type="resident_request",
                target_id=str(request.pk),
                community_id=building.community_id,
                detail={"kind": kind, "source": request.source, "order": order.pk},
            )
            if receipt is not None:
                receipt(request)
    except IntegrityError:
        if client_id:
            existing = ResidentRequest.objects.filter(client_id=client_id).first()
            if existing is not None:
                return existing, False
        raise
    return request, True


def resident_request_escalate(*, request: ResidentRequest, actor: User, note: str = "") -> ResidentRequest:
    """Escalate a request to the subdistrict (once; a second call returns it unchanged)."""
    with transaction.atomic(durable=True):
        moved = ResidentRequest.objects.filter(pk=request.pk, escalated_at__isnull=True).update(
            escalated_at=timezone.now(), escalated_by=actor, escalation_note=note.strip()[:500]
        )
        request.refresh_from_db()
        if moved:
            if request.order_id:
                status = request.order.status if request.order else ""
                WorkOrderEvent.objects.create(
                    order_id=request.order_id,
                    actor=actor,
                    from_status=status,
                    to_status=status,
                    note=f"已上报街道 / escalated to the subdistrict: {note}".strip(),
                )
            audit_record(
                action=AuditAction.REQUEST_ESCALATE,
                actor=actor,
                target_type="resident_request",
                target_id=str(request.pk),
                community_id=request.community_id,
                detail={"note": masked(note[:200])},
            )
    return request
