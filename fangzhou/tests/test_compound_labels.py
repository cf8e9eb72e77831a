"""A community with two compounds that both have a 1号楼: every page, text and export that names a
building names its compound, and a door is never guessed between the two."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.registry.models import Building, Resident
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import PASSWORD, World, make_id, roster_sheet
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery
from fangzhou.testing.services import antigen_report_submit
from fangzhou.workorders.models import WorkOrder

BORN = dt.date(1970, 1, 1)


@pytest.fixture
def twins(world: World) -> World:
    rows = [
        ["华新一村", "1号楼", "101", "张三丰", make_id("310104", BORN, 41, True), "13811112222", "", "一网格"],
        ["华新二村", "1号楼", "101", "单田芳", make_id("310104", BORN, 42, True), "13811113333", "", "一网格"],
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="twins.xlsx")
    return world


def signed_in(world: World) -> Client:
    client = Client()
    assert client.login(username=world.secretary.username, password=PASSWORD)
    return client


def test_the_labels(twins: World) -> None:
    one, two = (
        Building.objects.filter(community=twins.community, number="1")
        .select_related("compound")
        .order_by("compound_id")
    )
    assert (one.full_label, two.full_label) == ("华新一村 1号楼", "华新二村 1号楼")
    assert str(two) == "华新二村 1号楼"
    household = Resident.objects.select_related("household__building__compound").get(name="单田芳").household
    assert household.full_label == "华新二村 1号楼 101室"


def test_the_antigen_grid_and_the_positive_name_the_compound(twins: World) -> None:
    shan = Resident.objects.get(name="单田芳")
    antigen_report_submit(
        household=shan.household, day=timezone.localdate(), results={shan.pk: "positive"}, client_id="twins-pos-1"
    )
    html = signed_in(twins).get(f"/testing/antigen/c/{twins.community.code}/").content.decode()
    assert ">华新一村 1号楼</a>" in html and ">华新二村 1号楼</a>" in html
    assert "华新二村 1号楼 101室" in html
    # The door-to-door re-test order says which 1号楼.
    order = WorkOrder.objects.get(resident=shan)
    assert "华新二村 1号楼 101室" in order.title


def test_the_overview_and_the_building_page_name_the_compound(twins: World) -> None:
    client = signed_in(twins)
    overview = client.get(f"/c/{twins.community.code}/").content.decode()
    assert "华新一村 1号楼" in overview and "华新二村 1号楼" in overview
    two = Building.objects.get(compound__name="华新二村", number="1")
    assert "<h1>华新二村 1号楼" in client.get(f"/b/{two.pk}/").content.decode()


def test_an_order_for_1_101_is_refused_until_the_compound_is_chosen(twins: World) -> None:
    dist = supplies.distribution_create(
        community=twins.community, name="团购", kind="group_purchase", on=dt.date(2022, 4, 20), actor=None
    )
    client = signed_in(twins)
    page = client.get(f"/supplies/d/{dist.pk}/").content.decode()
    assert 'name="compound"' in page  # the form asks which compound
    response = client.post(
        f"/supplies/d/{dist.pk}/order/", {"building": "1", "room": "101", "items": "米:1"}, follow=True
    )
    assert "在多个小区" in response.content.decode()
    assert not Delivery.objects.filter(distribution=dist).exists()
    second = Building.objects.get(compound__name="华新二村", number="1")
    response = client.post(
        f"/supplies/d/{dist.pk}/order/",
        {"compound": str(second.compound_id), "building": "1", "room": "101", "items": "米:1"},
        follow=True,
    )
    assert "华新二村 1号楼 101室" in response.content.decode()
    assert Delivery.objects.get(distribution=dist).household.building_id == second.pk
