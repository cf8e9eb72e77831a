"""Issue 13: a volunteer's phone keeps working without signal.

The volunteer opens their door list once, loses the signal, reloads (the saved copy comes up, saying
how old it is), marks the doors delivered and claims an order; meanwhile a colleague, online, claims
the same order. When the signal returns every tap reaches the server exactly once and the lost
claim is explained to the volunteer who lost it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World, build_world, place
from fangzhou.supplies import services
from fangzhou.supplies.models import Delivery, DeliveryStatus, Distribution
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, OutboxReceipt, Status, WorkOrder, WorkOrderEvent
from fangzhou.workorders.services import work_order_create
from tests.browser.conftest import PHONE, shot

# How many taps wait in this browser's outbox (all users).
WAITING = (
    "new Promise(done => { const open = indexedDB.open('fangzhou-outbox', 1); open.onsuccess = () => {"
    " const count = open.result.transaction('taps').objectStore('taps').count();"
    " count.onsuccess = () => done(count.result); }; })"
)


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return place(build_world())


def signed_in(browser: Any, base: str, user: User) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


@dataclass
class DeliveryRound:
    """Two supplies volunteers of 3号楼's community; 王芳 holds today's delivery round of 3号楼, and
    an open order (送菜 5号楼) for the supplies group that either may claim."""

    fang: User
    qiang: User
    distribution: Distribution
    doors: list[Delivery]
    order: WorkOrder

    def door_list(self, base: str, world: World) -> str:
        return f"{base}/supplies/d/{self.distribution.pk}/b/{world.b3.pk}/"


def delivery_round(world: World) -> DeliveryRound:
    fang = approved(world.community, "王芳", "13811110101", groups=("supplies",))
    qiang = approved(world.community, "李强", "13811110102", groups=("supplies",))
    assert fang.user is not None and qiang.user is not None
    dist = services.distribution_create(
        community=world.community,
        name="政府包",
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        actor=None,
    )
    services.distribution_allocate(distribution=dist, actor=None)
    services.delivery_assign(distribution=dist, building=world.b3, volunteer=fang.user, actor=None)
    doors = list(Delivery.objects.filter(distribution=dist, building=world.b3))
    order, _ = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜 5号楼", actor=None, building=world.b5
    )
    return DeliveryRound(fang.user, qiang.user, dist, doors, order)


def test_a_delivery_round_and_a_claim_without_signal_reach_the_server_once(
    live_server: Any, browser: Any, live_world: World
) -> None:
    base = live_server.url
    work = delivery_round(live_world)
    fang, qiang, doors, order = work.fang, work.qiang, work.doors, work.order
    assert len(doors) >= 2
    door_list = work.door_list(base, live_world)

    phone = signed_in(browser, base, fang)
    phone.goto(door_list)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    phone.context.set_offline(True)
    phone.reload()
    phone.wait_for_selector("#stale:not([hidden])")  # the saved copy, saying when it was fetched
    assert "数据更新于" in phone.inner_text("#stale")
    for d in doors:
        phone.locator("li.door", has_text=d.household.room).locator("form.mark button").tap()
    phone.wait_for_selector(f"#outbox-count:has-text('待发送 {len(doors)}')")
    assert phone.locator(".outbox-pending").count() == len(doors)
    # The work orders page was saved too: claim an order there, still without signal.
    phone.goto(f"{base}/orders/")
    phone.locator(f"#o{order.pk} button.claim").tap()
    phone.wait_for_selector(f"#outbox-count:has-text('待发送 {len(doors) + 1}')")
    shot(phone, "offline-outbox-waiting-phone")
    assert Delivery.objects.filter(distribution=work.distribution).exclude(status=DeliveryStatus.PENDING).count() == 0

    # Meanwhile a colleague with signal claims the same order.
    colleague = signed_in(browser, base, qiang)
    colleague.goto(f"{base}/orders/")
    colleague.locator(f"#o{order.pk} button.claim").tap()
    colleague.wait_for_selector(f"#o{order.pk} .holder")
    # With signal the tap went through htmx as before, with its client id; the phone kept nothing.
    colleague.wait_for_function(f"{WAITING}.then(n => n === 0)")
    assert OutboxReceipt.objects.get(user=qiang, kind="order_claim").outcome == OutboxReceipt.Outcome.DONE

    phone.context.set_offline(False)
    phone.wait_for_selector("#outbox-count", state="hidden", timeout=40000)
    assert phone.evaluate(WAITING) == 0
    conflict = phone.locator("#outbox-news .error")
    conflict.wait_for()
    assert "李强" in conflict.inner_text() and "送菜 5号楼" in conflict.inner_text()
    assert "李强" in phone.inner_text(f"#o{order.pk} .outbox-answered")  # and on the order's card
    shot(phone, "offline-outbox-sent-phone")

    # Every tap stored exactly once; the conflict went to the person who lost.
    for d in doors:
        d.refresh_from_db()
        assert d.status == DeliveryStatus.DELIVERED and d.delivered_by == fang
    receipts = OutboxReceipt.objects.filter(user=fang)
    assert receipts.filter(kind="delivery_mark").count() == len(doors)
    assert receipts.get(kind="order_claim").outcome == OutboxReceipt.Outcome.CONFLICT
    assert all(r.done_at_client is not None and r.done_at_client <= r.received_at for r in receipts)
    order.refresh_from_db()
    assert order.assignee == qiang and order.status == Status.CLAIMED
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
    # Reopening the page does not send anything again.
    phone.goto(door_list)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    assert OutboxReceipt.objects.filter(user=fang).count() == len(doors) + 1
    assert dt.timedelta(0) <= timezone.now() - max(r.received_at for r in receipts) < dt.timedelta(minutes=5)
    phone.context.close()
    colleague.context.close()


def test_signing_out_forgets_the_saved_pages_and_the_next_person_never_sees_them(
    live_server: Any, browser: Any, live_world: World
) -> None:
    base = live_server.url
    work = delivery_round(live_world)
    fang, qiang = work.fang, work.qiang
    door_list = work.door_list(base, live_world)
    phone = signed_in(browser, base, fang)
    phone.goto(door_list)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    names = "caches.keys().then(k => k.filter(n => n.indexOf('fz-pages-') === 0))"
    assert len(phone.evaluate(names)) == 1
    phone.click("form[data-signout] button")
    phone.wait_for_url("**/accounts/login/**")
    assert phone.evaluate(names) == []
    # The next person on the same phone: their own pages are saved, the first person's are not served.
    client = Client()
    client.force_login(qiang)
    phone.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    phone.goto(f"{base}/orders/")
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.context.set_offline(True)
    phone.goto(door_list)
    body = phone.inner_text("body")
    assert "没有存在这部手机上" in body and "101" not in body
    phone.context.close()
