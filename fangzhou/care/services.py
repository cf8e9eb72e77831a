"""Writes for special care and medicine on behalf. Escort orders and missed check-ins are created
by idempotent sweeps (``care_escorts_ensure``, ``care_checkins_close``) that a schedule may run as
often as it likes."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import Role, User
from fangzhou.care import signals
from fangzhou.care.models import (
    CareProfile,
    CheckIn,
    CheckInStatus,
    MedicineRequest,
    MedicineStatus,
    MedicineTrip,
    Payer,
    TreatmentKind,
    TreatmentSchedule,
)
from fangzhou.care.schedule import WeeklySchedule, parse_weekdays, sessions_due
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Community, Resident, SpecialCare
from fangzhou.registry.roster.normalize import SPECIAL_ORDER
from fangzhou.workorders.models import CloseReason, Priority, Status, WorkOrder
from fangzhou.workorders.services import work_order_create_in_transaction, work_orders_close_in_transaction
from fangzhou.zones.selectors import sealed_building_ids
from fangzhou.zones.sitegraph import walk_order

# Needs that call for a daily check-in.
CHECKIN_NEEDS = {SpecialCare.ELDERLY_ALONE}
SEALED_PAPERWORK = (
    "封控楼栋闭环转运：出发前联系楼组长开门并登记 / "
    "sealed building: closed-loop transport, the building leader opens and logs",
    "携带：社区出具的就医证明（盖章）、患者身份证与医保卡、医院预约单或透析/化疗记录本、"
    "48小时内核酸阴性证明 / "
    "carry: the committee's stamped medical-visit letter, the patient's ID and insurance card, "
    "the hospital appointment or treatment booklet, a negative PCR result within 48 h",
    "护送人员全程穿戴防护服、N95口罩，返回后消毒 / escort in protective suit and N95 mask; disinfect on return",
)


class CareError(Refused):
    """Refused by the care rules (reason in Chinese and English)."""


def escort_lead_hours() -> float:
    """How long before a treatment session its escort order is created (hours)."""
    return settings.FANGZHOU_ESCORT_LEAD_HOURS


def _ordered(codes: Iterable[str]) -> str:
    wanted = set(codes)
    unknown = wanted - set(SPECIAL_ORDER)
    if unknown:
        raise CareError(f"未知的关爱类型：{', '.join(sorted(unknown))}", f"unknown needs: {', '.join(sorted(unknown))}")
    return ",".join(c for c in SPECIAL_ORDER if c in wanted)


# --------------------------------------------------------------------------------------------
# The registry


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@transaction.atomic(durable=True)
def care_registry_sync(*, community: Community, actor: User | None) -> SyncReport:
    """Build the registry from the roster's special-care flags: new flagged residents get a profile;
    flags added in the roster are added to existing profiles (staff edits are never undone)."""
    report = SyncReport()
    profiles = {p.resident_id: p for p in CareProfile.objects.filter(community=community)}
    for resident in Resident.objects.filter(community=community).exclude(special=""):
        codes = [c for c in resident.special_codes if c in SPECIAL_ORDER]
        if not codes:
            continue
        profile = profiles.get(resident.pk)
        if profile is None:
            CareProfile.objects.create(community=community, resident=resident, needs=_ordered(codes), updated_by=actor)
            report.created += 1
            continue
        merged = _ordered({*profile.need_codes, *codes})
        if merged != profile.needs:
            profile.needs = merged
            profile.updated_by = actor
            profile.save(update_fields=["needs", "updated_by", "updated_at"])
            report.updated += 1
        else:
            report.unchanged += 1
    audit_record(
        action=AuditAction.CARE_SYNC,
        actor=actor,
        target_type="community",
        target_id=community.pk,
        community=community,
        detail=vars(report),
    )
    return report


_UNSET: Any = object()


@transaction.atomic(durable=True)
def care_profile_update(
    *,
    profile_id: int,
    actor: User,
    needs: Sequence[str] | None = None,
    due_date: dt.date | None = _UNSET,
    carer: User | None = _UNSET,
    note: str | None = None,
    active: bool | None = None,
) -> CareProfile:
    """Staff edit a profile: needs, due date (pregnant), the volunteer who looks after them, a note."""
    profile = CareProfile.objects.select_for_update().get(pk=profile_id)
    before: dict[str, Any] = {}
    fields: list[str] = []
    if needs is not None:
        value = _ordered(needs)
        if value != profile.needs:
            before["needs"] = profile.needs
            profile.needs = value
            fields.append("needs")
    if due_date is not _UNSET and due_date != profile.due_date:
        before["due_date"] = str(profile.due_date)
        profile.due_date = due_date
        fields.append("due_date")
    if carer is not _UNSET and (carer.pk if carer else None) != profile.carer_id:
        if carer is not None and (carer.role != Role.VOLUNTEER or carer.community_id != profile.community_id):
            raise CareError("只能指定本社区的志愿者", "choose a volunteer of this community")
        before["carer"] = profile.carer_id
        profile.carer = carer
        fields.append("carer")
    if note is not None and note[:500] != profile.note:
        profile.note = note[:500]
        fields.append("note")
    if active is not None and active != profile.active:
        before["active"] = profile.active
        profile.active = active
        fields.append("active")
    if fields:
        profile.updated_by = actor
        profile.save(update_fields=[*fields, "updated_by", "updated_at"])
        audit_record(
            action=AuditAction.CARE_PROFILE_UPDATE,
            actor=actor,
            target_type="care_profile",
            target_id=profile.pk,
            community_id=profile.community_id,
            detail={"fields": fields, "before": before},
        )
    return profile


@transaction.atomic(durable=True)
def treatment_schedule_set(
    *,
    profile_id: int,
    actor: User | None,
    kind: str,
    weekdays: str | Sequence[int],
    at: dt.time,
    hospital: str,
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    schedule_id: int | None = None,
) -> TreatmentSchedule:
    """Add (or, with ``schedule_id``, change) a dialysis or chemotherapy schedule."""
    profile = CareProfile.objects.select_for_update().get(pk=profile_id)
    if kind not in TreatmentKind.values:
        raise CareError(f"未知的治疗类型「{kind}」", f"unknown treatment {kind!r}")
    try:
        days = parse_weekdays(weekdays)
    except ValueError as exc:
        raise CareError("请选择每周的治疗日", "choose the days of the week") from exc
    hospital = hospital.strip()[:100]
    if not hospital:
        raise CareError("请填写医院", "the hospital is required")
    if starts_on and ends_on and ends_on < starts_on:
        raise CareError("结束日期早于开始日期", "the end is before the start")
    values = {
        "kind": kind,
        "weekdays": ",".join(str(d) for d in sorted(days)),
        "at": at,
        "hospital": hospital,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }
    if schedule_id is not None:
        schedule = TreatmentSchedule.objects.get(pk=schedule_id, profile=profile)
        for key, value in values.items():
            setattr(schedule, key, value)
        schedule.save()
    else:
        schedule = TreatmentSchedule.objects.create(profile=profile, created_by=actor, **values)
    if kind not in profile.need_codes:
        profile.needs = _ordered([*profile.need_codes, kind])
        profile.save(update_fields=["needs", "updated_at"])
    audit_record(
        action=AuditAction.CARE_SCHEDULE_SET,
        actor=actor,
        target_type="treatment_schedule",
        target_id=schedule.pk,
        community_id=profile.community_id,
        detail={k: str(v) for k, v in values.items()},
    )
    return schedule


@transaction.atomic(durable=True)
def treatment_schedule_stop(*, schedule_id: int, actor: User) -> TreatmentSchedule:
    """Stop a schedule; the escort orders already made for its coming sessions are cancelled with it."""
    schedule = TreatmentSchedule.objects.select_for_update().select_related("profile").get(pk=schedule_id)
    if schedule.active:
        schedule.active = False
        schedule.save(update_fields=["active"])
        coming = WorkOrder.objects.filter(
            source_key__startswith=f"escort:{schedule.pk}:", due_at__gte=timezone.now()
        ).values_list("pk", flat=True)
        work_orders_close_in_transaction(
            order_ids=list(coming), outcome=Status.CANCELLED, reason=CloseReason.SCHEDULE_STOPPED, actor=actor
        )
        audit_record(
            action=AuditAction.CARE_SCHEDULE_STOP,
            actor=actor,
            target_type="treatment_schedule",
            target_id=schedule.pk,
            community_id=schedule.profile.community_id,
        )
    return schedule


# --------------------------------------------------------------------------------------------
# Escort orders ahead of each session


@dataclass
class EscortReport:
    sessions: int = 0
    created: int = 0
    sealed: int = 0
    order_ids: list[int] = field(default_factory=list)


def escort_source_key(schedule_id: int, session: dt.datetime) -> str:
    return f"escort:{schedule_id}:{timezone.localtime(session):%Y%m%d%H%M}"


def care_escorts_ensure(
    *, community: Community | None = None, now: dt.datetime | None = None, actor: User | None = None
) -> EscortReport:
    """For every treatment session starting within the lead time (default 24 h), make sure a
    medical-visit escort work order with closed-loop transport exists. Idempotent (one order per
    session by ``source_key``); meant to run on a schedule (e.g. every 15 minutes)."""
    now = timezone.localtime(now or timezone.now())
    lead = dt.timedelta(hours=escort_lead_hours())
    report = EscortReport()
    schedules = TreatmentSchedule.objects.filter(active=True, profile__active=True).select_related(
        "profile__resident__household__building__compound", "profile__community"
    )
    if community is not None:
        schedules = schedules.filter(profile__community=community)
    sealed_cache: dict[tuple[int, dt.date], set[int]] = {}
    for schedule in schedules:
        weekly = WeeklySchedule(parse_weekdays(schedule.weekdays), schedule.at, schedule.starts_on, schedule.ends_on)
        for session in sessions_due(weekly, now, lead):
            report.sessions += 1
            profile = schedule.profile
            resident = profile.resident
            building = resident.household.building
            key = (profile.community_id, session.date())
            if key not in sealed_cache:
                sealed_cache[key] = sealed_building_ids(profile.community, session.date())
            sealed = building.pk in sealed_cache[key]
            report.sealed += int(sealed)
            source_key = escort_source_key(schedule.pk, session)
            lines = [
                f"{schedule.get_kind_display()}：{session:%m-%d %H:%M} {schedule.hospital}",
                f"{resident.household.full_label} {resident.name}",
                "闭环转运：专车接送，全程不与他人接触 / closed-loop transport to the hospital and back",
                f"建议出发 {session - dt.timedelta(hours=1):%H:%M} / leave by {session - dt.timedelta(hours=1):%H:%M}",
            ]
            if sealed:
                lines.insert(0, "【封控楼栋 / SEALED BUILDING】")
                lines += list(SEALED_PAPERWORK)
            title = (
                f"{'【封控】' if sealed else ''}{schedule.get_kind_display()}护送 {resident.name} {session:%m-%d %H:%M}"
            )
            with transaction.atomic(durable=True):  # one session at a time: a sweep commits what it has done
                order, created = work_order_create_in_transaction(
                    community=profile.community,
                    kind="medical_escort",
                    title=title,
                    title_code="care.escort_sealed" if sealed else "care.escort",
                    title_args={"name": resident.name, "when": f"{session:%m-%d %H:%M}"},
                    actor=actor,
                    detail="\n".join(lines),
                    priority=Priority.URGENT,
                    due_at=session - dt.timedelta(hours=1),
                    resident=resident,
                    source_key=source_key,
                )
                if created:
                    report.created += 1
                    audit_record(
                        action=AuditAction.CARE_ESCORT_ORDER,
                        actor=actor,
                        target_type="treatment_schedule",
                        target_id=schedule.pk,
                        community_id=profile.community_id,
                        detail={"session": session.isoformat(), "order": order.pk, "sealed": sealed},
                    )
                    transaction.on_commit(
                        functools.partial(
                            signals.escort_ordered.send,
                            sender=TreatmentSchedule,
                            order_id=order.pk,
                            leave_at=(session - dt.timedelta(hours=1)).isoformat(),
                        ),
                        robust=True,
                    )
            report.order_ids.append(order.pk)
    return report


# --------------------------------------------------------------------------------------------
# Daily check-ins


def checkin_missed_source_key(profile_id: int, on: dt.date) -> str:
    """The cause of the evening sweep's order for a person living alone who was not reached."""
    return f"checkin:{profile_id}:{on:%Y%m%d}"


@transaction.atomic(durable=True)
def checkin_record(
    *,
    profile_id: int,
    actor: User,
    status: str,
    on: dt.date | None = None,
    note: str = "",
    receipt: Callable[[CheckIn], None] | None = None,
) -> CheckIn:
    """Record today's check-in (one per person per day; a second record replaces the first).
    'Needs help' opens an urgent work order at once. ``receipt`` (a phone's outbox tap) is called
    inside the transaction."""
    if status not in CheckInStatus.values:
        raise CareError(f"未知的状态「{status}」", f"unknown status {status!r}")
    on = on or timezone.localdate()
    profile = CareProfile.objects.select_related("resident__household__building__compound").get(pk=profile_id)
    checkin, _ = CheckIn.objects.update_or_create(
        profile=profile, on=on, defaults={"status": status, "note": note[:300], "by": actor}
    )
    audit_record(
        action=AuditAction.CARE_CHECKIN,
        actor=actor,
        target_type="care_profile",
        target_id=profile.pk,
        community_id=profile.community_id,
        detail={"on": str(on), "status": status},
    )
    if status != CheckInStatus.MISSED:
        # Reached today: the evening sweep's "missed check-in" order for this day is over.
        work_orders_close_in_transaction(
            source_keys=[checkin_missed_source_key(profile.pk, on)],
            outcome=Status.DONE,
            reason=CloseReason.CHECKED_IN,
            actor=actor,
        )
    if status == CheckInStatus.NEEDS_HELP:
        work_order_create_in_transaction(
            community=profile.community,
            kind="care_checkin",
            title=f"独居老人需要帮助 {profile.resident.name} / needs help",
            title_code="care.needs_help",
            title_args={"name": profile.resident.name},
            actor=actor,
            detail=note,
            priority=Priority.URGENT,
            resident=profile.resident,
            source_key=f"checkin-help:{profile.pk}:{on:%Y%m%d}",
        )
    if receipt is not None:
        receipt(checkin)
    return checkin


@dataclass
class CheckinCloseReport:
    due: int = 0
    missed: int = 0
    created: int = 0


def care_checkins_close(*, community: Community, actor: User | None, on: dt.date | None = None) -> CheckinCloseReport:
    """End of the check-in day: everyone living alone with no check-in that day is marked 'no answer'
    and gets an urgent work order (once per person per day)."""
    on = on or timezone.localdate()
    report = CheckinCloseReport()
    with transaction.atomic(durable=True):
        for profile in checkin_due(community):
            report.due += 1
            checkin = CheckIn.objects.filter(profile=profile, on=on).first()
            if checkin is not None and checkin.status != CheckInStatus.MISSED:
                continue
            if checkin is None:
                CheckIn.objects.create(profile=profile, on=on, status=CheckInStatus.MISSED, by=actor)
            report.missed += 1
            key = checkin_missed_source_key(profile.pk, on)
            resident = profile.resident
            _order, created = work_order_create_in_transaction(
                community=community,
                kind="care_checkin",
                title=f"今日未联系上 {resident.name}（独居）/ missed check-in",
                title_code="care.missed_checkin",
                title_args={"name": resident.name},
                actor=actor,
                detail=f"{resident.household.full_label}：{on} 无人应答，"
                "请立即上门查看 / no answer today: go to the door now",
                priority=Priority.URGENT,
                resident=resident,
                source_key=key,
            )
            report.created += int(created)
        audit_record(
            action=AuditAction.CARE_CHECKINS_CLOSE,
            actor=actor,
            target_type="community",
            target_id=community.pk,
            community=community,
            detail={"on": str(on), **vars(report)},
        )
    return report


def checkin_due(community: Community) -> list[CareProfile]:
    """Active profiles that need a daily check-in (living alone)."""
    condition = Q()
    for code in CHECKIN_NEEDS:
        condition |= Q(needs__contains=code)
    return list(
        CareProfile.objects.filter(condition, community=community, active=True)
        .select_related("resident__household__building__compound")
        .order_by("resident__household__building__sort_key", "resident__household__room")
    )


# --------------------------------------------------------------------------------------------
# Medicine on behalf


def _clean_medicines(medicines: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    out = []
    for m in medicines:
        name = str(m.get("name", "")).strip()[:100]
        if not name:
            continue
        out.append(
            {
                "name": name,
                "dose": str(m.get("dose", "")).strip()[:60],
                "quantity": str(m.get("quantity", "")).strip()[:30],
            }
        )
    if not out:
        raise CareError("至少填写一种药品", "at least one medicine is required")
    if len(out) > 20:
        raise CareError("药品太多，请分开申请", "too many medicines in one request")
    return out


def medicine_request_create(
    *,
    resident: Resident,
    actor: User | None,
    medicines: Sequence[Mapping[str, Any]],
    pharmacy: str,
    prescription: str = "",
    urgency: int = 2,
    payer: str = Payer.RESIDENT,
    client_id: str | None = None,
) -> MedicineRequest:
    """Record a request for medicine on a resident's behalf. A retry with the same ``client_id``
    returns the first request."""
    pharmacy = pharmacy.strip()[:100]
    if not pharmacy:
        raise CareError("请填写医院或药店", "the hospital or pharmacy is required")
    if payer not in Payer.values:
        raise CareError(f"未知的付款方式「{payer}」", f"unknown payer {payer!r}")
    if urgency not in (0, 1, 2):
        raise CareError("紧急程度无效", "invalid urgency")
    clean = _clean_medicines(medicines)
    with transaction.atomic(durable=True):
        if client_id:
            existing = MedicineRequest.objects.filter(client_id=client_id).first()
            if existing is not None:
                return existing
        request = MedicineRequest.objects.create(
            community_id=resident.community_id,
            resident=resident,
            medicines=clean,
            prescription=prescription.strip()[:300],
            pharmacy=pharmacy,
            urgency=urgency,
            payer=payer,
            client_id=client_id or None,
            created_by=actor,
        )
        audit_record(
            action=AuditAction.MEDICINE_REQUEST,
            actor=actor,
            target_type="medicine_request",
            target_id=request.pk,
            community_id=resident.community_id,
            detail={"pharmacy": pharmacy},
        )
    return request


@dataclass
class BatchReport:
    trips: list[MedicineTrip] = field(default_factory=list)
    requests: int = 0


@transaction.atomic(durable=True)
def medicine_trips_batch(*, community: Community, actor: User | None) -> BatchReport:
    """Batch every waiting request into one trip per hospital or pharmacy; each trip is a work order
    for a volunteer with the list, doors in walking order for the way back."""
    Community.objects.select_for_update().filter(pk=community.pk).first()
    waiting = list(
        MedicineRequest.objects.filter(community=community, status=MedicineStatus.REQUESTED, trip__isnull=True)
        .select_related("resident__household__building__compound")
        .order_by("urgency", "created_at")
    )
    by_pharmacy: dict[str, list[MedicineRequest]] = defaultdict(list)
    for request in waiting:
        by_pharmacy[request.pharmacy].append(request)
    report = BatchReport()
    for pharmacy, requests in sorted(by_pharmacy.items()):
        trip = MedicineTrip.objects.create(community=community, pharmacy=pharmacy, created_by=actor)
        households = list({r.resident.household_id: r.resident.household for r in requests}.values())
        try:
            ordered = walk_order(community, households, time_limit_s=0.2)
        except ValueError:  # no site plan: keep the order of the list
            ordered = list(households)
        rank = {h.pk: i for i, h in enumerate(ordered)}
        requests.sort(key=lambda r: rank.get(r.resident.household_id, 0))
        lines = [f"取药地点 / fetch at: {pharmacy}", ""]
        for i, r in enumerate(requests, start=1):
            household = r.resident.household
            meds = "；".join(f"{m['name']} {m['dose']} ×{m['quantity']}" for m in r.medicines)
            lines.append(
                f"{i}. {household.full_label} {r.resident.name}：{meds}"
                f"（{r.get_payer_display()}{'；' + r.prescription if r.prescription else ''}）"
            )
        urgency = min(r.urgency for r in requests)
        order, _created = work_order_create_in_transaction(
            community=community,
            kind="medicine",
            title=f"代配药 {pharmacy}（{len(requests)} 户）/ medicine trip",
            title_code="care.medicine_trip",
            title_args={"pharmacy": pharmacy, "n": len(requests)},
            actor=actor,
            detail="\n".join(lines),
            priority=min(urgency, Priority.NORMAL),
            source_key=f"medtrip:{trip.pk}",
        )
        trip.order = order
        trip.save(update_fields=["order"])
        MedicineRequest.objects.filter(pk__in=[r.pk for r in requests]).update(trip=trip, status=MedicineStatus.ON_TRIP)
        report.trips.append(trip)
        report.requests += len(requests)
        audit_record(
            action=AuditAction.MEDICINE_TRIP,
            actor=actor,
            target_type="medicine_trip",
            target_id=trip.pk,
            community=community,
            detail={"requests": len(requests), "order": order.pk},
        )
    return report


@transaction.atomic(durable=True)
def medicine_request_deliver(*, request_id: int, actor: User) -> MedicineRequest:
    """The medicine reached the door. Idempotent."""
    request = MedicineRequest.objects.select_for_update().get(pk=request_id)
    if request.status == MedicineStatus.DELIVERED:
        return request
    if request.status == MedicineStatus.CANCELLED:
        raise CareError("这项申请已取消", "this request was cancelled")
    request.status = MedicineStatus.DELIVERED
    request.delivered_at = timezone.now()
    request.delivered_by = actor
    request.save(update_fields=["status", "delivered_at", "delivered_by"])
    audit_record(
        action=AuditAction.MEDICINE_DELIVER,
        actor=actor,
        target_type="medicine_request",
        target_id=request.pk,
        community_id=request.community_id,
    )
    delivered = request.pk
    transaction.on_commit(
        lambda: signals.medicine_delivered.send(sender=MedicineRequest, request_id=delivered), robust=True
    )
    return request


@transaction.atomic(durable=True)
def medicine_request_cancel(*, request_id: int, actor: User) -> MedicineRequest:
    request = MedicineRequest.objects.select_for_update().get(pk=request_id)
    if request.status in {MedicineStatus.REQUESTED, MedicineStatus.ON_TRIP}:
        request.status = MedicineStatus.CANCELLED
        request.save(update_fields=["status"])
        audit_record(
            action=AuditAction.MEDICINE_CANCEL,
            actor=actor,
            target_type="medicine_request",
            target_id=request.pk,
            community_id=request.community_id,
        )
    return request
