"""Orders close themselves when the condition that opened them ends (issue 10): a re-test result,
an antigen report corrected, a door served by someone else, a check-in made, a schedule stopped.
Each closes in the same transaction as the ending event, with its audit row and a reason code the
reader sees in their own language."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog, User
from fangzhou.care import services as care_services
from fangzhou.care.models import CareProfile
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.supplies import services as supplies_services
from fangzhou.supplies.models import Delivery
from fangzhou.testing.models import Retest, Sample, TubeKind
from fangzhou.testing.services import antigen_report_submit, results_import, sample_take
from fangzhou.testing.tests.helpers import DAY, csv_bytes, sampled_round
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import CloseReason, Status, WorkOrder
from fangzhou.workorders.services import work_order_claim

pytestmark = pytest.mark.django_db

HEADER = ["试管编码", "检测结果", "检测时间"]


def _positive_pool(world: World) -> tuple[int, list[Resident]]:
    """A round whose tube of household 3-101 is positive: 张伟 and 李娜 pending re-test."""
    rnd = sampled_round(world)
    zhang, li = world.resident("张伟"), world.resident("李娜")
    code = Sample.objects.get(resident=zhang, kind=TubeKind.POOLED).tube.code
    results_import(
        round=rnd, data=csv_bytes([HEADER, [code, "阳性", "2022-04-12 20:00"]]), filename="a.csv", actor=world.secretary
    )
    return rnd.pk, [zhang, li]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_single_tube_result_closes_the_door_order_with_its_reason(world: World) -> None:
    round_id, (zhang, li) = _positive_pool(world)
    rnd = Retest.objects.get(resident=zhang).round
    assert rnd is not None and rnd.pk == round_id
    order_zhang = Retest.objects.get(resident=zhang).work_order
    order_li = Retest.objects.get(resident=li).work_order
    assert order_zhang is not None and order_li is not None
    work_order_claim(order_id=order_li.pk, actor=world.secretary)  # someone is on the way to 李娜's door
    singles = {
        r.pk: sample_take(round=rnd, residents=[r], actor=world.secretary, station="door", door_to_door=True).tube.code
        for r in (zhang, li)
    }
    lab = csv_bytes([HEADER, [singles[zhang.pk], "阳性", "2022-04-13 18:00"], [singles[li.pk], "阴性", ""]])
    before = AuditLog.objects.order_by("-id").values_list("id", flat=True).first()
    results_import(round=rnd, data=lab, filename="r.csv", actor=world.secretary)

    order_zhang.refresh_from_db()
    order_li.refresh_from_db()
    assert (order_zhang.status, order_zhang.close_reason) == (Status.CANCELLED, CloseReason.CASE_CONFIRMED)
    assert (order_li.status, order_li.close_reason) == (Status.DONE, CloseReason.RETEST_NEGATIVE)
    assert order_li.closed_at is not None and order_li.assignee == world.secretary
    closed = AuditLog.objects.filter(id__gt=before, action=AuditAction.WORK_ORDER_AUTO_CLOSE)
    assert {(r.target_id, r.detail["reason"]) for r in closed} == {
        (str(order_zhang.pk), "case_confirmed"),
        (str(order_li.pk), "retest_negative"),
    }
    # The event stores the code; the page shows it in the reader's language.
    assert order_li.events.last().reason == "retest_negative"  # type: ignore[union-attr]
    client = _client(world.secretary)
    page = client.get(f"/orders/{order_li.pk}/").content.decode()
    assert "复检阴性" in page and "retest_negative" not in page
    assert "→ done" not in page and "→ 已完成" in page  # the history names statuses, not codes
    api = client.get(f"/api/orders/{order_li.pk}").json()
    assert (api["close_reason"], api["close_reason_text"]) == ("retest_negative", "复检阴性")
    history = client.get(f"/api/orders/{order_li.pk}/history").json()["items"]
    assert history[-1]["reason"] == "retest_negative" and history[-1]["to_status"] == "done"
    client.cookies["django_language"] = "en"
    english = client.get(f"/orders/{order_zhang.pk}/").content.decode()
    assert "Confirmed case: moved to case handling" in english
    # Nobody is sent to a cleared door: no re-test order of theirs is active any more.
    assert not WorkOrder.objects.filter(
        kind="retest", resident__in=[zhang, li], status__in=["open", "claimed"]
    ).exists()


def test_the_volunteer_sees_why_their_order_vanished_and_a_stale_claim_says_so(world: World) -> None:
    _round_id, (zhang, li) = _positive_pool(world)
    on_way = approved(world.community, "志愿者甲", "13511110001", groups=("testing",)).user
    stale = approved(world.community, "志愿者乙", "13511110002", groups=("testing",)).user
    assert on_way is not None and stale is not None
    retests = {r.resident_id: r for r in Retest.objects.select_related("round", "work_order")}
    li_order, zhang_order = retests[li.pk].work_order, retests[zhang.pk].work_order
    rnd = retests[li.pk].round
    assert li_order is not None and zhang_order is not None and rnd is not None
    assert work_order_claim(order_id=li_order.pk, actor=on_way).won
    singles = [
        sample_take(round=rnd, residents=[r], actor=world.secretary, station="d", door_to_door=True).tube.code
        for r in (li, zhang)
    ]
    lab = csv_bytes([HEADER, [singles[0], "阴性", ""], [singles[1], "阴性", ""]])
    results_import(round=rnd, data=lab, filename="r.csv", actor=None)
    # The volunteer on the way: the order left their list, and the page says why.
    mine = _client(on_way).get("/orders/?view=mine").content.decode()
    assert "已自动关闭" in mine and "复检阴性" in mine and "无需再上门" in mine
    # A volunteer tapping 认领 on a card loaded before the result: told not to go, nothing claimed.
    answer = _client(stale).post(f"/orders/{zhang_order.pk}/claim/", HTTP_HX_REQUEST="true")
    body = answer.content.decode()
    assert answer.status_code == 200 and "复检阴性" in body and "无需上门" in body
    api = _client(stale).post(f"/api/orders/{zhang_order.pk}/claim")
    assert api.status_code == 409 and "复检阴性" in api.json()["zh"] and "Re-test negative" in api.json()["en"]
    zhang_order.refresh_from_db()
    assert zhang_order.status == Status.DONE and zhang_order.assignee is None


def test_an_antigen_positive_corrected_the_same_day_ends_its_retest_and_order(world: World) -> None:
    li = world.resident("李娜")
    household = li.household
    antigen_report_submit(household=household, day=DAY, results={li.pk: "positive"}, client_id=uuid.uuid4().hex)
    retest = Retest.objects.get(resident=li, status=Retest.Status.PENDING)
    assert retest.work_order is not None and retest.work_order.status == Status.OPEN
    antigen_report_submit(household=household, day=DAY, results={li.pk: "negative"}, client_id=uuid.uuid4().hex)
    retest.refresh_from_db()
    order = WorkOrder.objects.get(pk=retest.work_order_id)
    assert retest.status == Retest.Status.CLEARED
    assert (order.status, order.close_reason) == (Status.CANCELLED, CloseReason.ANTIGEN_CORRECTED)


def test_a_later_days_negative_antigen_does_not_clear_a_positive(world: World) -> None:
    li = world.resident("李娜")
    antigen_report_submit(household=li.household, day=DAY, results={li.pk: "positive"}, client_id=uuid.uuid4().hex)
    antigen_report_submit(
        household=li.household, day=DAY + dt.timedelta(days=1), results={li.pk: "negative"}, client_id=uuid.uuid4().hex
    )
    retest = Retest.objects.get(resident=li)
    assert retest.status == Retest.Status.PENDING and retest.work_order is not None
    assert WorkOrder.objects.get(pk=retest.work_order_id).status == Status.OPEN


def test_a_door_delivered_by_someone_else_closes_the_sweeps_order(world: World) -> None:
    dist = supplies_services.distribution_create(
        community=world.community, name="第一批", kind="government", on=DAY, actor=world.secretary, package={"米": 1}
    )
    supplies_services.distribution_allocate(distribution=dist, actor=world.secretary)
    report = supplies_services.deliveries_sweep(distribution=dist, actor=None, on=DAY)
    assert report.created == 3
    wang = world.resident("王秀英")
    delivery = Delivery.objects.get(distribution=dist, household=wang.household)
    supplies_services.delivery_mark(delivery_id=delivery.pk, actor=world.volunteer, today=DAY)
    order = WorkOrder.objects.get(source_key=f"supply:{dist.pk}:{wang.household_id}")
    assert (order.status, order.close_reason) == (Status.DONE, CloseReason.DELIVERED)
    others = WorkOrder.objects.filter(kind="supply_delivery").exclude(pk=order.pk)
    assert {o.status for o in others} == {Status.OPEN}


def test_a_checkin_done_closes_the_missed_checkin_order(world: World) -> None:
    care_services.care_registry_sync(community=world.community, actor=None)
    profile = CareProfile.objects.get(resident=world.resident("王秀英"))
    care_services.care_checkins_close(community=world.community, actor=None, on=DAY)
    order = WorkOrder.objects.get(source_key=f"checkin:{profile.pk}:{DAY:%Y%m%d}")
    assert order.status == Status.OPEN
    care_services.checkin_record(profile_id=profile.pk, actor=world.volunteer, status="ok", on=DAY)
    order.refresh_from_db()
    assert (order.status, order.close_reason) == (Status.DONE, CloseReason.CHECKED_IN)


def test_stopping_a_schedule_cancels_its_coming_escorts(world: World) -> None:
    care_services.care_registry_sync(community=world.community, actor=None)
    profile = CareProfile.objects.get(resident=world.resident("王秀英"))
    # A session a few hours from now, whatever the time of day the suite runs (within the escort lead).
    session = timezone.localtime() + dt.timedelta(hours=3)
    schedule = care_services.treatment_schedule_set(
        profile_id=profile.pk,
        actor=world.secretary,
        kind="dialysis",
        weekdays=str(session.isoweekday()),
        at=dt.time(session.hour),
        hospital="H",
    )
    report = care_services.care_escorts_ensure(community=world.community, actor=None)
    assert report.created == 1
    care_services.treatment_schedule_stop(schedule_id=schedule.pk, actor=world.secretary)
    order = WorkOrder.objects.get(pk=report.order_ids[0])
    assert (order.status, order.close_reason) == (Status.CANCELLED, CloseReason.SCHEDULE_STOPPED)
