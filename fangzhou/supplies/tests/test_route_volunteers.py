"""Route planning starts from the volunteers on duty now."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.registry.tests.factories import World
from fangzhou.supplies.selectors import volunteers_of
from fangzhou.volunteers.models import Post
from fangzhou.volunteers.services import shift_assign, shift_create, work_groups_ensure
from fangzhou.volunteers.tests.helpers import approved

pytestmark = pytest.mark.django_db


def test_volunteers_on_shift_come_first_and_are_preselected(world: World) -> None:
    on_duty = approved(world.community, "值班员", "13811112001")
    off_duty = approved(world.community, "休息员", "13811112002")
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
    start = timezone.now() - dt.timedelta(hours=1)
    shift, _ = shift_create(
        group=group, post=Post.GATE, starts_at=start, ends_at=start + dt.timedelta(hours=4), actor=None
    )
    shift_assign(shift=shift, volunteer=on_duty, actor=world.secretary)
    users = volunteers_of(world.community)
    assert users[0] == on_duty.user and users[0].on_shift  # type: ignore[attr-defined]
    assert off_duty.user in users and not next(u for u in users if u == off_duty.user).on_shift  # type: ignore[attr-defined]
    # Two hours after the shift ended, nobody is on duty.
    later = start + dt.timedelta(hours=6)
    assert not any(u.on_shift for u in volunteers_of(world.community, at=later))  # type: ignore[attr-defined]
    client = Client()
    client.force_login(world.secretary)
    page = client.get(f"/supplies/c/{world.community.code}/routes/").content.decode()
    # name="volunteers": a building's checkbox (always checked) may carry the same number on PostgreSQL.
    assert f'name="volunteers" value="{on_duty.user.pk}" checked' in page  # type: ignore[union-attr]
    assert f'name="volunteers" value="{off_duty.user.pk}" checked' not in page  # type: ignore[union-attr]


def test_pickers_mark_volunteers_who_may_not_go_to_doors_and_the_server_refuses_them(world: World) -> None:
    from fangzhou.supplies.services import (
        SuppliesError,
        delivery_assign,
        distribution_allocate,
        distribution_create,
    )

    well = approved(world.community, "健康员", "13811112011")
    sick = approved(world.community, "未测员", "13811112012", tested_hours_ago=None)
    users = volunteers_of(world.community)
    assert users[-1] == sick.user and not users[-1].may_serve  # type: ignore[attr-defined]
    assert "48 小时内没有阴性" in users[-1].why  # type: ignore[attr-defined]
    client = Client()
    client.force_login(world.secretary)
    page = client.get(f"/supplies/c/{world.community.code}/routes/").content.decode()
    assert f'name="volunteers" value="{sick.user.pk}" disabled' in page and "48 小时内没有阴性检测结果" in page  # type: ignore[union-attr]
    assert f'name="volunteers" value="{well.user.pk}" disabled' not in page  # type: ignore[union-attr]
    refused = client.post(
        f"/supplies/c/{world.community.code}/routes/",
        {"buildings": [world.b3.pk], "volunteers": [sick.user.pk], "capacity": 20},  # type: ignore[union-attr]
    )
    assert refused.status_code == 400 and "暂不能上门送货" in refused.content.decode()
    dist = distribution_create(
        community=world.community,
        name="蔬菜包",
        kind="government",
        on=timezone.localdate(),
        package={"米": 1},
        actor=None,
    )
    distribution_allocate(distribution=dist, actor=None)
    with pytest.raises(SuppliesError) as err:
        delivery_assign(distribution=dist, building=world.b3, volunteer=sick.user, actor=world.secretary)
    assert "no negative test" in err.value.en and "未测员" in err.value.zh
    assert delivery_assign(distribution=dist, building=world.b3, volunteer=well.user, actor=world.secretary)
    client.cookies["django_language"] = "en"
    page = client.get(f"/supplies/d/{dist.pk}/").content.decode()
    assert f'value="{sick.user.pk}" disabled' in page and "no negative test in the last 48 hours" in page  # type: ignore[union-attr]
