from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.notices.models import Channel, Notice, NoticeDelivery
from fangzhou.registry.models import Building, Household
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World


@dataclass
class Home:
    world: World
    b3: Building
    h101: Household  # 张伟 13800001234, 李娜 13900005678
    h102: Household  # 王秀英, no phone
    h201: Household  # 5号楼: 刘洋 13700009999
    token: str


@pytest.fixture
def home(world: World) -> Home:
    building_tokens_ensure(community=world.community)
    building_tokens_ensure(community=world.other)
    b3 = Building.objects.select_related("compound").get(pk=world.b3.pk)
    return Home(
        world=world,
        b3=b3,
        h101=Household.objects.get(building=b3, room="101"),
        h102=Household.objects.get(building=b3, room="102"),
        h201=Household.objects.get(building=world.b5, room="201"),
        token=b3.public_token,
    )


def enter(client: Client, token: str, room: str, phone4: str) -> int:
    """Room + digits on the building's QR page; the response's status (303 when the pass is given)."""
    return client.post(f"/home/p/{token}/", {"room": room, "phone4": phone4}).status_code


def notice_to(household: Household, *, kind: str = "custom", zh: str, en: str = "", key: str) -> Notice:
    """A notice on a household's page channel (the notices room's service makes these; until the
    merge the tests write the rows the way its fan-out does)."""
    building = household.building
    notice = Notice.objects.create(
        community_id=building.community_id,
        kind=kind,
        text_zh=zh,
        text_en=en,
        audience="household",
        audience_args={"household_id": household.pk},
        event_key=key,
        recipients=1,
    )
    NoticeDelivery.objects.create(
        notice=notice,
        community_id=building.community_id,
        household=household,
        recipient_key=f"h:{household.pk}",
        channel=Channel.PAGE,
        status="sent",
        sent_at=timezone.now() - dt.timedelta(minutes=5),
    )
    return notice
