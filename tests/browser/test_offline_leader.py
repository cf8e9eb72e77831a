"""Issue 13: a building leader's phone in a stairwell without signal.

The leader opens the building's antigen page once (the phone saves the day's pages: this one, the
glance, the request form), loses the signal, reloads (the saved copy comes up, saying how old it
is), enters a household's antigen results on its behalf and types two residents' requests. When
the signal returns every tap reaches the server exactly once, with the phone's time beside the
server's."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World, build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission
from fangzhou.workorders.models import OutboxReceipt, ResidentRequest, WorkOrder
from tests.browser.conftest import PHONE, shot

WAITING = (
    "new Promise(done => { const open = indexedDB.open('fangzhou-outbox', 1); open.onsuccess = () => {"
    " const count = open.result.transaction('taps').objectStore('taps').count();"
    " count.onsuccess = () => done(count.result); }; })"
)


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return build_world()


def signed_in(browser: Any, base: str, user: User) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def test_antigen_on_behalf_and_typed_requests_without_signal_reach_the_server_once(
    signals: Any, browser: Any, live_world: World
) -> None:
    signal = signals()  # the phone's radio: off means nothing it or its worker sends gets out
    base = signal.url
    leader = live_world.leader
    zhang, li = live_world.resident("张伟"), live_world.resident("李娜")
    building_page = f"{base}/testing/antigen/b/{live_world.b3.pk}/"

    phone = signed_in(browser, base, leader)
    phone.goto(building_page)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    phone.context.set_offline(True)
    signal.lost()
    phone.reload()
    phone.wait_for_selector("#stale:not([hidden])")
    assert "数据更新于" in phone.inner_text("#stale")

    # A household without a phone tells the leader its results at the door.
    row = phone.locator(f"#hh{zhang.household_id}")
    row.locator("summary").tap()
    for person in (zhang, li):
        row.locator("fieldset.member", has_text=person.name).locator("label.choice", has_text="阴性").tap()
    row.locator("button.primary").tap()
    phone.wait_for_selector("#outbox-count:has-text('待发送 1')")
    assert "待发送" in row.inner_text()
    shot(phone, "offline-antigen-on-behalf-waiting-phone")

    # The request form was saved too: two requests typed in the stairwell, the form ready again each time.
    phone.goto(f"{base}/orders/requests/type/")
    phone.wait_for_selector("#stale:not([hidden])")
    for room, text in (("101", "降压药吃完了，需要代配药"), ("102", "家里没有米了")):
        phone.fill("input[name=room]", room)
        phone.select_option("select[name=kind]", "medicine" if room == "101" else "food")
        phone.fill("textarea[name=text]", text)
        phone.locator("#typed-request button.primary").tap()
        phone.wait_for_selector(f"#typed-waiting li:has-text('{text[:6]}')")
        assert phone.input_value("textarea[name=text]") == ""
    phone.wait_for_selector("#outbox-count:has-text('待发送 3')")
    shot(phone, "offline-typed-request-waiting-phone")
    assert not AntigenSubmission.objects.exists() and not ResidentRequest.objects.exists()

    signal.back()
    phone.context.set_offline(False)
    phone.wait_for_selector("#outbox-count", state="hidden", timeout=40000)
    assert phone.evaluate(WAITING) == 0
    phone.wait_for_selector("#typed-waiting li.outbox-answered >> nth=1")
    answered = phone.inner_text("#typed-waiting")
    assert answered.count("已登记") == 2
    shot(phone, "offline-typed-request-sent-phone")

    # Every tap stored exactly once, recorded by the leader, with the phone's time of the tap.
    submission = AntigenSubmission.objects.get()
    assert submission.recorded_by == leader and submission.household_id == zhang.household_id
    assert dict(AntigenReport.objects.values_list("resident_id", "result")) == {zhang.pk: "negative", li.pk: "negative"}
    requests = ResidentRequest.objects.order_by("room")
    assert [r.room for r in requests] == ["101", "102"] and all(r.recorded_by == leader for r in requests)
    assert WorkOrder.objects.filter(source_key__startswith="request:").count() == 2
    receipts = OutboxReceipt.objects.filter(user=leader)
    assert sorted(receipts.values_list("kind", flat=True)) == ["antigen_on_behalf", "request_typed", "request_typed"]
    assert all(r.done_at_client is not None and r.done_at_client <= r.received_at for r in receipts)
    # Reopened with signal: nothing is sent again, and the household is off the chase list.
    phone.goto(building_page)
    phone.wait_for_selector("html[data-fz-offline=ready]")
    assert phone.locator(f"#hh{zhang.household_id}").count() == 0
    assert OutboxReceipt.objects.filter(user=leader).count() == 3
    phone.context.close()
