"""Transfers: the waiting list (vulnerable first), beds per site, batches, hand-over, cancel, the report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog
from fangzhou.cases.models import Case, TransferBatch
from fangzhou.cases.selectors import transfer_waiting
from fangzhou.cases.services import case_confirm, case_discharge, case_pcr_record
from fangzhou.cases.transfers import (
    TransferError,
    isolation_site_save,
    transfer_batch_cancel,
    transfer_batch_hand_over,
    transfer_batch_plan,
)
from fangzhou.registry.tests.factories import World
from fangzhou.reports.selectors import daily_report
from fangzhou.workorders.models import Kind, Status, WorkOrder

pytestmark = pytest.mark.django_db


def _cases(world: World, *names: str) -> dict[str, Case]:
    """Confirm the residents' cases in this order, an hour apart (the first waits longest)."""
    cases = {}
    start = timezone.now() - dt.timedelta(hours=30)
    for i, name in enumerate(names):
        case, _ = case_confirm(
            resident=world.resident(name), report_date=timezone.localdate(), source="staff", actor=None
        )
        Case.objects.filter(pk=case.pk).update(created_at=start + dt.timedelta(hours=i))
        cases[name] = case
    return cases


def _plan(world: World, site_id: int, cases: list[Case], client_id: str = "f1") -> TransferBatch:
    return transfer_batch_plan(
        community=world.community,
        site_id=site_id,
        case_ids=[c.pk for c in cases],
        pickup_at=timezone.now(),
        vehicle="沪A·1",
        client_id=client_id,
        actor=world.secretary,
    ).batch


def test_the_vulnerable_wait_first_then_the_longest_waiting(world: World) -> None:
    _cases(world, "张伟", "李娜", "王秀英", "刘洋")  # 刘洋 on dialysis, 王秀英 elderly living alone
    waiting = transfer_waiting(world.secretary, world.community)
    assert [w.name for w in waiting] == ["王秀英", "刘洋", "张伟", "李娜"]
    assert waiting[0].needs == ["独居老人"] or waiting[0].needs == ["Elderly living alone"]
    assert waiting[2].waiting_hours == 30
    # a building leader sees counts elsewhere, never this list
    assert transfer_waiting(world.leader, world.community) == []


def test_a_batch_holds_beds_and_the_site_refuses_more_than_it_has(world: World) -> None:
    cases = _cases(world, "张伟", "李娜", "刘洋")
    site = isolation_site_save(community=world.community, name="国博方舱", kind="shelter", capacity=2, actor=None)
    with pytest.raises(TransferError) as refused:
        _plan(world, site.pk, list(cases.values()))
    assert "只剩 2 个床位" in refused.value.zh and "2 beds left for 3" in refused.value.en
    batch = _plan(world, site.pk, [cases["张伟"], cases["李娜"]])
    assert _plan(world, site.pk, [cases["张伟"], cases["李娜"]]).pk == batch.pk  # the same form again: one batch
    assert TransferBatch.objects.count() == 1
    with pytest.raises(TransferError):  # the site is full now
        _plan(world, site.pk, [cases["刘洋"]], client_id="f2")
    with pytest.raises(TransferError):  # a case already in a batch
        other = isolation_site_save(
            community=world.community, name="酒店", kind="isolation_point", capacity=5, actor=None
        )
        _plan(world, other.pk, [cases["张伟"]], client_id="f3")
    assert [w.name for w in transfer_waiting(world.secretary, world.community)] == ["刘洋"]


def test_hand_over_records_the_transfer_and_closes_the_task_once(world: World) -> None:
    cases = _cases(world, "张伟")
    site = isolation_site_save(community=world.community, name="国博方舱", kind="shelter", capacity=10, actor=None)
    batch = _plan(world, site.pk, [cases["张伟"]])
    transfer_batch_hand_over(
        community=world.community, batch_id=batch.pk, receiver="方舱 李医生", actor=world.secretary
    )
    transfer_batch_hand_over(community=world.community, batch_id=batch.pk, receiver="x", actor=world.secretary)
    case = Case.objects.get(pk=cases["张伟"].pk)
    assert (case.site_kind, case.site_name, case.transferred_on) == ("shelter", "国博方舱", timezone.localdate())
    order = WorkOrder.objects.get(source_key=f"case:{case.pk}:transfer")
    assert order.kind == Kind.TRANSFER and order.status == Status.DONE and order.close_reason == "transferred"
    batch.refresh_from_db()
    assert batch.status == "handed_over" and batch.receiver == "方舱 李医生"
    with pytest.raises(TransferError):
        transfer_batch_cancel(community=world.community, batch_id=batch.pk, actor=None)
    steps = list(
        AuditLog.objects.filter(action=AuditAction.TRANSFER_BATCH).order_by("id").values_list("detail__step", flat=True)
    )
    assert steps == ["planned", "handed_over"]


def test_cancel_puts_the_people_back_and_frees_the_beds(world: World) -> None:
    cases = _cases(world, "张伟")
    site = isolation_site_save(community=world.community, name="国博方舱", kind="shelter", capacity=1, actor=None)
    batch = _plan(world, site.pk, [cases["张伟"]])
    assert transfer_waiting(world.secretary, world.community) == []
    transfer_batch_cancel(community=world.community, batch_id=batch.pk, actor=None)
    assert [w.name for w in transfer_waiting(world.secretary, world.community)] == ["张伟"]
    assert _plan(world, site.pk, [cases["张伟"]], client_id="again").cases.count() == 1


def test_a_discharge_frees_its_bed(world: World) -> None:
    cases = _cases(world, "张伟", "李娜")
    site = isolation_site_save(community=world.community, name="国博方舱", kind="shelter", capacity=1, actor=None)
    batch = _plan(world, site.pk, [cases["张伟"]])
    transfer_batch_hand_over(community=world.community, batch_id=batch.pk, receiver="", actor=None)
    case = cases["张伟"]
    day = timezone.localdate()
    for hours in (0, 25):
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(0))) + dt.timedelta(hours=hours)
        case_pcr_record(case_id=case.pk, sampled_at=moment, negative=True, ct=38, actor=None)
    case_discharge(case_id=case.pk, discharged_on=day + dt.timedelta(days=2), actor=None)
    assert _plan(world, site.pk, [cases["李娜"]], client_id="f2").cases.count() == 1


def test_the_daily_report_shows_the_longest_wait(world: World) -> None:
    _cases(world, "张伟", "李娜")
    report = daily_report(world.secretary, world.community, timezone.localdate())
    assert report.cases.awaiting_transfer == 2 and report.cases.longest_wait_hours == 30
    client = Client()
    client.force_login(world.secretary)
    data = client.get(f"/api/reports/communities/T01/daily?day={timezone.localdate().isoformat()}").json()
    assert data["cases"]["longest_wait_hours"] == 30


def test_the_page_plans_hands_over_and_says_what_is_wrong(world: World) -> None:
    cases = _cases(world, "刘洋", "张伟")
    client = Client()
    client.force_login(world.secretary)
    r = client.post("/cases/c/T01/transfers/sites/", {"name": "国博方舱", "kind": "shelter", "capacity": "1"})
    assert r.status_code == 302
    site = world.community.isolation_sites.get()
    page = client.get("/cases/c/T01/transfers/").content.decode()
    assert page.index("刘洋") < page.index("张伟") and "血透" in page
    bad = client.post(
        "/cases/c/T01/transfers/plan/",
        {"client_id": "p1", "site": site.pk, "case": [c.pk for c in cases.values()], "pickup_at": "2022-04-20T15:00"},
    )
    assert bad.status_code == 400 and "只剩 1 个床位" in bad.content.decode()
    assert (
        client.post(
            "/cases/c/T01/transfers/plan/", {"client_id": "p1", "site": site.pk, "case": [], "pickup_at": "明天"}
        ).status_code
        == 400
    )
    ok = client.post(
        "/cases/c/T01/transfers/plan/",
        {"client_id": "p2", "site": site.pk, "case": [cases["刘洋"].pk], "pickup_at": "2022-04-20T15:00"},
    )
    assert ok.status_code == 302
    batch = TransferBatch.objects.get()
    assert client.post(f"/cases/c/T01/transfers/{batch.pk}/hand-over/", {"receiver": "李医生"}).status_code == 302
    assert Case.objects.get(pk=cases["刘洋"].pk).site_name == "国博方舱"
    # Only the committee: a building leader and another community's secretary are refused.
    for user in (world.leader, world.outsider):
        other = Client()
        other.force_login(user)
        assert other.get("/cases/c/T01/transfers/").status_code == 404
        assert other.post(f"/cases/c/T01/transfers/{batch.pk}/cancel/").status_code == 404
