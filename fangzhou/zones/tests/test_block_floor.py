"""The floor around a micro sealed block, everywhere a status is shown: a tiny hand-made history
(one case in block A块 = building 3, none elsewhere) under each rule set, read back from the zone
page (status, countdown, timeline), the public building page, the daily report and the JSON."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.zones.selectors import zone_report, zone_report_json
from fangzhou.zones.services import microzone_draw, zone_rules_set

pytestmark = pytest.mark.django_db

# rule set -> (block status, the rest of the compound while it is at it, days the block stays there)
EXPECTED = {
    "shanghai-2022-04": ("sealed", "controlled", "prevention", 7),
    "shanghai-2022-05": ("sealed", "controlled", "prevention", 7),
    "national-9": ("high", "medium", "low", 7),
}


@pytest.fixture
def sealed_block(world: World) -> dt.date:
    """Building 3 drawn as block A块; one case there two days ago; building 5 has no case."""
    today = timezone.localdate()
    microzone_draw(
        compound=world.b3.compound,
        name="A块",
        building_ids=[world.b3.pk],
        drawn_on=today - dt.timedelta(days=3),
        actor=world.secretary,
    )
    case_confirm(resident=world.resident("张伟"), report_date=today - dt.timedelta(days=2), source="staff", actor=None)
    return today


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_the_rest_of_the_compound_is_held_while_the_block_is_at_the_top(
    world: World, sealed_block: dt.date, rule: str
) -> None:
    top, held, lowest, days = EXPECTED[rule]
    zone_rules_set(community=world.community, rule_set=rule, actor=None)
    today = sealed_block
    case_day = today - dt.timedelta(days=2)
    step_down = case_day + dt.timedelta(days=days)

    report = zone_report(world.community, today)
    (compound,) = report.compounds
    (block,) = report.microzones
    assert block.state.status == top
    assert compound.state.status == held and compound.state.last_case_on is None
    assert report.held_by(compound.state) == "A块"
    # the countdown follows the block: the rest steps down the day the block does
    assert (compound.state.next_change_on, compound.state.next_status) == (step_down, lowest)
    assert compound.countdown == 5
    # the timeline (drawn on the community page) shows the held days
    assert compound.timeline == [(today - dt.timedelta(days=60), lowest), (case_day, held)]
    b5 = next(b for b in report.buildings if b.id == world.b5.pk)
    assert b5.state.status == held

    data = zone_report_json(report)
    assert data["compounds"][0]["status"] == held and data["compounds"][0]["held_by"] == "A块"

    secretary = Client()
    secretary.force_login(world.secretary)
    html = secretary.get(f"/zones/c/T01/?on={today.isoformat()}").content.decode()
    assert f'id="zone-c{world.b3.compound_id}" data-status="{held}"' in html
    assert "A块" in html and step_down.isoformat() in html

    daily = secretary.get(f"/reports/c/T01/?day={today.isoformat()}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert daily.status_code == 200
    text = daily.content.decode()
    assert f'data-status="{held}"' in text and "A块" in text

    building_tokens_ensure(community=world.community)
    token = Building.objects.get(pk=world.b5.pk).public_token
    public = Client().get(f"/zones/p/{token}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'data-status="{held}"' in public and 'id="held-by"' in public and "A块" in public
    assert 'id="countdown"' in public and "张伟" not in public

    # the day the block steps down, the rest of the compound drops with it
    after = zone_report(world.community, step_down)
    assert after.microzones[0].state.status != top
    assert after.compounds[0].state.status == lowest and after.held_by(after.compounds[0].state) == ""
