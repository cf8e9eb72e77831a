"""A volunteer's day on a 390 px phone, in Chinese and in English, through the existing pages only:
sign up with work groups and availability → the committee approves and gets a one-time sign-in
link → the volunteer opens it, sees what they still need (a negative test) → records it → claims a
delivery order, marks a door of their delivery list and does a missed check-in. The committee's
destructive tap (taking someone off a shift) asks once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from playwright.sync_api import expect

from fangzhou.care.services import care_registry_sync
from fangzhou.registry.tests.factories import PASSWORD, World, build_world, place
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.volunteers.models import Post, ShiftAssignment, Volunteer
from fangzhou.volunteers.services import shift_assign, shift_create, signup_link_ensure, work_groups_ensure
from fangzhou.workorders.models import Kind, Status, WorkOrder
from fangzhou.workorders.services import work_order_create
from tests.browser.conftest import PHONE, shot, sign_in

LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}


@pytest.fixture
def live_world(transactional_db: None, settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    return place(build_world())


def _phone(browser: Any, base: str, lang: str) -> Any:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale=LOCALES[lang]
    )
    context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _t(lang: str, text: str) -> str:
    with translation.override(lang):
        return str(_(text))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_a_volunteers_day_on_a_phone(live_server: Any, browser: Any, live_world: World, lang: str) -> None:
    base = live_server.url
    world = live_world
    token = signup_link_ensure(community=world.community).token
    delivery_order, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜到3号楼", actor=None, building=world.b3
    )

    # 1. Sign-up from the QR poster: name, phone, building, work groups, days and time slots.
    vol = _phone(browser, base, lang)
    vol.goto(f"{base}/volunteers/join/{token}/")
    _fits(vol)
    vol.fill("input[name=name]", "林平")
    vol.fill("input[name=phone]", "136 1234 5678")
    vol.select_option("select[name=building]", str(world.b3.pk))
    for value in ("supplies", "care"):
        vol.check(f"input[name=groups][value={value}]")
    for value in ("6", "7"):
        vol.check(f"input[name=days][value='{value}']")
    vol.check("input[name=slots][value=evening]")
    shot(vol, f"day-{lang}-1-signup")
    vol.click("button[type=submit]")
    vol.wait_for_selector(".status-pending")
    volunteer = Volunteer.objects.get()
    assert volunteer.wanted_group_codes == ["care", "supplies"] and volunteer.available_days == "6,7"

    # 2. The secretary sees what they asked for, approves (the groups are already ticked) and gets the link.
    sec = _phone(browser, base, lang)
    sign_in(sec, base, "sec", PASSWORD)
    sec.goto(f"{base}/volunteers/")
    row = sec.locator(f"#v{volunteer.pk}")
    with translation.override(lang):
        saturday = _t(lang, "Sat")
        evening = _t(lang, "Evening (18–22)")
    expect(row.locator(".wish-when")).to_contain_text(saturday)
    expect(row.locator(".wish-when")).to_contain_text(evening)
    assert row.locator("input[value=supplies]").is_checked() and row.locator("input[value=care]").is_checked()
    _fits(sec)
    shot(sec, f"day-{lang}-2-pending")
    row.locator("button.primary").click()
    sec.wait_for_selector("#signin-link")
    assert sec.locator("#signin-qr svg").count() == 1
    assert sec.locator("#password").count() == 0  # nothing to pass by hand
    _fits(sec)
    shot(sec, f"day-{lang}-3-approved-link")
    link = sec.get_attribute("#signin-link", "href")
    assert link

    # 3. The volunteer opens the link, chooses a password, lands on their work list: why they cannot
    #    claim door-to-door work is said once, at the top, and those claim buttons are disabled.
    vol.goto(link)
    vol.fill("input[name=new_password1]", "lin-ping-own-pass-7")
    vol.fill("input[name=new_password2]", "lin-ping-own-pass-7")
    vol.click("button[type=submit]")
    vol.wait_for_selector("#door-blocked")
    assert vol.locator("#door-blocked").count() == 1
    reason = (
        "您暂不能认领上门工单：48 小时内没有阴性检测结果"
        if lang == "zh-hans"
        else "no negative test in the last 48 hours"
    )
    expect(vol.locator("#door-blocked")).to_contain_text(reason)
    expect(vol.locator(f"#o{delivery_order.pk} button.claim")).to_be_disabled()
    _fits(vol)
    shot(vol, f"day-{lang}-4-orders-blocked")

    # 4. What they still need: a negative test. They record this morning's; the list is empty.
    vol.click("#door-blocked a.button")
    vol.wait_for_selector("#needs")
    expect(vol.locator("#needs li")).to_have_count(1)
    expected_need = "阴性检测结果" if lang == "zh-hans" else "a negative test"
    expect(vol.locator("#needs")).to_contain_text(expected_need)
    _fits(vol)
    shot(vol, f"day-{lang}-5-needs")
    vol.click(".test-form button[value=negative]")
    vol.wait_for_selector("#gate .ok")
    assert vol.locator("#needs").count() == 0

    # 5. Claim the delivery order, start, done.
    vol.goto(f"{base}/orders/")
    assert vol.locator("#door-blocked").count() == 0
    card = f"#o{delivery_order.pk}"
    vol.locator(f"{card} button.claim").click()
    vol.wait_for_selector(f"{card} button.start")
    vol.locator(f"{card} button.start").click()
    vol.wait_for_selector(f"{card} .status-in_progress")
    vol.locator(f"{card} input[name=note]").fill("已放门口")
    vol.locator(f"{card} button.done").click()
    vol.wait_for_selector(f"{card} .status-done")
    assert WorkOrder.objects.get(pk=delivery_order.pk).status == Status.DONE

    # 6. The committee gives them building 3's door list (the picker offers them now); they mark a door.
    dist = supplies.distribution_create(
        community=world.community,
        name="政府包",
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        actor=None,
    )
    supplies.distribution_allocate(distribution=dist, actor=None)
    sec.goto(f"{base}/supplies/d/{dist.pk}/")
    volunteer.refresh_from_db()
    assert volunteer.user_id is not None
    sec.select_option(f"#bp{world.b3.pk} select[name=volunteer]", str(volunteer.user_id))
    sec.wait_for_load_state("networkidle")
    vol.goto(f"{base}/supplies/mine/")
    vol.locator("ul.list a.button").first.click()
    vol.wait_for_selector("ul.doors")
    first = vol.locator("li.door").first
    door_id = first.get_attribute("id")
    first.locator("form.mark button").tap()
    vol.wait_for_selector(f"#{door_id}.delivered")
    assert Delivery.objects.filter(distribution=dist, status=DeliveryStatus.DELIVERED).count() == 1
    _fits(vol)
    shot(vol, f"day-{lang}-6-door-marked")

    # 7. The day's check-ins close; the one nobody reached is an urgent order of the care group: go.
    care_registry_sync(community=world.community, actor=None)
    sec.goto(f"{base}/care/c/{world.community.code}/checkins/")
    sec.locator("form[action$='/checkins/close/'] button").click()
    sec.wait_for_load_state("networkidle")
    checkin = WorkOrder.objects.get(kind=Kind.CARE_CHECKIN)
    vol.goto(f"{base}/orders/")
    card = f"#o{checkin.pk}"
    vol.locator(f"{card} button.claim").click()
    vol.wait_for_selector(f"{card} button.start")
    vol.locator(f"{card} button.start").click()
    vol.wait_for_selector(f"{card} .status-in_progress")
    vol.locator(f"{card} input[name=note]").fill("老人安好")
    vol.locator(f"{card} button.done").click()
    vol.wait_for_selector(f"{card} .status-done")
    _fits(vol)
    shot(vol, f"day-{lang}-7-checkin-done")
    checkin.refresh_from_db()
    assert checkin.status == Status.DONE and checkin.assignee_id == volunteer.user_id

    # 8. Taking someone off a shift asks once: "no" keeps them, "yes" removes them.
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
    start = timezone.now() + dt.timedelta(hours=2)
    shift, _created = shift_create(
        group=group, post=Post.GATE, place="东门", starts_at=start, ends_at=start + dt.timedelta(hours=4), actor=None
    )
    assignment = shift_assign(shift=shift, volunteer=volunteer, actor=world.secretary)
    questions: list[str] = []

    def answer(accept: bool) -> Any:
        def handler(dialog: Any) -> None:
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handler

    # In the evening their PCR comes back positive; recording it asks once.
    vol.goto(f"{base}/volunteers/me/")
    vol.select_option(".test-form select[name=kind]", "pcr")
    vol.once("dialog", answer(True))
    vol.click(".test-form button[value=positive]")
    vol.wait_for_selector("#gate.gate-blocked")
    assert len(questions) == 1 and ("阳性" in questions[0] if lang == "zh-hans" else "positive" in questions[0])
    questions.clear()
    # The roster counts the place as a gap and says why; auto-fill is offered.
    sec.goto(f"{base}/volunteers/roster/?date={timezone.localdate(start).isoformat()}")
    assert sec.inner_text("#gaps") == "1"
    why = "最近一次检测为阳性" if lang == "zh-hans" else "the latest test is positive"
    expect(sec.locator(f"#a{assignment.pk}.not-serving")).to_contain_text(why)
    expect(sec.locator("form[action$='/roster/autofill/'] button")).to_be_visible()
    _fits(sec)
    shot(sec, f"day-{lang}-8-roster-gap")

    sec.once("dialog", answer(False))
    sec.locator(f"#a{assignment.pk} button").click()
    sec.wait_for_timeout(300)
    assert ShiftAssignment.objects.filter(pk=assignment.pk).exists()
    sec.once("dialog", answer(True))
    sec.locator(f"#a{assignment.pk} button").click()
    sec.wait_for_selector(f"#a{assignment.pk}", state="detached")
    assert not ShiftAssignment.objects.filter(pk=assignment.pk).exists()
    expected = "把林平从这个班次撤下？" if lang == "zh-hans" else "Take 林平 off this shift?"
    assert questions == [expected, expected]
    _fits(sec)
    shot(sec, f"day-{lang}-9-roster-removed")
    sec.context.close()
    vol.context.close()
