"""Titles the system writes are built in the reader's language when shown, not stored in one."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import World
from fangzhou.reports.tests.helpers import client_for
from fangzhou.workorders.models import Kind, WorkOrder, WorkOrderEvent
from fangzhou.workorders.services import work_order_create
from fangzhou.workorders.texts import title_text

pytestmark = pytest.mark.django_db


def test_a_case_transfer_order_reads_in_chinese_and_in_english(world: World) -> None:
    case_confirm(resident=world.resident("刘洋"), report_date=timezone.localdate(), source="staff", actor=None)
    order = WorkOrder.objects.get(title_code="case.transfer")
    client = client_for(world.secretary)
    zh = client.get("/orders/").content.decode()
    assert "安排转运：阳光小区 5号楼 201室" in zh and "Arrange transfer" not in zh
    detail = client.get(f"/orders/{order.pk}/").content.decode()
    assert "Arrange" not in detail and "待处理" in detail  # the history's statuses are labels too
    client.cookies["django_language"] = "en"
    en = client.get("/orders/").content.decode()
    assert "Arrange transfer: 阳光小区 5号楼 201室" in en and "安排转运" not in en


def test_a_title_typed_by_a_person_or_an_unknown_code_is_shown_as_stored() -> None:
    assert title_text("", {}, "修水管") == "修水管"
    assert title_text("no.such.code", {"x": 1}, "旧标题") == "旧标题"
    assert title_text("case.transfer", {"wrong": 1}, "旧标题") == "旧标题"


def test_a_recorded_request_is_in_the_list_beside_its_saved_message(world: World) -> None:
    """A screen never says "recorded" beside a list that says nothing exists."""
    client = client_for(world.secretary)
    page = client.post(
        "/orders/requests/new/",
        {"building": world.b3.pk, "room": "101", "kind": "food", "urgency": "1", "text": "缺米面"},
        follow=True,
    ).content.decode()
    assert "已登记" in page, page[page.find("<main") :][:600]
    assert "缺米面" in page and "没有待处理的诉求" not in page


def test_a_residents_request_order_names_its_kind_in_the_readers_language(world: World) -> None:
    client = client_for(world.secretary)
    client.post(
        "/orders/requests/new/",
        {"building": world.b3.pk, "room": "101", "kind": "repair", "urgency": "1", "text": "水管漏水"},
    )
    order = WorkOrder.objects.get(title_code="request.order")
    assert "报修" in order.display_title or "维修" in order.display_title, order.display_title
    client.cookies["django_language"] = "en"
    assert "Repair: " in client.get(f"/orders/{order.pk}/").content.decode()


def test_why_an_order_is_an_emergency_reads_in_the_readers_language(world: World) -> None:
    """The reason is kept as a code ("acute_illness", "dialysis"); a person reads its label."""
    order, _created = work_order_create(
        community=world.community,
        kind=Kind.OTHER,
        title="胸痛",
        actor=None,
        resident=world.resident("张伟"),
        acute=True,
    )
    assert order.emergency_reason == "acute_illness"
    client = client_for(world.secretary)
    for url in ("/orders/", f"/orders/{order.pk}/"):
        zh = client.get(url).content.decode()
        assert "急症" in zh and "acute_illness" not in zh and "Acute illness" not in zh
    client.cookies["django_language"] = "en"
    en = client.get(f"/orders/{order.pk}/").content.decode()
    assert "Acute illness" in en and "acute_illness" not in en


def test_an_orders_history_reads_as_sentences(world: World) -> None:
    """Who did it (the system when nobody did), "created" for the first line, and no "open → open"
    for a note that changed nothing (an escalation)."""
    order, _created = work_order_create(community=world.community, kind=Kind.DISINFECTION, title="消杀", actor=None)
    WorkOrderEvent.objects.create(order=order, from_status="open", to_status="open", note="逾期，已上报居委会")
    history = client_for(world.secretary).get(f"/orders/{order.pk}/").content.decode().split('id="history"', 1)[1]
    assert "系统: 新建，待处理" in history and "待处理 → 待处理" not in history and "系统: 待处理 · 逾期" in history
    assert "—:" not in history
