"""Sign-up on a phone → approval → shift → claim → done, in headless Chromium at 390 px."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fangzhou.registry.services import PlacedBuilding, building_tokens_ensure, site_plan_apply
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.volunteers.models import Post, ShiftAssignment, Volunteer
from fangzhou.volunteers.services import shift_create, signup_link_ensure, work_groups_ensure
from fangzhou.workorders.models import Kind, ResidentRequest, Status, WorkOrder
from fangzhou.workorders.services import work_order_create
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None, settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    world = build_world()
    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 40, 30, 40, 12, 6, []),
            PlacedBuilding(world.b5.pk, 40, 180, 40, 12, 6, []),
        ],
    )
    return world


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_signup_approval_shift_claim_done_on_a_phone(
    live_server: Any, phone: Any, browser: Any, live_world: World
) -> None:
    base = live_server.url
    token = signup_link_ensure(community=live_world.community).token
    # 1. A resident scans the QR poster and signs up.
    phone.goto(f"{base}/volunteers/join/{token}/")
    no_sideways_scroll(phone)
    phone.fill("input[name=name]", "林平")
    phone.fill("input[name=phone]", "136 1234 5678")
    phone.select_option("select[name=building]", str(live_world.b3.pk))
    phone.check("input[name=skills][value=carry]")
    phone.fill("input[name=availability]", "晚上")
    shot(phone, "volunteer-signup-phone")
    phone.click("button[type=submit]")
    phone.wait_for_selector(".status-pending")
    assert "林平" in phone.inner_text("h1")
    volunteer = Volunteer.objects.get()
    assert volunteer.phone == "+8613612345678" and volunteer.building_id == live_world.b3.pk

    # 2. The secretary approves on her phone, into the supplies group.
    committee = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    sec = committee.new_page()
    sign_in(sec, base, "sec", PASSWORD)
    sec.goto(f"{base}/volunteers/")
    row = sec.locator(f"#v{volunteer.pk}")
    row.locator("input[value=supplies]").check()
    row.locator("button.primary").click()
    sec.wait_for_selector("#signin-link")
    link = sec.get_attribute("#signin-link", "href")
    assert link is not None
    no_sideways_scroll(sec)

    # 3. A shift with a gap; the new volunteer has no test yet, so the page says why they cannot go on.
    group = next(g for g in work_groups_ensure(community=live_world.community) if g.code == "supplies")
    day = timezone.localdate()
    start = dt.datetime.combine(day, dt.time(20), tzinfo=timezone.get_current_timezone())
    shift, _ = shift_create(
        group=group,
        post=Post.GATE,
        place="东门",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=4),
        needed=1,
        actor=None,
    )
    sec.goto(f"{base}/volunteers/roster/?date={day.isoformat()}")
    assert sec.inner_text("#gaps") == "1"
    sec.click(f"#s{shift.pk} a.button")
    assert "48 小时内没有阴性检测结果" in sec.inner_text(f"#c{volunteer.pk}")

    # 4. The volunteer opens the one-time link, chooses a password, records this morning's negative test.
    phone.goto(link)
    phone.fill("input[name=new_password1]", "lin-ping-own-pass-7")
    phone.fill("input[name=new_password2]", "lin-ping-own-pass-7")
    phone.click("button[type=submit]")
    phone.wait_for_load_state("networkidle")
    phone.goto(f"{base}/volunteers/me/")
    assert "48 小时内没有阴性检测结果" in phone.inner_text("#gate")
    phone.click(".test-form button[value=negative]")
    phone.wait_for_selector("#gate .ok")

    # 5. Now the secretary can put them on the shift; the gap closes.
    sec.reload()
    sec.click(f"#c{volunteer.pk} button.primary")
    sec.wait_for_selector("#gaps")
    assert sec.inner_text("#gaps") == "0"
    assert ShiftAssignment.objects.filter(shift=shift, volunteer=volunteer).exists()
    shot(sec, "volunteer-roster-phone")

    # 6. Two open orders of the group; the nearer one (their own building) comes first. Claim, start, done.
    far, _created = work_order_create(
        community=live_world.community,
        kind=Kind.SUPPLY_DELIVERY,
        title="送菜到5号楼",
        actor=None,
        building=live_world.b5,
    )
    near, _created = work_order_create(
        community=live_world.community,
        kind=Kind.SUPPLY_DELIVERY,
        title="送菜到3号楼",
        actor=None,
        building=live_world.b3,
    )
    phone.goto(f"{base}/orders/")
    cards = phone.locator("#nearby article h3")
    assert cards.first.inner_text() == "送菜到3号楼"
    no_sideways_scroll(phone)
    card = phone.locator(f"#o{near.pk}")
    card.locator("button.claim").click()
    phone.wait_for_selector(f"#o{near.pk} button.start")
    phone.locator(f"#o{near.pk} button.start").click()
    phone.wait_for_selector(f"#o{near.pk} .status-in_progress")
    phone.locator(f"#o{near.pk} input[name=note]").fill("已放门口")
    phone.locator(f"#o{near.pk} button.done").click()
    phone.wait_for_selector(f"#o{near.pk} .status-done")
    shot(phone, "volunteer-orders-phone")
    near.refresh_from_db()
    volunteer.refresh_from_db()
    assert near.status == Status.DONE and near.completion_note == "已放门口" and near.assignee == volunteer.user
    assert WorkOrder.objects.get(pk=far.pk).status == Status.OPEN
    committee.close()


def test_claim_race_loser_is_told_who_won(live_server: Any, phone: Any, browser: Any, live_world: World) -> None:
    from fangzhou.volunteers.tests.helpers import approved

    a = approved(live_world.community, "甲", "13811110601", groups=("patrol",))
    b = approved(live_world.community, "乙", "13811110602", groups=("patrol",))
    order, _created = work_order_create(
        community=live_world.community, kind=Kind.PATROL, title="夜巡", actor=None, building=live_world.b3
    )
    from fangzhou.accounts.services import user_upsert

    for v in (a, b):
        assert v.user is not None
        user_upsert(
            username=v.user.username,
            password=PASSWORD,
            role=v.user.role,
            display_name=v.name,
            community=live_world.community,
        )
    other = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    ).new_page()
    sign_in(phone, live_server.url, a.user.username, PASSWORD)  # type: ignore[union-attr]
    sign_in(other, live_server.url, b.user.username, PASSWORD)  # type: ignore[union-attr]
    phone.goto(f"{live_server.url}/orders/")
    other.goto(f"{live_server.url}/orders/")
    other.locator(f"#o{order.pk} button.claim").click()
    other.wait_for_selector(f"#o{order.pk} .holder")
    phone.locator(f"#o{order.pk} button.claim").click()
    phone.wait_for_selector(f"#o{order.pk} .error")
    assert "乙" in phone.inner_text(f"#o{order.pk}")
    other.context.close()


def test_resident_request_from_the_building_qr_and_its_status(live_server: Any, phone: Any, live_world: World) -> None:
    building_tokens_ensure(community=live_world.community)
    live_world.b5.refresh_from_db()
    phone.goto(f"{live_server.url}/orders/p/{live_world.b5.public_token}/")
    no_sideways_scroll(phone)
    phone.select_option("select[name=kind]", "medicine")
    phone.fill("input[name=room]", "201")
    phone.fill("textarea[name=text]", "透析后需要降压药")
    phone.click("form.request-form button[type=submit]")
    phone.wait_for_selector("#reference")
    request = ResidentRequest.objects.get()
    assert phone.inner_text("#reference") == request.reference
    assert request.order is not None and request.order.household is not None
    shot(phone, "request-status-phone")
    from django.utils import translation

    with translation.override("zh-hans"):
        assert phone.inner_text("#status") == str(Status.OPEN.label)
    # The committee marks it done; the resident's page says so.
    from fangzhou.workorders.services import work_order_transition

    work_order_transition(order_id=request.order.pk, actor=live_world.secretary, action="cancel")
    phone.reload()
    with translation.override("zh-hans"):
        assert phone.inner_text("#status") == str(Status.CANCELLED.label)
