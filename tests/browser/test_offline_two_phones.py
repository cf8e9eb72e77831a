"""Issue 13, the proof: two phones work a whole morning without signal.

A volunteer (王芳, supplies group, the door lists of buildings 3 and 5) and the leader of building 3
(陈建国, who leads the supplies group: check-ins, the door-to-door list, and the same work orders
and door list of building 3) open
their pages once, lose the signal, reload (the saved copies come up, saying how old they are) and
tap 33 actions between them, among them the same order claimed by both and the same door marked
delivered by both. The pages are closed and opened again (the outbox lives in IndexedDB, not in
the page); then the leader's phone finds signal first, the volunteer's after. Every tap reaches
the server exactly once, both times (the phone's and the server's) are kept, and the two
conflicts are told to the volunteer who lost them, not to the leader."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.care import services as care_services
from fangzhou.care.models import CareProfile, CheckIn
from fangzhou.registry.models import Resident
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, build_world, make_id, place, roster_sheet
from fangzhou.supplies import services as supplies_services
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.testing.models import Round, Sample
from fangzhou.testing.services import round_create
from fangzhou.volunteers.models import WorkGroup
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders import services as orders
from fangzhou.workorders.models import Kind, OutboxReceipt, Status, WorkOrder, WorkOrderEvent
from tests.browser.conftest import PHONE, shot

# How many taps of this browser profile wait in its outbox.
WAITING = (
    "new Promise(done => { const open = indexedDB.open('fangzhou-outbox', 1); open.onsuccess = () => {"
    " const count = open.result.transaction('taps').objectStore('taps').count();"
    " count.onsuccess = () => done(count.result); }; })"
)
LEADER_NAME = "陈建国"
B3_ROOMS = dict(zip(range(103, 111), ["周甲", "周乙", "周丙", "周丁", "周戊", "周己", "周庚", "周辛"], strict=True))
B5_ROOMS = dict(zip(range(202, 207), ["吴甲", "吴乙", "吴丙", "吴丁", "吴戊"], strict=True))


@pytest.fixture
def morning(transactional_db: None) -> dict[str, Any]:
    """Building 3 with ten more households (six of them elderly and unable to walk down), building 5
    with six more; a delivery round over both for 王芳; eight work orders in building 3; an open
    sampling round."""
    world: World = place(build_world())
    born = timezone.localdate().replace(year=1950)
    rows: list[list[Any]] = [
        ["阳光小区", "3号楼", str(room), name, make_id("310104", born, 10 + i, i % 2 == 0), "", "", "一网格"]
        for i, (room, name) in enumerate(B3_ROOMS.items())
    ] + [
        ["阳光小区", "5号楼", str(room), name, make_id("310104", born, 30 + i, True), "", "", "二网格"]
        for i, (room, name) in enumerate(B5_ROOMS.items())
    ]
    report = roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="more.xlsx")
    assert not report.rejected and report.created == len(rows)
    Resident.objects.filter(name__in=[B3_ROOMS[r] for r in range(103, 108)]).update(
        special="elderly_alone,limited_mobility"
    )
    care_services.care_registry_sync(community=world.community, actor=None)
    User.objects.filter(pk=world.leader.pk).update(display_name=LEADER_NAME)
    world.leader.refresh_from_db()
    fang = approved(world.community, "王芳", "13811110101", groups=("supplies",))
    assert fang.user is not None
    # The building leader leads the supplies group: the same open orders as 王芳.
    assert WorkGroup.objects.filter(community=world.community, code="supplies").update(lead=world.leader) == 1
    dist = supplies_services.distribution_create(
        community=world.community,
        name="政府包",
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        actor=None,
    )
    supplies_services.distribution_allocate(distribution=dist, actor=None)
    for building in (world.b3, world.b5):
        supplies_services.delivery_assign(distribution=dist, building=building, volunteer=fang.user, actor=None)
    # Room 110 was delivered yesterday evening by mistake: 王芳 undoes it this morning.
    wrong = Delivery.objects.get(distribution=dist, household__room="110")
    supplies_services.delivery_mark(delivery_id=wrong.pk, actor=fang.user)
    made = {}
    for name in "ABCDEFGH":
        made[name], _ = orders.work_order_create(
            community=world.community,
            kind=Kind.SUPPLY_DELIVERY,
            title=f"代购 3号楼 {name}",
            actor=None,
            building=world.b3,
        )
    for name in "ABC":
        orders.work_order_claim(order_id=made[name].pk, actor=fang.user)
    orders.work_order_transition(order_id=made["B"].pk, actor=fang.user, action="start")
    rnd = round_create(community=world.community, date=timezone.localdate(), pool_size=10, actor=world.secretary)
    return {"world": world, "fang": fang.user, "leader": world.leader, "dist": dist, "orders": made, "round": rnd}


def phone_of(browser: Any, base: str, user: User) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=base, viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    return context


def opened(context: Any, url: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(15000)
    page.on("dialog", lambda dialog: dialog.accept())  # "give this order back?": yes
    page.goto(url)
    page.wait_for_selector("html[data-fz-offline=ready]")
    return page


def saved(page: Any, url: str) -> None:
    """Without signal the page still comes up: the phone's copy, saying when it was fetched."""
    page.goto(url)
    page.wait_for_selector("#stale:not([hidden])")
    assert "数据更新于" in page.inner_text("#stale")


def tap_door(page: Any, room: str, form: str = "form.mark") -> None:
    page.locator("li.door", has_text=room).locator(f"{form} button").tap()
    page.wait_for_selector(f"li.door:has-text('{room}') .outbox-pending")


def tap_order(page: Any, order: WorkOrder, button: str) -> None:
    page.locator(f"#o{order.pk} button.{button}").first.tap()
    page.wait_for_selector(f"#o{order.pk} .outbox-pending")


def test_two_phones_offline_all_morning_every_tap_reaches_the_server_once(
    signals: Any, browser: Any, morning: dict[str, Any]
) -> None:
    signal = {"fang": signals(), "leader": signals()}  # each phone its own radio
    world: World = morning["world"]
    fang, leader, dist, made, rnd = (morning[k] for k in ("fang", "leader", "dist", "orders", "round"))
    b3_list = f"/supplies/d/{dist.pk}/b/{world.b3.pk}/"
    b5_list = f"/supplies/d/{dist.pk}/b/{world.b5.pk}/"
    checkins = f"/care/c/{world.community.code}/checkins/"
    doors = f"/testing/r/{rnd.pk}/doors/"
    fang_pages = ["/orders/", b3_list, b5_list]
    leader_pages = ["/orders/", b3_list, checkins, doors]

    # With signal, once: each phone opens its pages of the day (the service worker saves them).
    phones = {}
    for who, user, urls in (("fang", fang, fang_pages), ("leader", leader, leader_pages)):
        context = phone_of(browser, signal[who].url, user)
        page = opened(context, urls[0])
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        for url in urls:
            page.goto(url)
            page.wait_for_selector("html[data-fz-offline=ready]")
        phones[who] = page

    # The stairwell: no signal on either phone (the page is told; nothing it or its worker sends gets out).
    for who, page in phones.items():
        page.context.set_offline(True)
        signal[who].lost()

    a = phones["fang"]
    saved(a, b3_list)
    for room in ("101", "102", "103", "104", "105"):  # 105 is also marked by the leader
        tap_door(a, room)
    tap_door(a, "110", "form.undo")
    saved(a, b5_list)
    for room in ("201", "202", "203", "204", "205", "206"):
        tap_door(a, room)
    saved(a, "/orders/")
    tap_order(a, made["A"], "start")
    a.locator(f"#o{made['B'].pk} .done-form input[name=note]").fill("放在门口了")
    tap_order(a, made["B"], "done")
    tap_order(a, made["C"], "release")
    for name in ("D", "E", "H"):  # H is also claimed by the leader
        tap_order(a, made[name], "claim")
    a.wait_for_selector("#outbox-count:has-text('待发送 18')")

    b = phones["leader"]
    saved(b, checkins)
    profiles = list(CareProfile.objects.filter(resident__household__building=world.b3).order_by("pk"))
    assert len(profiles) == 6
    for profile in profiles:
        b.locator(f"#ci{profile.pk} button[value=ok]").tap()
        b.wait_for_selector(f"#ci{profile.pk} .outbox-pending")
    saved(b, doors)
    at_door = list(Resident.objects.filter(special__contains="limited_mobility").order_by("pk"))
    assert len(at_door) == 5
    for n, resident in enumerate(at_door):
        row = b.locator("form.door-take", has=b.locator(f"input[name=resident][value='{resident.pk}']"))
        if n == 0:  # a new tube, scanned; the next ones go into the same open tube (the code left empty)
            row.locator("input[name=tube_code]").fill("DOOR-0031")
        row.locator("button").tap()
        b.wait_for_selector(f"form.door-take:has(input[name=resident][value='{resident.pk}'])", state="hidden")
    b.wait_for_selector("#outbox-count:has-text('待发送 11')")
    saved(b, "/orders/")
    for name in ("F", "G", "H"):
        tap_order(b, made[name], "claim")
    saved(b, b3_list)
    tap_door(b, "105")
    b.wait_for_selector("#outbox-count:has-text('待发送 15')")
    shot(a, "offline-two-phones-waiting-volunteer")

    # Nothing reached the server yet.
    assert not OutboxReceipt.objects.exists()

    # Both put their phones away (the pages close) and take them out again, still without signal.
    for who, url in (("fang", "/orders/"), ("leader", checkins)):
        context = phones[who].context
        phones[who].close()
        page = context.new_page()
        page.set_default_timeout(15000)
        saved(page, url)
        phones[who] = page
    phones["fang"].wait_for_selector("#outbox-count:has-text('待发送 18')")
    phones["leader"].wait_for_selector("#outbox-count:has-text('待发送 15')")
    assert phones["fang"].evaluate(WAITING) == 18 and phones["leader"].evaluate(WAITING) == 15

    # The leader finds signal first: all 15 go through; then the volunteer's 18.
    for who in ("leader", "fang"):
        page = phones[who]
        signal[who].back()
        page.context.set_offline(False)
        page.wait_for_selector("#outbox-count", state="hidden", timeout=60000)
        assert page.evaluate(WAITING) == 0

    # The conflicts are told to the volunteer who lost them, naming the leader; the leader hears of none.
    a = phones["fang"]
    news = a.locator("#outbox-news .error")
    news.first.wait_for()
    said = " ".join(news.all_inner_texts())
    assert f"{LEADER_NAME} 已认领这张工单" in said and "代购 3号楼 H" in said
    assert f"已由{LEADER_NAME}于" in said and "105" in said and news.count() == 2
    assert "晚了一步" in a.inner_text(f"#o{made['H'].pk} .outbox-answered")
    assert phones["leader"].locator("#outbox-news .error").count() == 0, (
        phones["leader"].locator("#outbox-news").inner_text()
    )
    shot(a, "offline-two-phones-conflicts-volunteer")

    # The database: every tap exactly once, with the outcome the phone was told.
    receipts = OutboxReceipt.objects.all()
    assert receipts.filter(user=fang).count() == 18 and receipts.filter(user=leader).count() == 15
    assert len({r.client_id for r in receipts}) == 33
    conflicts = receipts.filter(outcome=OutboxReceipt.Outcome.CONFLICT)
    assert sorted((r.user_id, r.kind) for r in conflicts) == sorted(
        [(fang.pk, "order_claim"), (fang.pk, "delivery_mark")]
    )
    assert receipts.exclude(outcome__in=[OutboxReceipt.Outcome.DONE, OutboxReceipt.Outcome.CONFLICT]).count() == 0
    # Both times are kept: the tap on the phone (earlier) and its arrival at the server.
    assert all(r.done_at_client is not None and r.done_at_client <= r.received_at for r in receipts)

    doors_now = {d.household.room: d for d in Delivery.objects.filter(distribution=dist).select_related("household")}
    for room in ("101", "102", "103", "104", "201", "202", "203", "204", "205", "206"):
        assert doors_now[room].status == DeliveryStatus.DELIVERED and doors_now[room].delivered_by == fang, room
    assert doors_now["105"].delivered_by == leader
    assert doors_now["110"].status == DeliveryStatus.PENDING  # the undo
    assert Delivery.objects.filter(distribution=dist).count() == len(doors_now)

    state = {name: WorkOrder.objects.get(pk=o.pk) for name, o in made.items()}
    assert state["A"].status == Status.IN_PROGRESS and state["A"].assignee == fang
    assert state["B"].status == Status.DONE
    assert state["C"].status == Status.OPEN and state["C"].assignee is None
    assert all(state[n].status == Status.CLAIMED and state[n].assignee == fang for n in "DE")
    assert all(state[n].status == Status.CLAIMED and state[n].assignee == leader for n in "FGH")
    events = WorkOrderEvent.objects.filter(actor__in=[fang, leader], at__gte=min(r.received_at for r in receipts))
    assert events.count() == 8  # one per order tap that won: start A, done B, release C, claim D E F G H
    assert WorkOrderEvent.objects.filter(order=state["H"], to_status=Status.CLAIMED).count() == 1

    assert CheckIn.objects.filter(profile__in=profiles).count() == 6
    assert all(c.on == timezone.localdate() for c in CheckIn.objects.filter(profile__in=profiles))
    samples = Sample.objects.filter(round=rnd, door_to_door=True)
    assert sorted(samples.values_list("resident_id", flat=True)) == [r.pk for r in at_door]
    assert {s.tube.code for s in samples.select_related("tube")} == {"DOOR-0031"}
    assert Round.objects.get(pk=rnd.pk).status == Round.Status.OPEN

    # Opened again with signal, nothing is sent twice.
    a.goto("/orders/")
    a.wait_for_selector("html[data-fz-offline=ready]")
    assert OutboxReceipt.objects.count() == 33
    for page in phones.values():
        page.context.close()
