"""The daily report's "at risk in the next 48 h" is the number of residents the overview lists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangzhou.care import services
from fangzhou.care.models import CareProfile
from fangzhou.care.selectors import at_risk_count, at_risk_next_48h
from fangzhou.registry.tests.factories import World
from fangzhou.workorders.services import work_order_claim

pytestmark = pytest.mark.django_db


def _listed(world: World, now: dt.datetime) -> int:
    return len({r.profile.pk for r in at_risk_next_48h(world.secretary, world.community, now=now)})


def test_the_count_follows_the_list_as_needs_are_met(world: World, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    assert at_risk_count(world.secretary, world.community, now=now) == 0 == _listed(world, now)
    services.care_registry_sync(community=world.community, actor=None)  # 王秀英 alone, 刘洋 dialysis
    liu = CareProfile.objects.get(resident__name="刘洋")
    services.treatment_schedule_set(
        profile_id=liu.pk, actor=None, kind="dialysis", weekdays="1,2,3,4,5,6,7", at=dt.time(8), hospital="瑞金医院"
    )
    zhang = world.resident("张伟")
    services.medicine_request_create(resident=zhang, actor=None, medicines=[{"name": "氨氯地平"}], pharmacy="华山医院")
    counts = []
    with django_assert_max_num_queries(2):
        counts.append(at_risk_count(world.secretary, world.community, now=now))
    assert counts[0] == _listed(world, now) >= 2
    # escorts ordered and claimed for every session in the window: 刘洋 is no longer at risk
    report = services.care_escorts_ensure(now=now)
    for order_id in report.order_ids:
        work_order_claim(order_id=order_id, actor=world.volunteer)
    assert at_risk_count(world.secretary, world.community, now=now) == _listed(world, now)
