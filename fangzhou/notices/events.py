"""What the system says by itself: receivers of the lower apps' signals (connected in
``NoticesConfig.ready()``), each one notice per event (idempotent on its event key).

Each receiver runs after the lower app's transaction committed. A failure here is logged and never
undoes or breaks the work that caused it (the notice can be sent by hand).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from fangzhou.care.models import MedicineRequest
from fangzhou.cases.models import Case
from fangzhou.notices.services import NoticeSpec, notice_send, notices_send_many
from fangzhou.registry.models import Community
from fangzhou.supplies.models import Delivery
from fangzhou.testing.models import Result, Tube
from fangzhou.volunteers.models import ShiftAssignment
from fangzhou.workorders.models import ResidentRequest, Status, WorkOrder

log = logging.getLogger(__name__)

# A request's status changes that its household hears about (a release back to the queue is not news).
TOLD = (Status.CLAIMED, Status.IN_PROGRESS, Status.DONE, Status.CANCELLED)


def _logged(receiver: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(receiver)
    def run(**kwargs: Any) -> None:
        try:
            receiver(**kwargs)
        except Exception:
            log.exception("notice for %s failed", receiver.__name__)

    return run


@_logged
def on_pooled_positive(*, tube_ids: list[int], **_: Any) -> None:
    """One notice per positive pooled tube to its households, written for all the tubes of an
    import at once (``notices_send_many``: a city round's hundreds of tubes in a few statements)."""
    by_community: dict[int, tuple[Community, list[int]]] = {}
    for tube in Tube.objects.filter(pk__in=tube_ids).select_related("round__community").order_by("pk"):
        community = tube.round.community
        by_community.setdefault(community.pk, (community, []))[1].append(tube.pk)
    for community, tubes in by_community.values():
        notices_send_many(
            community=community,
            kind="pool_positive",
            audience="tube",
            specs=[
                NoticeSpec(audience_args={"tube_id": [tube_id]}, event_key=f"pool_positive:tube:{tube_id}")
                for tube_id in tubes
            ],
        )


@_logged
def on_single_result(*, tube_id: int, result: str, **_: Any) -> None:
    tube = Tube.objects.select_related("round__community").filter(pk=tube_id).first()
    if tube is None:
        return
    notice_send(
        community=tube.round.community,
        kind="single_cleared" if result == Result.NEGATIVE else "single_followup",
        audience="tube",
        audience_args={"tube_id": [tube.pk]},
        event_key=f"single:tube:{tube.pk}",
    )


@_logged
def on_delivery_done(*, delivery_id: int, **_: Any) -> None:
    delivery = Delivery.objects.select_related("distribution__community").filter(pk=delivery_id).first()
    if delivery is None:
        return
    notice_send(
        community=delivery.distribution.community,
        kind="delivery_done",
        audience="household",
        audience_args={"household_id": [delivery.household_id]},
        args={"distribution": delivery.distribution.name},
        event_key=f"delivery_done:{delivery.pk}",
    )


@_logged
def on_order_status_changed(*, order_id: int, status: str, **_: Any) -> None:
    if status not in TOLD:
        return
    request = ResidentRequest.objects.select_related("community").filter(order_id=order_id).first()
    if request is None or request.household_id is None:
        return
    notice_send(
        community=request.community,
        kind="request_status",
        audience="household",
        audience_args={"household_id": [request.household_id]},
        args={"reference": request.reference, "status": status},
        event_key=f"request:{request.pk}:{status}",
    )


@_logged
def on_medicine_delivered(*, request_id: int, **_: Any) -> None:
    request = MedicineRequest.objects.select_related("resident").filter(pk=request_id).first()
    if request is None:
        return
    notice_send(
        community=Community.objects.get(pk=request.community_id),
        kind="medicine_ready",
        audience="household",
        audience_args={"household_id": [request.resident.household_id]},
        event_key=f"medicine:{request.pk}",
    )


@_logged
def on_shift_assigned(*, assignment_id: int, **_: Any) -> None:
    assignment = ShiftAssignment.objects.select_related("shift__community").filter(pk=assignment_id).first()
    if assignment is None:
        return
    shift = assignment.shift
    starts = timezone.localtime(shift.starts_at, shift.community.tzinfo)
    notice_send(
        community=shift.community,
        kind="shift_new",
        audience="shift",
        audience_args={"shift_id": [shift.pk], "volunteer_id": assignment.volunteer_id},
        args={"post": shift.post, "time": starts.strftime("%m-%d %H:%M")},
        event_key=f"shift:{assignment.pk}",
    )


@_logged
def on_discharged(*, case_id: int, **_: Any) -> None:
    case = Case.objects.select_related("community", "resident").filter(pk=case_id).first()
    if case is None or case.monitoring_until is None:
        return
    notice_send(
        community=case.community,
        kind="discharged",
        audience="household",
        audience_args={"household_id": [case.resident.household_id]},
        args={"until": f"{case.monitoring_until:%m-%d}"},
        event_key=f"discharged:{case.pk}",
    )


@_logged
def on_escort_ordered(*, order_id: int, leave_at: str, **_: Any) -> None:
    order = WorkOrder.objects.select_related("community", "resident").filter(pk=order_id).first()
    if order is None or order.resident is None:
        return
    leave = timezone.localtime(dt.datetime.fromisoformat(leave_at), order.community.tzinfo)
    notice_send(
        community=order.community,
        kind="escort_time",
        audience="household",
        audience_args={"household_id": [order.resident.household_id]},
        args={"time": f"{leave:%m-%d %H:%M}"},
        event_key=f"escort:{order.pk}",
    )


def events_connect() -> None:
    """Connect the receivers (``dispatch_uid``: once, however often ``ready()`` runs)."""
    from fangzhou.care.signals import escort_ordered, medicine_delivered
    from fangzhou.cases.signals import discharged
    from fangzhou.supplies.signals import delivery_done
    from fangzhou.testing.signals import pooled_positive, single_result
    from fangzhou.volunteers.signals import shift_assigned
    from fangzhou.workorders.signals import order_status_changed

    pooled_positive.connect(on_pooled_positive, dispatch_uid="notices.pooled_positive")
    single_result.connect(on_single_result, dispatch_uid="notices.single_result")
    delivery_done.connect(on_delivery_done, dispatch_uid="notices.delivery_done")
    order_status_changed.connect(on_order_status_changed, dispatch_uid="notices.order_status")
    medicine_delivered.connect(on_medicine_delivered, dispatch_uid="notices.medicine_delivered")
    shift_assigned.connect(on_shift_assigned, dispatch_uid="notices.shift_assigned")
    discharged.connect(on_discharged, dispatch_uid="notices.discharged")
    escort_ordered.connect(on_escort_ordered, dispatch_uid="notices.escort_ordered")


# --------------------------------------------------------------------------------------------------
# What the system tells on the clock, not on a signal: a building's sampling time for today's round,
# a building's zone status that changed since yesterday, and the end of a household's home health
# monitoring. One job on the schedule (``notices_time_events``); each notice once by its event key,
# so the job may run as often as it likes.


def sampling_times_tell(community: Community, now: dt.datetime) -> int:
    """Today's rounds: each building with a time still ahead is told its time and site (a changed
    time is a new event)."""
    from fangzhou.testing.models import BuildingSlot

    told = 0
    today = timezone.localdate(now, community.tzinfo)
    for slot in BuildingSlot.objects.filter(
        round__community=community, round__date=today, starts_at__gt=now
    ).select_related("site", "building__compound"):
        start = timezone.localtime(slot.starts_at, community.tzinfo)
        sent = notice_send(
            community=community,
            kind="sampling_time",
            audience="building",
            audience_args={"building_ids": [slot.building_id]},
            args={"time": f"{start:%H:%M}", "site": slot.site.name, "building": slot.building.full_label},
            event_key=f"sampling_time:{slot.pk}:{start:%Y%m%d%H%M}",
        )
        told += int(sent.created)
    return told


def zone_changes_tell(community: Community, today: dt.date) -> int:
    """Buildings whose zone status today differs from yesterday's: each household told once."""
    from fangzhou.zones.selectors import zone_reports

    now_report = zone_reports([community], today)[community.pk]
    before = {
        b.id: b.state.status for b in zone_reports([community], today - dt.timedelta(days=1))[community.pk].buildings
    }
    told = 0
    for building in now_report.buildings:
        status = building.state.status
        if building.id not in before or before[building.id] == status:
            continue
        notice_send(
            community=community,
            kind="zone_changed",
            audience="building",
            audience_args={"building_ids": [building.id]},
            args={
                "building": building.label,
                "status": now_report.label(status, "zh"),
                "status_en": now_report.label(status, "en"),
            },
            event_key=f"zone_changed:{building.id}:{status}:{today.isoformat()}",
        )
        told += 1
    return told


def monitoring_ends_tell(community: Community, today: dt.date) -> int:
    """Home health monitoring that ended (its last day was yesterday or the day before): told once."""
    told = 0
    for case in Case.objects.filter(
        community=community,
        monitoring_until__lt=today,
        monitoring_until__gte=today - dt.timedelta(days=2),
    ).select_related("resident"):
        notice_send(
            community=community,
            kind="monitoring_end",
            audience="household",
            audience_args={"household_id": [case.resident.household_id]},
            event_key=f"monitoring_end:{case.pk}",
        )
        told += 1
    return told
