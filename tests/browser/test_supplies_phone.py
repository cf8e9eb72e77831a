"""A building leader marks doors delivered on a phone, one tap per door."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fangzhou.registry.tests.factories import PASSWORD, World, build_world, place
from fangzhou.supplies import services
from fangzhou.supplies.models import Delivery, DeliveryStatus
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return place(build_world())


def test_marking_deliveries_on_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    dist = services.distribution_create(
        community=live_world.community,
        name="政府包",
        kind="government",
        on=dt.date(2022, 4, 20),
        package={"大米": 1, "蔬菜包": 1},
        actor=None,
    )
    services.distribution_allocate(distribution=dist, actor=None)
    sign_in(phone, live_server.url, "leader3", PASSWORD)
    phone.goto(f"{live_server.url}/supplies/d/{dist.pk}/")
    phone.click(f"#bp{live_world.b3.pk} a")
    phone.wait_for_selector("ul.doors")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    buttons = phone.locator("form.mark button")
    assert buttons.count() == 2
    box = buttons.first.bounding_box()
    assert box is not None and box["height"] >= 44
    shot(phone, "supplies-doors-phone")
    for room in ("101", "102"):
        door = phone.locator("li.door", has_text=room)
        door.locator("form.mark button").tap()
        phone.wait_for_selector(f"li.door.delivered:has-text('{room}')")
    assert phone.inner_text("#done-count") == "2"
    assert set(Delivery.objects.filter(distribution=dist, building=live_world.b3).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    shot(phone, "supplies-doors-done-phone")
    phone.goto(f"{live_server.url}/supplies/d/{dist.pk}/")
    assert "2/2" in phone.inner_text(f"#bp{live_world.b3.pk}")
