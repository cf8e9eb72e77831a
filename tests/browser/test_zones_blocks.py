"""Drawing a micro sealed zone on a phone: pick buildings on the plan, see a cut-off flagged, save."""

from __future__ import annotations

from typing import Any

import pytest

from fangzhou.registry.models import Building
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.zones.models import MicroZone
from fangzhou.zones.tests.sites import lay_site
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def site_world(transactional_db: None) -> tuple[World, Building]:
    world = build_world()
    b7 = lay_site(world)
    return world, b7


def test_draw_a_block_see_the_cut_off_then_save(
    live_server: Any, phone: Any, site_world: tuple[World, Building]
) -> None:
    world, b7 = site_world
    compound = world.b3.compound
    sign_in(phone, live_server.url, "sec", PASSWORD)
    phone.goto(f"{live_server.url}/zones/c/T01/blocks/?compound={compound.pk}")
    assert phone.locator("#block-editor svg polygon.bldg").count() == 3
    # Pick the two buildings on either side of the lane by tapping them on the plan.
    phone.locator(f'#block-editor svg polygon[data-id="{world.b3.pk}"]').click()
    phone.locator(f'#block-editor svg polygon[data-id="{world.b5.pk}"]').click()
    assert phone.locator(f'#pick-list input[value="{world.b5.pk}"]').is_checked()
    phone.click("#check-access")
    flag = phone.wait_for_selector("#access-flag")
    assert "7号楼" in flag.inner_text()
    # The routes into the block are drawn on the plan, and the cut-off building is marked.
    assert phone.locator("#block-editor svg polyline.route").count() > 0
    assert phone.locator(f'#block-editor svg polygon.flagged[data-id="{b7.pk}"]').count() == 1
    shot(phone, "zones-block-cut-off")
    # Saving that plan is refused while it cuts a building off.
    phone.fill("input[name=name]", "A块")
    phone.click("#save-block")
    phone.wait_for_selector("#block-error")
    assert not MicroZone.objects.exists()
    # Keep one side of the lane only: access is fine and the nearest open space is proposed.
    phone.locator(f'#block-editor svg polygon[data-id="{world.b5.pk}"]').click()
    phone.click("#check-access")
    phone.wait_for_selector("#access-ok")
    assert "小广场" in phone.inner_text("#proposal")
    phone.click("#save-block")
    phone.wait_for_selector("#block-saved")
    block = MicroZone.objects.get()
    assert block.name == "A块" and list(block.buildings.values_list("pk", flat=True)) == [world.b3.pk]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "zones-block-saved")
    phone.goto(f"{live_server.url}/zones/c/T01/")
    assert "A块" in phone.inner_text(f"#zone-z{block.pk}")
    shot(phone, "zones-main")
