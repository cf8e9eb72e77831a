"""Notices on the clock: today's sampling time per building, a zone change since yesterday, the end
of home monitoring; each told once however often the job runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangzhou.cases.models import Case
from fangzhou.cases.services import case_confirm
from fangzhou.notices.models import Notice, NoticeDelivery
from fangzhou.notices.tasks import notices_time_events
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import BuildingSlot, Round, SamplingSite

pytestmark = pytest.mark.django_db


def test_sampling_time_zone_change_and_monitoring_end_are_each_told_once(world: World) -> None:
    today = timezone.localdate()
    rnd = Round.objects.create(community=world.community, date=today)
    site = SamplingSite.objects.create(round=rnd, name="东门", opens_at=dt.time(8), closes_at=dt.time(20))
    start = timezone.now() + dt.timedelta(hours=2)
    BuildingSlot.objects.create(
        round=rnd, building=world.b3, site=site, starts_at=start, ends_at=start + dt.timedelta(minutes=30)
    )
    _case, _ = case_confirm(
        resident=world.resident("刘洋"), report_date=today, source="staff", actor=None
    )  # 5号楼 sealed today
    old, _ = case_confirm(
        resident=world.resident("张伟"), report_date=today - dt.timedelta(days=30), source="staff", actor=None
    )
    Case.objects.filter(pk=old.pk).update(
        discharged_on=today - dt.timedelta(days=10), monitoring_until=today - dt.timedelta(days=1)
    )
    first = notices_time_events()
    again = notices_time_events()
    assert first["sampling"] == 1 and first["monitoring"] == 1 and first["zones"] >= 1
    assert again["sampling"] == 0  # the sampling notice is once (zones and monitoring count lookups)
    kinds = sorted(Notice.objects.values_list("kind", flat=True))
    assert kinds.count("sampling_time") == 1 and kinds.count("monitoring_end") == 1 and "zone_changed" in kinds
    sampling = Notice.objects.get(kind="sampling_time")
    rooms = set(
        NoticeDelivery.objects.filter(notice=sampling, channel="page").values_list("household__room", flat=True)
    )
    assert rooms == {"101", "102"}  # 3号楼's households, nobody else
    zone = Notice.objects.filter(kind="zone_changed").first()
    assert zone is not None and zone.args["status_en"] and zone.args["status"] != zone.args["status_en"]
    # a second run adds nothing
    count = Notice.objects.count()
    notices_time_events()
    assert Notice.objects.count() == count
