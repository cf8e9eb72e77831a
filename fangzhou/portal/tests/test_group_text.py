"""The building leader's WeChat group text and door notice."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from fangzhou.notices.models import Notice
from fangzhou.portal.grouptext import scrub
from fangzhou.portal.tests.conftest import Home, notice_to
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _leader(home: Home) -> Client:
    client = Client()
    assert client.login(username=home.world.leader.username, password=PASSWORD)
    return client


def _building_notice(home: Home) -> Notice:
    return Notice.objects.create(
        community=home.world.community,
        kind="custom",
        text_zh="3号楼 14:00 下楼做核酸，请张伟、李娜带好手机（13800001234）。",
        text_en="Building 3: PCR sampling at 14:00.",
        audience="building",
        audience_args={"building_id": home.b3.pk},
        event_key="staff:b3-sampling",
    )


def _text(client: Client, notice: Notice, building_id: int) -> str:
    response = client.get(f"/portal/group/{notice.pk}/{building_id}/")
    assert response.status_code == 200
    match = re.search(r'<textarea id="group-text"[^>]*>(.*?)</textarea>', response.content.decode(), re.S)
    assert match
    return match.group(1)


def test_the_group_text_carries_the_notice_and_the_link_and_no_name_phone_or_id(home: Home) -> None:
    notice = _building_notice(home)
    text = _text(_leader(home), notice, home.b3.pk)
    assert "下楼做核酸" in text and "Building 3" not in text  # the group message is Chinese
    page = _leader(home).get(f"/portal/group/{notice.pk}/{home.b3.pk}/").content.decode()
    assert 'lang="en">Building 3: PCR sampling at 14:00.' in page  # the English one apart, to copy if wanted
    assert f"/p/{home.b3.public_token}/" in text  # the building's public QR page
    assert "测试居民区" in text and "阳光小区 3号楼" in text
    for person in Resident.objects.filter(community=home.world.community):
        assert person.name not in text
        assert person.id_number not in text
        if person.phone:
            assert person.phone[-11:] not in text and person.phone[-4:] + "）" not in text


def test_rooms_are_named_only_for_kinds_that_say_nothing_about_health(home: Home) -> None:
    delivered = notice_to(home.h101, kind="custom", zh="物资已放门口", key="d-1")
    text = _text(_leader(home), delivered, home.b3.pk)
    assert "涉及房号：101" in text
    positive = notice_to(home.h101, kind="pool_positive", zh="您的混管阳性，请在家等候复查", key="p-1")
    text = _text(_leader(home), positive, home.b3.pk)
    assert "101" not in text.split("\n\n", 1)[1].split("http")[0]  # the body and rooms line name no room
    assert "相关住户已在本户页面收到通知" in text


def test_the_copy_button_and_the_door_notice_pdf(home: Home) -> None:
    notice = _building_notice(home)
    client = _leader(home)
    page = client.get(f"/portal/group/{notice.pk}/{home.b3.pk}/").content.decode()
    assert 'id="copy"' in page and "portal/group.js" in page
    pdf = client.get(f"/portal/group/{notice.pk}/{home.b3.pk}/door.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000


def test_the_list_shows_the_notices_of_the_leaders_buildings_only(home: Home) -> None:
    mine = _building_notice(home)
    elsewhere = notice_to(home.h201, zh="5号楼的通知", key="b5-1")
    page = _leader(home).get("/portal/group/").content.decode()
    assert f"/portal/group/{mine.pk}/{home.b3.pk}/" in page
    assert "5号楼的通知" not in page
    assert _leader(home).get(f"/portal/group/{elsewhere.pk}/{home.world.b5.pk}/").status_code == 404
    assert _leader(home).get(f"/portal/group/{mine.pk}/{home.world.b5.pk}/").status_code == 404  # not reached


def test_an_outsider_and_an_anonymous_visitor_are_refused(home: Home) -> None:
    notice = _building_notice(home)
    outsider = Client()
    outsider.force_login(home.world.outsider)
    for url in (f"/portal/group/{notice.pk}/{home.b3.pk}/", f"/portal/group/{notice.pk}/{home.b3.pk}/door.pdf"):
        assert outsider.get(url).status_code == 404
        assert Client().get(url).status_code == 302
    assert "下楼做核酸" not in outsider.get("/portal/group/").content.decode()


def test_scrub_takes_names_longest_first_and_masks_numbers() -> None:
    assert scrub("欧阳娜娜和欧阳好", ["欧阳", "欧阳娜娜"]) == "**和**好"
    assert "13800001234" not in scrub("电话13800001234", [])
    assert "310104198005170011" not in scrub("证件310104198005170011", [])
    assert scrub("14:00 下楼", []) == "14:00 下楼"
