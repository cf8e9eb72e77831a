"""The three essential events — a pooled positive, a delivery done, a request's status changed —
reach exactly the affected households on every configured channel exactly once: in-process (the
embedded default) and on a real Celery worker with Redis (PostgreSQL: the worker reads the test's
database)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone, translation

from fangzhou.care import services as care
from fangzhou.care.models import CareProfile
from fangzhou.cases.services import case_confirm, case_discharge, case_pcr_record
from fangzhou.lib.jobs import celery_app
from fangzhou.notices.models import DeliveryStatus, Notice, NoticeDelivery
from fangzhou.notices.tests.conftest import (
    Channels,
    channels_on,
    provider_settings,
    subscribe,
)
from fangzhou.notices.tests.servers import PushServer, SmsServer, vapid_keys
from fangzhou.notices.texts import notice_text
from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import World
from fangzhou.supplies.models import Delivery
from fangzhou.supplies.services import delivery_mark, distribution_allocate, distribution_create
from fangzhou.testing.models import Round
from fangzhou.testing.services import results_import, round_create, sample_take, tube_close
from fangzhou.testing.tests.helpers import DAY, csv_bytes
from fangzhou.volunteers.services import shift_assign, shift_create
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import WorkOrder
from fangzhou.workorders.services import resident_request_submit, work_order_claim, work_order_transition

LAB_HEADER = ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"]


def _households(world: World) -> dict[str, Household]:
    return {
        f"{h.building.number}-{h.room}": h
        for h in Household.objects.filter(building__community=world.community).select_related("building")
    }


def _pooled_positive(world: World) -> bytes:
    """3-101 (two people) and 3-102 in tube T-0001, 5-201 in T-0002; the lab: T-0001 positive."""
    zhang, li, wang, liu = (world.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    rnd = round_create(community=world.community, date=DAY, pool_size=3, actor=world.secretary)
    sample_take(round=rnd, residents=[zhang, li], actor=world.secretary, station="s1", tube_code="T-0001")
    sample_take(round=rnd, residents=[wang], actor=world.secretary, station="s1")
    third = sample_take(round=rnd, residents=[liu], actor=world.secretary, station="s1", tube_code="T-0002")
    tube_close(tube=third.tube, actor=world.secretary)
    lab = csv_bytes(
        [LAB_HEADER, ["T-0001", "阳性", "28", "30", "2022-04-12 20:00"], ["T-0002", "阴性", "", "", "2022-04-12 20:00"]]
    )
    results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    return lab


def _the_three_events(world: World) -> None:
    lab = _pooled_positive(world)
    # A second import of the same lab file is no new event.
    results_import(round=Round.objects.get(), data=lab, filename="lab.csv", actor=world.secretary)

    dist = distribution_create(
        community=world.community,
        name="政府包1",
        kind="government",
        on=dt.date(2022, 4, 20),
        package={"大米": 1},
        actor=world.secretary,
    )
    distribution_allocate(distribution=dist, actor=world.secretary)
    door = Delivery.objects.get(distribution=dist, household=world.resident("刘洋").household)
    delivery_mark(delivery_id=door.pk, actor=world.secretary, sealed=False)
    delivery_mark(delivery_id=door.pk, actor=world.secretary, sealed=False)  # a second tap

    request, _ = resident_request_submit(
        building=world.b3, room="101", kind="food", text="没有菜了", client_id="q" * 32
    )
    helper = approved(world.community, "送菜员", "13811112345", groups=("supplies",))
    assert helper.user is not None and request.order is not None
    assert work_order_claim(order_id=request.order.pk, actor=helper.user).won
    work_order_transition(order_id=request.order.pk, actor=helper.user, action="done")
    work_order_transition(order_id=request.order.pk, actor=helper.user, action="done")  # repeated: no change


def _expect(world: World, channels: Channels) -> None:
    homes = _households(world)
    by_kind: dict[str, set[int]] = {}
    for notice in Notice.objects.all():
        by_kind.setdefault(notice.kind, set()).update(
            NoticeDelivery.objects.filter(notice=notice, channel="page").values_list("household_id", flat=True)
        )
    assert by_kind == {
        "pool_positive": {homes["3-101"].pk, homes["3-102"].pk},  # the tube's households, not 5-201
        "delivery_done": {homes["5-201"].pk},
        "request_status": {homes["3-101"].pk},
    }
    assert Counter(Notice.objects.values_list("kind", flat=True)) == {
        "pool_positive": 1,
        "delivery_done": 1,
        "request_status": 2,  # claimed, then done
    }
    # Every configured channel, exactly once: SMS to the households with a mobile, push to the browser.
    assert not NoticeDelivery.objects.filter(status=DeliveryStatus.QUEUED).exists()
    sent = Counter(
        (kind, channel)
        for kind, channel in NoticeDelivery.objects.filter(status="sent").values_list("notice__kind", "channel")
    )
    assert sent == {
        ("pool_positive", "page"): 2,
        ("pool_positive", "sms"): 1,  # 3-101 (3-102 has no phone: skipped, said so)
        ("pool_positive", "push"): 1,  # 3-101's browser
        ("delivery_done", "page"): 1,
        ("delivery_done", "sms"): 1,
        ("request_status", "page"): 2,
        ("request_status", "sms"): 2,
        ("request_status", "push"): 2,
    }
    assert channels.sms.problems == [] and channels.push.problems == []
    sms = Counter(request.body["TemplateId"] for request in channels.sms.received)
    assert sms == {"2000001": 1, "2000002": 1, "2000003": 2}
    assert Counter(message["path"] for message in channels.push.messages) == {"/push/3-101": 3}
    phones = {request.body["PhoneNumberSet"][0] for request in channels.sms.received}
    assert phones == {"+8613800001234", "+8613700009999"}  # 3-101's first mobile, 5-201's


@pytest.mark.django_db
def test_the_three_events_in_process(world: World, channels: Channels, django_capture_on_commit_callbacks: Any) -> None:
    channels_on(world)
    subscribe(channels.push, _households(world)["3-101"], "3-101")
    with django_capture_on_commit_callbacks(execute=True):
        _the_three_events(world)
    _expect(world, channels)


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="Redis is not running here")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker reads the test database: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_three_events_on_a_celery_worker(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    private, public = vapid_keys()
    sms_port, push_port = 8126, 8127
    env_values = provider_settings(settings, sms_port=sms_port, vapid_private=private, vapid_public=public)
    queue = f"fz-notices-{os.getpid()}"
    broker = "redis://127.0.0.1:6379/14"
    db = connection.settings_dict
    env = {
        **os.environ,
        **env_values,
        "CELERY_BROKER_URL": broker,
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    with SmsServer(sms_port) as sms, PushServer(push_port, vapid_public=public) as push:
        assert isinstance(sms, SmsServer) and isinstance(push, PushServer)
        channels = Channels(sms, push, public)
        channels_on(world)
        subscribe(push, _households(world)["3-101"], "3-101")
        log = tmp_path / "worker.log"
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "fangzhou.celery",
                    "worker",
                    "--pool=solo",
                    "-Q",
                    queue,
                    "--loglevel=WARNING",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            celery_app.cache_clear()  # the sending app is made for this broker (another test may have made one)
            try:
                settings.FANGZHOU_JOBS = "celery"
                settings.CELERY_BROKER_URL = broker
                settings.FANGZHOU_CELERY_QUEUE = queue
                from fangzhou.celery import app

                monkeypatch.setattr(app.conf, "broker_url", broker)
                _the_three_events(world)
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and (
                    NoticeDelivery.objects.filter(status=DeliveryStatus.QUEUED).exists() or len(sms.received) < 4
                ):
                    time.sleep(0.3)
                time.sleep(1)  # anything sent twice would arrive now
                _expect(world, channels)
            finally:
                celery_app.cache_clear()
                worker.terminate()
                worker.wait(timeout=30)


@pytest.mark.django_db
def test_discharge_an_escort_and_medicine_tell_exactly_the_household_they_concern(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    homes = _households(world)
    liu, zhang = world.resident("刘洋"), world.resident("张伟")
    with django_capture_on_commit_callbacks(execute=True):
        case, _ = case_confirm(resident=liu, report_date=dt.date(2022, 4, 10), source="antigen_pcr", actor=None)
        for day, hour in ((dt.date(2022, 4, 18), 8), (dt.date(2022, 4, 19), 9)):
            sampled = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
            case_pcr_record(case_id=case.pk, sampled_at=sampled, negative=True, ct=37.0, actor=None)
        case_discharge(case_id=case.pk, discharged_on=dt.date(2022, 4, 20), actor=None)

        care.care_registry_sync(community=world.community, actor=None)
        profile = CareProfile.objects.get(resident=liu)
        care.treatment_schedule_set(
            profile_id=profile.pk,
            actor=None,
            kind="dialysis",
            weekdays="1,2,3,4,5,6,7",
            at=dt.time(8),
            hospital="瑞金医院",
        )
        care.care_escorts_ensure(now=timezone.now())
        care.care_escorts_ensure(now=timezone.now())  # the schedule runs again: no second notice

        request = care.medicine_request_create(
            resident=zhang, actor=None, medicines=[{"name": "氨氯地平"}], pharmacy="华山医院"
        )
        care.medicine_trips_batch(community=world.community, actor=None)
        care.medicine_request_deliver(request_id=request.pk, actor=world.secretary)
    escorts = Notice.objects.filter(kind="escort_time").count()
    orders = WorkOrder.objects.filter(kind="medical_escort").count()
    assert escorts == orders >= 1  # one notice per escort order, however often the schedule runs
    reached = {
        kind: set(
            NoticeDelivery.objects.filter(notice__kind=kind, channel="page").values_list("household_id", flat=True)
        )
        for kind in ("discharged", "escort_time", "medicine_ready")
    }
    assert reached == {
        "discharged": {homes["5-201"].pk},
        "escort_time": {homes["5-201"].pk},
        "medicine_ready": {homes["3-101"].pk},
    }
    with translation.override("zh-hans"):
        text = notice_text(Notice.objects.get(kind="discharged"), place="阳光小区 5号楼 201室")
    assert "04-27" in text and "刘洋" not in text and "阳光小区 5号楼 201室" in text


@pytest.mark.django_db
def test_a_volunteers_new_shift_reaches_that_volunteers_phone_only(
    world: World, channels: Channels, django_capture_on_commit_callbacks: Any
) -> None:
    channels_on(world, push_on=False)
    first = approved(world.community, "门岗甲", "13811110001", groups=("patrol",))
    other = approved(world.community, "门岗乙", "13811110002", groups=("patrol",))
    group = first.groups.get()
    starts = timezone.now() + dt.timedelta(days=1)
    shift, _ = shift_create(
        group=group, post="gate", place="东门", starts_at=starts, ends_at=starts + dt.timedelta(hours=4), actor=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        shift_assign(shift=shift, volunteer=first, actor=world.secretary)
        shift_assign(shift=shift, volunteer=first, actor=world.secretary)  # again: no second notice
    (request,) = channels.sms.received
    assert request.problems == [] and request.body["PhoneNumberSet"] == ["+8613811110001"]
    assert request.body["TemplateParamSet"][0] == "门岗"  # the post, in Chinese
    delivery = NoticeDelivery.objects.get(volunteer=first)
    assert delivery.status == DeliveryStatus.SENT and not NoticeDelivery.objects.filter(volunteer=other).exists()
