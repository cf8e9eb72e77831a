"""The outbox's receipt is committed with the action it answers (issue 13): a crash after the
action but before its receipt cannot happen where the action is one transaction, because the
service calls the receipt inside it. Here the "crash" is a receipt that raises: the action must
be gone with it, so the phone's replay finds the action undone and does it once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from fangzhou.care import services as care_services
from fangzhou.care.models import CareProfile, CheckIn
from fangzhou.registry.tests.factories import World
from fangzhou.supplies import services as supplies_services
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.testing import services as testing_services
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Sample
from fangzhou.tests.test_outbox import OUTBOX, client_for, deliveries, door_round, order_and_two, placed, tap
from fangzhou.workorders import services as order_services
from fangzhou.workorders.models import OutboxReceipt, ResidentRequest, Status, WorkOrder

__all__ = ["deliveries", "door_round", "order_and_two", "placed"]  # fixtures shared with test_outbox


class Crash(Exception):
    pass


def crash(_result: Any) -> None:
    raise Crash


def test_a_crash_at_the_receipt_leaves_no_claim_nor_transition(order_and_two: Any) -> None:
    order, a, _b = order_and_two
    with pytest.raises(Crash):
        order_services.work_order_claim(order_id=order.pk, actor=a, receipt=crash)
    order.refresh_from_db()
    assert order.status == Status.OPEN and order.assignee is None
    order_services.work_order_claim(order_id=order.pk, actor=a)
    with pytest.raises(Crash):
        order_services.work_order_transition(order_id=order.pk, actor=a, action="start", receipt=crash)
    assert WorkOrder.objects.get(pk=order.pk).status == Status.CLAIMED


def test_a_crash_at_the_receipt_leaves_no_delivery_mark(placed: World, deliveries: list[Delivery]) -> None:
    door = deliveries[0]
    with pytest.raises(Crash):
        supplies_services.delivery_mark(delivery_id=door.pk, actor=placed.volunteer, receipt=crash)
    door.refresh_from_db()
    assert door.status == DeliveryStatus.PENDING and door.delivered_by is None


def test_a_crash_at_the_receipt_leaves_no_checkin_no_sample_no_request_no_antigen(
    placed: World, door_round: Any
) -> None:
    care_services.care_registry_sync(community=placed.community, actor=None)
    profile = CareProfile.objects.get(resident__name="王秀英")
    with pytest.raises(Crash):
        care_services.checkin_record(profile_id=profile.pk, actor=placed.leader, status="ok", receipt=crash)
    assert not CheckIn.objects.exists()
    zhang = placed.resident("张伟")
    with pytest.raises(Crash):
        testing_services.sample_take(
            round=door_round, residents=[zhang], actor=placed.leader, station="door:1", door_to_door=True, receipt=crash
        )
    assert not Sample.objects.exists()
    with pytest.raises(Crash):
        order_services.resident_request_submit(
            building=placed.b3, kind="food", text="没有米了", client_id=uuid.uuid4().hex, receipt=crash
        )
    assert not ResidentRequest.objects.exists() and not WorkOrder.objects.filter(kind="resident_request").exists()
    with pytest.raises(Crash):
        testing_services.antigen_report_on_behalf(
            household=zhang.household,
            day=timezone.localdate(),
            results={zhang.pk: "negative"},
            client_id=uuid.uuid4().hex,
            actor=placed.leader,
            receipt=crash,
        )
    assert not AntigenSubmission.objects.exists() and not AntigenReport.objects.exists()


def test_each_endpoint_writes_one_receipt_with_the_action(placed: World, deliveries: list[Delivery]) -> None:
    door = deliveries[0]
    form = tap()
    client = client_for(placed.volunteer)
    assert client.post(f"/supplies/delivery/{door.pk}/mark/", form, **OUTBOX).json()["ok"]
    undo = tap(undo="1")
    assert client.post(f"/supplies/delivery/{door.pk}/mark/", undo, **OUTBOX).json()["message"] == "已改回未送达。"
    assert [r.kind for r in OutboxReceipt.objects.order_by("pk")] == ["delivery_mark", "delivery_undo"]
    assert all(r.outcome == OutboxReceipt.Outcome.DONE for r in OutboxReceipt.objects.all())
