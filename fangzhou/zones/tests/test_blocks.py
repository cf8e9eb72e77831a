"""Micro sealed zones: drawing a block, the access check, the sampling-site proposal, the demo roads,
the public page and scope."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Building
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.zones.demo import zones_demo_site
from fangzhou.zones.models import Gate, MicroZone, Road
from fangzhou.zones.services import BlockCutsOff, ZoneError, microzone_dissolve, microzone_draw
from fangzhou.zones.site import access_check_block
from fangzhou.zones.tests.sites import lay_site

pytestmark = pytest.mark.django_db
D = dt.date


def test_a_block_across_the_lane_cuts_off_the_building_behind_it(world: World) -> None:
    b7 = lay_site(world)
    compound = world.b3.compound
    outcome = access_check_block(compound, [world.b3.pk, world.b5.pk])
    assert not outcome.ok
    assert [c.label for c in outcome.cut_off] == ["阳光小区 7号楼"]
    assert set(outcome.cut_off[0].vehicles) == {"ambulance", "fire_engine", "supply_van", "garbage_truck"}
    with pytest.raises(BlockCutsOff):
        microzone_draw(
            compound=compound, name="A块", building_ids=[world.b3.pk, world.b5.pk], drawn_on=D(2022, 4, 1), actor=None
        )
    assert not MicroZone.objects.exists()
    # One side of the lane only: everything stays reachable, routes are shown, a sampling site is proposed.
    ok = access_check_block(compound, [world.b3.pk])
    assert ok.ok and ok.cut_off == []
    assert ok.routes and all(points[0] == (50.0, 0.0) for _, _, points in ok.routes)
    assert ok.proposal is not None and ok.proposal.open_space.label == "小广场"
    saved = microzone_draw(
        compound=compound, name="A块", building_ids=[world.b3.pk], drawn_on=D(2022, 4, 1), actor=None
    )
    assert saved.microzone.sampling_space is not None and saved.microzone.sampling_space.name == "小广场"
    # A second block that would close the lane, with the first one in force, is flagged too.
    again = access_check_block(compound, [world.b5.pk])
    assert again.ok  # b5 alone: its hull does not cover the lane
    with pytest.raises(ZoneError):  # a building can be in one block only
        microzone_draw(compound=compound, name="B块", building_ids=[world.b3.pk], drawn_on=D(2022, 4, 1), actor=None)
    # The committee may accept a cut-off explicitly; it is recorded.
    forced = microzone_draw(
        compound=compound,
        name="C块",
        building_ids=[world.b5.pk, b7.pk],
        drawn_on=D(2022, 4, 2),
        actor=world.secretary,
        accept_cut_off=True,
    )
    assert forced.microzone.pk
    microzone_dissolve(microzone_id=forced.microzone.pk, on=D(2022, 4, 5), actor=None)
    assert MicroZone.objects.get(pk=forced.microzone.pk).dissolved_on == D(2022, 4, 5)


def test_block_editor_page_flags_before_saving(world: World) -> None:
    lay_site(world)
    client = Client()
    client.force_login(world.secretary)
    compound = world.b3.compound
    page = client.get(f"/zones/c/T01/blocks/?compound={compound.pk}").content.decode()
    assert page.count('class="bldg') == 3 and "北门" in page
    response = client.post(
        "/zones/c/T01/blocks/",
        {"compound": compound.pk, "buildings": [world.b3.pk, world.b5.pk], "name": "A块", "action": "save"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert 'id="access-flag"' in html and "7号楼" in html and not MicroZone.objects.exists()
    response = client.post(
        "/zones/c/T01/blocks/",
        {"compound": compound.pk, "buildings": [world.b3.pk], "name": "A块", "action": "save"},
    )
    assert response.status_code == 302 and MicroZone.objects.get().name == "A块"


def test_demo_site_lays_roads_and_gates_along_the_rows(world: World) -> None:
    lay_site(world)
    compound = world.b3.compound
    roads = zones_demo_site(world.community)
    assert roads > 0 and Gate.objects.filter(compound=compound).count() == 2
    assert Road.objects.filter(compound=compound).count() == roads
    assert zones_demo_site(world.community) == roads  # again: same plan
    # Every building is reachable by every vehicle with nothing sealed.
    outcome = access_check_block(compound, [world.b3.pk])
    assert outcome.checked
    assert outcome.report is not None
    assert all(r.baseline_reachable for r in outcome.report.routes)


def test_public_page_shows_status_and_countdown_without_personal_data(world: World) -> None:
    building_tokens_ensure(community=world.community)
    token = Building.objects.get(pk=world.b3.pk).public_token
    from django.utils import timezone

    today = timezone.localdate()
    case_confirm(resident=world.resident("张伟"), report_date=today - dt.timedelta(days=2), source="staff", actor=None)
    html = Client().get(f"/zones/p/{token}/").content.decode()
    assert 'data-status="sealed"' in html and 'id="countdown"' in html
    assert ">5" in html  # downgrade in 5 days
    assert "张伟" not in html and "101" not in html
    assert Client().get("/zones/p/not-a-real-token-at-all/").status_code == 404


def zone_urls(world: World) -> list[tuple[str, str, dict[str, object]]]:
    compound = world.b3.compound
    block = MicroZone.objects.get()
    return [
        ("get", "/zones/c/T01/", {}),
        ("post", "/zones/c/T01/rules/", {"rules": "national-9"}),
        (
            "post",
            "/zones/c/T01/override/",
            {"place": f"c{compound.pk}", "status": "sealed", "reason": "x", "until": "2030-01-01"},
        ),
        ("get", "/zones/c/T01/blocks/", {}),
        (
            "post",
            "/zones/c/T01/blocks/",
            {"compound": compound.pk, "buildings": [world.b5.pk], "name": "X", "action": "save"},
        ),
        ("post", f"/zones/z/{block.pk}/dissolve/", {}),
        ("get", "/api/zones/communities/T01/status", {}),
        ("post", "/api/zones/communities/T01/rules", {"rules": "national-9"}),
        (
            "post",
            "/api/zones/communities/T01/blocks/check",
            {"compound_id": compound.pk, "building_ids": [world.b5.pk]},
        ),
        (
            "post",
            "/api/zones/communities/T01/blocks",
            {"compound_id": compound.pk, "name": "X", "building_ids": [world.b5.pk]},
        ),
        ("post", f"/api/zones/blocks/{block.pk}/dissolve", {}),
        (
            "post",
            "/api/zones/communities/T01/overrides",
            {"compound_id": compound.pk, "status": "sealed", "reason": "x", "until": "2030-01-01"},
        ),
    ]


def test_outsiders_are_refused_on_every_zone_page_and_endpoint(world: World) -> None:
    lay_site(world)
    microzone_draw(
        compound=world.b3.compound, name="A块", building_ids=[world.b3.pk], drawn_on=D(2022, 4, 1), actor=None
    )
    for user, expected in ((world.outsider, {404}), (None, {302, 401})):
        client = Client()
        if user is not None:
            client.force_login(user)
        for method, url, payload in zone_urls(world):
            if "/api/" in url and method == "post":
                response = client.post(url, json.dumps(payload), content_type="application/json")
            else:
                response = getattr(client, method)(url, payload)
            assert response.status_code in expected, (user, url, response.status_code)
    assert MicroZone.objects.filter(dissolved_on__isnull=True).count() == 1
    assert not MicroZone.objects.filter(name="X").exists()


def test_building_leader_sees_zones_and_only_own_case_counts(world: World) -> None:
    lay_site(world)
    case_confirm(resident=world.resident("张伟"), report_date=D(2022, 4, 10), source="staff", actor=None)
    case_confirm(resident=world.resident("刘洋"), report_date=D(2022, 4, 11), source="staff", actor=None)
    client = Client()
    client.force_login(world.leader)  # building 3 only
    data = client.get("/api/zones/communities/T01/status?on=2022-04-12").json()
    counts = {b["building"]: b["cases"] for b in data["buildings"]}
    assert counts == {"3号楼": 1, "5号楼": None, "7号楼": None}
    assert data["compounds"][0]["status"] == "sealed"
    html = client.get("/zones/c/T01/?on=2022-04-12").content.decode()
    assert ">3·1<" in html and ">5·1<" not in html and ">5<" in html
    # Committee actions are refused to a building leader.
    assert client.post("/zones/c/T01/rules/", {"rules": "national-9"}).status_code == 403
    assert client.get("/zones/c/T01/blocks/").status_code == 403
    response = client.post(
        "/api/zones/communities/T01/rules", json.dumps({"rules": "national-9"}), content_type="application/json"
    )
    assert response.status_code == 403


def test_api_draws_a_block_and_answers_409_with_the_cut_off(world: World) -> None:
    lay_site(world)
    client = Client()
    client.force_login(world.secretary)
    compound = world.b3.compound
    body = {"compound_id": compound.pk, "name": "A块", "building_ids": [world.b3.pk, world.b5.pk]}
    response = client.post("/api/zones/communities/T01/blocks", json.dumps(body), content_type="application/json")
    assert response.status_code == 409
    assert response.json()["cut_off"] == [
        {"target": "阳光小区 7号楼", "vehicles": ["ambulance", "fire_engine", "garbage_truck", "supply_van"]}
    ]
    body["building_ids"] = [world.b3.pk]
    response = client.post("/api/zones/communities/T01/blocks", json.dumps(body), content_type="application/json")
    assert response.status_code == 201 and response.json()["proposed_sampling_site"] == "小广场"
