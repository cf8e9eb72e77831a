"""Emergency priority, escalation, residents' requests and their status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, Priority, ResidentRequest, Status, WorkOrder, WorkOrderEvent
from fangzhou.workorders.selectors import request_board, request_public
from fangzhou.workorders.services import (
    resident_request_escalate,
    resident_request_submit,
    work_order_claim,
    work_order_create,
    work_order_transition,
    work_orders_escalate,
)


def test_dialysis_patient_medical_job_is_an_emergency_and_goes_first(world: World) -> None:
    liu = world.resident("刘洋")  # on dialysis
    zhang = world.resident("张伟")
    normal, _created = work_order_create(
        community=world.community, kind=Kind.MEDICINE, title="配药", actor=None, resident=zhang
    )
    urgent, _created = work_order_create(
        community=world.community, kind=Kind.MEDICAL_ESCORT, title="血透接送", actor=None, resident=liu
    )
    delivery, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜", actor=None, resident=liu
    )
    acute, _created = work_order_create(
        community=world.community, kind=Kind.OTHER, title="胸痛", actor=None, resident=zhang, acute=True
    )
    assert urgent.priority == Priority.EMERGENCY and urgent.emergency_reason == "dialysis"
    assert delivery.priority == Priority.NORMAL  # not a medical job
    assert acute.priority == Priority.EMERGENCY and acute.emergency_reason == "acute_illness"
    assert list(WorkOrder.objects.filter(pk__in=[normal.pk, urgent.pk]).values_list("pk", flat=True)) == [
        urgent.pk,
        normal.pk,
    ]


def test_overdue_orders_go_to_the_lead_then_to_the_committee(world: World, settings: Any) -> None:
    settings.FANGZHOU_ESCALATE_COMMITTEE_MINUTES = 60
    now = timezone.now()
    order, _created = work_order_create(
        community=world.community, kind=Kind.PATROL, title="巡逻", actor=None, due_at=now - dt.timedelta(minutes=10)
    )
    later, _created = work_order_create(
        community=world.community, kind=Kind.PATROL, title="稍后", actor=None, due_at=now + dt.timedelta(hours=3)
    )
    assert work_orders_escalate(now=now) == {"lead": 1, "committee": 0}
    assert work_orders_escalate(now=now) == {"lead": 0, "committee": 0}  # twice is harmless
    order.refresh_from_db()
    assert order.escalation_level == 1
    assert work_orders_escalate(now=now + dt.timedelta(minutes=90)) == {"lead": 0, "committee": 1}
    order.refresh_from_db()
    later.refresh_from_db()
    assert order.escalation_level == 2 and later.escalation_level == 0
    notes = list(WorkOrderEvent.objects.filter(order=order).values_list("note", flat=True))
    assert any("group lead" in n for n in notes) and any("committee" in n for n in notes)
    # Done orders are never escalated.
    work_order_transition(order_id=later.pk, actor=world.secretary, action="cancel")
    assert work_orders_escalate(now=now + dt.timedelta(days=1)) == {"lead": 0, "committee": 0}


def test_a_request_becomes_one_work_order_and_a_retry_changes_nothing(world: World) -> None:
    building_tokens_ensure(community=world.community)
    kwargs: dict[str, Any] = {
        "building": world.b3,
        "kind": "medicine",
        "urgency": 1,
        "text": "降压药只剩一天",
        "room": "101",
        "contact_phone": "13800001234",
        "client_id": "x" * 32,
    }
    req, created = resident_request_submit(**kwargs)
    again, created_again = resident_request_submit(**kwargs)
    assert created and not created_again and again.pk == req.pk
    assert ResidentRequest.objects.count() == 1 and WorkOrder.objects.count() == 1
    order = req.order
    assert order is not None and order.kind == Kind.RESIDENT_REQUEST and order.group == "medical"
    assert order.household is not None and order.household.room == "101"
    assert order.resident == world.resident("张伟")
    assert len(req.reference) == 6
    assert request_public(world.b3, req.reference.lower()) == req
    assert request_public(world.b5, req.reference) is None  # the reference alone is not enough


def test_request_status_follows_the_order_and_closed_counts_per_day(world: World) -> None:
    req, _ = resident_request_submit(building=world.b5, kind="food", text="没有菜了", client_id="y" * 32)
    v = approved(world.community, "送菜员", "13811112345", groups=("supplies",))
    assert v.user is not None and req.order is not None
    assert work_order_claim(order_id=req.order.pk, actor=v.user).won
    photo = SimpleUploadedFile("door.jpg", b"\xff\xd8\xff fake jpeg", content_type="image/jpeg")
    work_order_transition(order_id=req.order.pk, actor=v.user, action="done", note="已放门口", photo=photo)
    shown = request_public(world.b5, req.reference)
    assert shown is not None and shown.order is not None and shown.order.status == Status.DONE
    assert shown.order.completion_note == "已放门口" and shown.order.completion_photo.name
    board = request_board(world.secretary, world.community)
    assert board.closed_today == 1 and board.open == []


def test_escalating_a_request_to_the_subdistrict_happens_once(world: World) -> None:
    req, _ = resident_request_submit(building=world.b3, kind="repair", text="水管爆了", client_id="z" * 32)
    first = resident_request_escalate(request=req, actor=world.secretary, note="需要物业")
    at = first.escalated_at
    second = resident_request_escalate(request=req, actor=world.secretary)
    assert at is not None and second.escalated_at == at
