"""Issue 13, the phone in a pocket: taps kept without signal are sent by the service worker itself
when the signal returns and no page of the app is open (Background Sync), exactly once, and the
next page the volunteer opens tells them what happened (a lost claim above all).

Chromium's DevTools protocol fires the `sync` event (``ServiceWorker.dispatchSyncEvent``), as
Android Chrome does when the network comes back; the test waits for the worker's kept outcomes in
Cache Storage (counted inside the worker) before it reads the database."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fangzhou.registry.tests.factories import World, build_world, place
from fangzhou.supplies.models import DeliveryStatus
from fangzhou.workorders.models import OutboxReceipt, Status
from tests.browser.conftest import IN_FLIGHT, shot
from tests.browser.test_offline_outbox import WAITING, delivery_round, signed_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return place(build_world())


ANSWERS_KEPT = (
    "caches.open('fz-meta').then(c => c.keys()).then(keys => keys.filter(r => r.url.includes('/__fz/answers/')).length)"
)


def _answers_kept(context: Any) -> int:
    """The outcomes the service worker keeps for the next page, counted inside the worker."""
    return int(context.service_workers[0].evaluate(ANSWERS_KEPT))


def test_the_worker_sends_the_taps_with_no_page_open_and_the_next_page_says_what_happened(
    live_server: Any, signals: Any, browser: Any, live_world: World
) -> None:
    signal = signals()  # the phone's radio: off means nothing it or its worker sends gets out
    base = signal.url
    work = delivery_round(live_world)
    fang, qiang, doors, order = work.fang, work.qiang, work.doors, work.order
    door_list = work.door_list(base, live_world)

    phone = signed_in(browser, base, fang)
    phone.goto(f"{base}/orders/")
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.goto(door_list)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    session = phone.context.new_cdp_session(phone)
    registrations: list[str] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    session.send("ServiceWorker.enable")

    phone.context.set_offline(True)
    signal.lost()
    for d in doors:
        phone.locator("li.door", has_text=d.household.room).locator("form.mark button").tap()
    phone.wait_for_selector(f"#outbox-count:has-text('待发送 {len(doors)}')")
    phone.goto(f"{base}/orders/")  # the saved copy
    phone.locator(f"#o{order.pk} button.claim").tap()
    phone.wait_for_selector(f"#outbox-count:has-text('待发送 {len(doors) + 1}')")
    assert phone.evaluate(WAITING) == len(doors) + 1
    # Meanwhile a colleague with signal claims the same order.
    colleague = signed_in(browser, live_server.url, qiang)
    colleague.goto(f"{live_server.url}/orders/")
    colleague.locator(f"#o{order.pk} button.claim").tap()
    colleague.wait_for_selector(f"#o{order.pk} .holder")
    colleague.context.close()
    IN_FLIGHT.wait_idle()  # the colleague's page's last requests (its saved pages) finish first

    # The phone goes back in the pocket: no page of the app is open. The signal returns.
    phone.goto("about:blank")
    signal.back()
    phone.context.set_offline(False)
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        time.sleep(0.1)
    assert registrations, "the service worker is registered"
    # The browser fires the sync; a sync that fails (a tap backed off) it fires again later, as
    # Chrome does (here every 3 s rather than minutes).
    deadline = time.monotonic() + 40
    while _answers_kept(phone.context) < len(doors) + 1 and time.monotonic() < deadline:
        session.send(
            "ServiceWorker.dispatchSyncEvent",
            {"origin": base, "registrationId": registrations[0], "tag": "fz-outbox", "lastChance": False},
        )
        for _ in range(15):
            if _answers_kept(phone.context) == len(doors) + 1:
                break
            time.sleep(0.2)
    assert _answers_kept(phone.context) == len(doors) + 1
    IN_FLIGHT.wait_idle()

    for d in doors:
        d.refresh_from_db()
        assert d.status == DeliveryStatus.DELIVERED and d.delivered_by == fang
    receipts = OutboxReceipt.objects.filter(user=fang)
    assert receipts.filter(kind="delivery_mark").count() == len(doors)
    assert receipts.get(kind="order_claim").outcome == OutboxReceipt.Outcome.CONFLICT
    order.refresh_from_db()
    assert order.assignee == qiang and order.status == Status.CLAIMED

    # The next page tells the volunteer, once, and sends nothing again.
    phone.goto(f"{base}/orders/")
    conflict = phone.locator("#outbox-news .error")
    conflict.wait_for()
    assert "李强" in conflict.inner_text() and "送菜 5号楼" in conflict.inner_text()
    phone.wait_for_selector("html[data-fz-offline=ready]")
    assert phone.evaluate(WAITING) == 0
    assert _answers_kept(phone.context) == 0
    shot(phone, "offline-background-send-phone")
    IN_FLIGHT.wait_idle()
    assert OutboxReceipt.objects.filter(user=fang).count() == len(doors) + 1
    phone.reload()
    phone.wait_for_selector("html[data-fz-offline=ready]")
    assert phone.locator("#outbox-news .error").count() == 0  # shown once
