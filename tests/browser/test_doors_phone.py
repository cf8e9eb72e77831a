"""Issue 17's pages on a 390 px phone in zh-hans: the volunteer's door task with its call buttons,
the filtered lists, and the public page of a building held by its compound's sealed block."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from fangzhou.care.services import care_registry_sync
from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.testing.services import retest_open
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.services import door_task_claim
from fangzhou.zones.services import microzone_draw
from tests.browser.conftest import PHONE, shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    cache.clear()
    return build_world()


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_door_task_filters_and_held_zone_at_390px(live_server: Any, phone: Any, live_world: World) -> None:
    w = live_world
    base = live_server.url
    phone.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    for name in ("张伟", "李娜"):
        retest_open(resident=w.resident(name), reason="antigen_positive", actor=None, key="t1")
    volunteer = approved(w.community, "甲", "13811110101", groups=("testing",))
    assert volunteer.user is not None
    volunteer.user.set_password(PASSWORD)
    volunteer.user.save()
    first = volunteer.user.work_orders.model.objects.filter(kind="retest").order_by("pk").first()
    assert first is not None
    door_task_claim(order_id=first.pk, actor=volunteer.user)
    sign_in(phone, base, volunteer.user.username, PASSWORD)
    phone.goto(f"{base}/orders/")
    card = phone.locator("#mine article").first
    assert "一户 2 人" in card.inner_text()
    assert card.locator("a.call").count() == 2 and "13800001234" not in phone.content()
    _fits(phone)
    shot(phone, "doors-volunteer-door-task")

    care_registry_sync(community=w.community, actor=None)
    phone.context.clear_cookies()
    phone.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    sign_in(phone, base, "sec", PASSWORD)
    for url, name in (
        (f"/care/c/T01/?building={w.b3.pk}", "doors-care-filter"),
        ("/orders/?c=T01&kind=retest&older=2", "doors-board-filter"),
        (f"/testing/antigen/c/T01/?building={w.b3.pk}", "doors-not-reported-by-building"),
    ):
        phone.goto(base + url)
        _fits(phone)
        shot(phone, name)

    today = timezone.localdate()
    microzone_draw(
        compound=w.b3.compound, name="A块", building_ids=[w.b3.pk], drawn_on=today - dt.timedelta(days=3), actor=None
    )
    case_confirm(resident=w.resident("张伟"), report_date=today - dt.timedelta(days=2), source="staff", actor=None)
    building_tokens_ensure(community=w.community)
    token = Building.objects.get(pk=w.b5.pk).public_token
    phone.goto(f"{base}/zones/p/{token}/")
    assert "A块" in phone.inner_text("#held-by") and phone.get_attribute("#zone-status", "data-status") == "controlled"
    _fits(phone)
    shot(phone, "doors-public-zone-held")
    phone.goto(f"{base}/zones/c/T01/")
    _fits(phone)
    shot(phone, "doors-zone-page-held")
