"""The outbox: at most once per recipient and channel, each channel against its local server,
backoff, quiet hours, the rate cap, opt-out, and what a text may hold."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from fangzhou.notices.models import Channel, DeliveryStatus, Notice, NoticeDelivery, PushSubscription, Reason
from fangzhou.notices.selectors import household_notices
from fangzhou.notices.services import notice_send, notices_dispatch, notices_mark_read, sms_opt_in, sms_opt_out
from fangzhou.notices.tests.conftest import Channels, channels_on, subscribe
from fangzhou.notices.tests.servers import when
from fangzhou.notices.texts import KINDS, render
from fangzhou.registry.models import Household, Resident
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def _b3(world: World) -> list[Household]:
    return list(Household.objects.filter(building=world.b3).select_related("building__compound").order_by("room"))


@pytest.fixture(autouse=True)
def _after_commit(django_capture_on_commit_callbacks: Any) -> Iterator[None]:
    """What runs after commit (the jobs) runs in these tests too: each test is one transaction."""
    global _commit
    _commit = django_capture_on_commit_callbacks
    yield


_commit: Any = None


def _send(world: World, key: str = "t:1", kind: str = "sampling_time", **kw: object) -> Notice:
    with _commit(execute=True):
        return _notice_send(world, key, kind, **kw)


def _notice_send(world: World, key: str, kind: str, **kw: object) -> Notice:
    outcome = notice_send(
        community=world.community,
        kind=kind,
        audience="building",
        audience_args={"building_ids": [world.b3.pk]},
        event_key=key,
        args={"time": "14:00", "site": "东门广场"},
        **kw,  # type: ignore[arg-type]
    )
    return outcome.notice


def _statuses(notice: Notice) -> dict[tuple[str, str], str]:
    return {(d.recipient_key, d.channel): d.status for d in NoticeDelivery.objects.filter(notice=notice)}


def test_a_building_notice_reaches_each_household_once_per_channel_and_a_rerun_is_a_no_op(
    world: World, channels: Channels
) -> None:
    channels_on(world)
    h101, h102 = _b3(world)
    subscribe(channels.push, h101, "a")
    notice = _send(world)
    assert notice.recipients == 2
    statuses = _statuses(notice)
    assert statuses == {
        (f"h:{h101.pk}", "page"): "sent",
        (f"h:{h101.pk}", "sms"): "sent",
        (f"s:{PushSubscription.objects.get().pk}", "push"): "sent",
        (f"h:{h102.pk}", "page"): "sent",
        (f"h:{h102.pk}", "sms"): "skipped",  # 王秀英 has no phone
        (f"h:{h102.pk}", "push"): "skipped",  # no browser allowed push
    }
    assert NoticeDelivery.objects.get(household=h102, channel="sms").reason == Reason.NO_PHONE
    assert len(channels.sms.received) == 1 and channels.sms.problems == []
    assert channels.sms.received[0].body["PhoneNumberSet"] == ["+8613800001234"]  # the first mobile of 3-101
    assert channels.sms.received[0].body["TemplateId"] == "2000009"  # sampling time: the default template
    assert len(channels.push.messages) == 1 and channels.push.problems == []

    again = _send(world)  # the same event (a double tap, a re-run of the job)
    assert again.pk == notice.pk and NoticeDelivery.objects.filter(notice=notice).count() == 6
    notices_dispatch()
    assert len(channels.sms.received) == 1 and len(channels.push.received) == 1  # nothing sent twice


def test_the_household_page_reads_its_own_notice_and_marks_it_read(world: World, channels: Channels) -> None:
    h101, _ = _b3(world)
    _send(world)
    with translation.override("zh-hans"):
        (seen,) = household_notices(h101.pk)
    assert seen.text.startswith("阳光小区 3号楼") and "14:00" in seen.text and not seen.read
    with translation.override("en"):
        (seen_en,) = household_notices(h101.pk)
    assert "come down for sampling at 14:00" in seen_en.text
    assert notices_mark_read(household_id=h101.pk) == 1
    assert household_notices(h101.pk)[0].read
    assert NoticeDelivery.objects.get(household=h101, channel="page").status == DeliveryStatus.READ


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite serialises writers; the race needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_fan_outs_of_one_event_at_once_write_it_once(world: World, channels: Channels) -> None:
    channels_on(world, sms_on=False, push_on=False)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            _notice_send(world, "race:1", "sampling_time")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Notice.objects.filter(event_key="race:1").count() == 1
    assert NoticeDelivery.objects.filter(notice__event_key="race:1").count() == 2  # two households, page only


def test_sms_is_signed_and_its_body_is_what_tencent_documents(world: World, channels: Channels) -> None:
    channels_on(world, push_on=False)
    liu = world.resident("刘洋")
    with _commit(execute=True):
        notice_send(
            community=world.community,
            kind="delivery_done",
            audience="resident",
            audience_args={"resident_id": [liu.pk]},
            args={"distribution": "政府保供包"},
            event_key="d:1",
        )
    (request,) = channels.sms.received
    assert request.problems == []
    assert request.headers["x-tc-action"] == "SendSms" and request.headers["x-tc-version"] == "2021-01-11"
    assert request.body["TemplateId"] == "2000002"
    assert request.body["TemplateParamSet"] == ["阳光小区 5号楼 201室", "政府保供包"]
    assert request.body["SmsSdkAppId"] == "1400000001" and request.body["SignName"] == "方舟测试"
    delivery = NoticeDelivery.objects.get(channel=Channel.SMS)
    assert delivery.status == DeliveryStatus.SENT and delivery.provider_ref == "sn-1"


def test_a_wrong_secret_is_refused_by_the_server_and_recorded_as_failed(
    world: World, channels: Channels, settings: object
) -> None:
    channels_on(world, push_on=False)
    with override_settings(TENCENT_SMS_SECRET_KEY="not-the-key"):
        _send(world, key="bad:1")
    assert channels.sms.problems == ["signature"]
    delivery = NoticeDelivery.objects.get(channel=Channel.SMS, status__in=["failed", "queued"])
    assert delivery.status == DeliveryStatus.FAILED and delivery.reason == Reason.PROVIDER_REFUSED


def test_web_push_is_vapid_signed_and_encrypted_and_a_410_marks_the_browser_gone(
    world: World, channels: Channels
) -> None:
    channels_on(world, sms_on=False)
    h101, h102 = _b3(world)
    subscribe(channels.push, h101, "phone-a")
    gone = subscribe(channels.push, h102, "old", gone=True)
    _send(world, key="p:1")
    assert channels.push.problems == []
    (message,) = channels.push.messages
    assert message["path"] == "/push/phone-a" and "阳光小区 3号楼" in message["body"] and "14:00" in message["body"]
    gone.refresh_from_db()
    assert gone.gone_at is not None
    failed = NoticeDelivery.objects.get(subscription=gone)
    assert failed.status == DeliveryStatus.FAILED and failed.reason == Reason.SUBSCRIPTION_GONE
    _send(world, key="p:2")  # the next notice does not try the withdrawn browser
    assert NoticeDelivery.objects.get(notice__event_key="p:2", household=h102, channel="push").reason == (
        Reason.NO_SUBSCRIPTION
    )


def test_a_failed_sms_is_retried_with_exponential_backoff_then_given_up(
    world: World, channels: Channels, settings: object
) -> None:
    channels_on(world, push_on=False)
    channels.sms.fail_first = 2
    h101, _ = _b3(world)
    with override_settings(FANGZHOU_NOTICE_BACKOFF_SECONDS=60, FANGZHOU_NOTICE_ATTEMPTS=5):
        notice = _send(world, key="r:1")  # the fan-out's own dispatch: the first try fails
        sms = NoticeDelivery.objects.get(notice=notice, channel="sms", household=h101)
        assert sms.status == DeliveryStatus.QUEUED and sms.attempts == 1 and sms.reason == Reason.PROVIDER_ERROR
        first_wait = sms.next_attempt_at
        assert first_wait is not None
        report = notices_dispatch(now=first_wait)  # second try fails: waits twice as long
        sms.refresh_from_db()
        assert report.retried == 1 and sms.attempts == 2
        assert sms.next_attempt_at == first_wait + dt.timedelta(seconds=120)
        assert notices_dispatch(now=first_wait + dt.timedelta(seconds=60)).sent == 0  # not due yet
        assert notices_dispatch(now=sms.next_attempt_at).sent == 1
    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.SENT and sms.attempts == 3 and sms.reason == ""

    channels.sms.fail_first = 100
    with override_settings(FANGZHOU_NOTICE_BACKOFF_SECONDS=1, FANGZHOU_NOTICE_ATTEMPTS=2):
        notice = _send(world, key="r:2")
        row = NoticeDelivery.objects.get(notice=notice, channel="sms", household=h101)
        assert row.next_attempt_at is not None
        notices_dispatch(now=row.next_attempt_at + dt.timedelta(seconds=5))
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 2 and row.reason == Reason.PROVIDER_ERROR


def test_quiet_hours_hold_ordinary_notices_on_the_community_clock_but_not_urgent_ones(
    world: World, channels: Channels
) -> None:
    channels_on(world, push_on=False, quiet_start=dt.time(22, 0), quiet_end=dt.time(7, 0))
    with _commit(execute=False):  # the fan-out only; the dispatch runs below at chosen times
        ordinary = _notice_send(world, "q:1", "sampling_time")
        urgent = _notice_send(world, "q:2", "custom", text_zh="紧急：{place} 请留意", urgent=True)
    night = when(23, 30)  # Shanghai time
    report = notices_dispatch(now=night)
    assert report.quiet == 1 and report.sent == 1  # the urgent one goes at night, the other waits
    assert [params for _, params in channels.sms.texts()] == [["紧急：阳光小区 3号楼 101室 请留意"]]
    held = NoticeDelivery.objects.get(notice=ordinary, channel="sms", status="queued")
    assert held.reason == Reason.QUIET_HOURS and held.next_attempt_at == when(7, 0, day=dt.date(2026, 12, 2))
    assert notices_dispatch(now=when(6, 59, day=dt.date(2026, 12, 2))).sent == 0
    assert notices_dispatch(now=when(7, 0, day=dt.date(2026, 12, 2))).sent == 1  # the held one at 07:00
    held.refresh_from_db()
    assert held.status == DeliveryStatus.SENT
    assert NoticeDelivery.objects.get(notice=urgent, channel="sms", status="sent")


def test_the_rate_cap_sends_so_many_a_minute_and_the_rest_waits(world: World, channels: Channels) -> None:
    channels_on(world, push_on=False, sms_per_minute=1)
    liu, zhang = world.resident("刘洋"), world.resident("张伟")
    audience = {"resident_id": [liu.pk, zhang.pk]}
    with _commit(execute=True):
        notice = notice_send(
            community=world.community,
            kind="sampling_time",
            audience="resident",
            audience_args=audience,
            event_key="c:1",
        ).notice
    rows = NoticeDelivery.objects.filter(notice=notice, channel="sms")
    assert sorted(rows.values_list("status", flat=True)) == ["queued", "sent"]
    waiting = rows.get(status="queued")
    assert waiting.reason == Reason.RATE_CAP and waiting.next_attempt_at is not None
    assert len(channels.sms.received) == 1
    notices_dispatch(now=waiting.next_attempt_at)
    assert sorted(rows.values_list("status", flat=True)) == ["sent", "sent"]


def test_a_resident_who_opted_out_gets_no_sms_and_the_household_page_still_has_it(
    world: World, channels: Channels
) -> None:
    channels_on(world, push_on=False)
    h101, _ = _b3(world)
    zhang, li = world.resident("张伟"), world.resident("李娜")
    sms_opt_out(zhang, actor=world.secretary)
    sms_opt_out(zhang, actor=world.secretary)  # idempotent
    _send(world, key="o:1")
    assert channels.sms.received[0].body["PhoneNumberSet"] == ["+8613900005678"]  # 李娜's phone instead
    sms_opt_out(li)
    notice = _send(world, key="o:2")
    skipped = NoticeDelivery.objects.get(notice=notice, household=h101, channel="sms")
    assert skipped.status == DeliveryStatus.SKIPPED and skipped.reason == Reason.OPTED_OUT
    assert NoticeDelivery.objects.get(notice=notice, household=h101, channel="page").status == DeliveryStatus.SENT
    assert sms_opt_in(li) and not sms_opt_in(li)
    assert _statuses(_send(world, key="o:3"))[(f"h:{h101.pk}", "sms")] == "sent"


ID_LIKE = re.compile(r"\d{15,18}|1[3-9]\d{9}")


def test_no_built_in_text_carries_a_name_an_id_number_or_a_diagnosis(world: World) -> None:
    names = set(Resident.objects.values_list("name", flat=True))
    medical = ("阳性", "确诊", "感染", "positive", "infected", "diagnos", "COVID", "新冠")
    args = {"place": "阳光小区 3号楼 101室", "building": "阳光小区 3号楼", "time": "14:00", "site": "东门"}
    args.update(distribution="保供包", reference="R123", status="done", until="12-08", post="gate")
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for kind in KINDS:
                text = render(kind, args)
                assert not ID_LIKE.search(text), (kind, text)
                assert not any(name in text for name in names), (kind, text)
                assert not any(word.lower() in text.lower() for word in medical), (kind, text)
    # A building's notice names only each household's own room: 3-101 never reads 3-102.
    h101, _ = _b3(world)
    _send(world, key="priv:1", kind="custom", text_zh="{房号}：今晚停水", text_en="{place}: no water tonight")
    with translation.override("zh-hans"):
        (mine,) = household_notices(h101.pk)
    assert "101室" in mine.text and "102室" not in mine.text


def test_the_fan_out_takes_as_many_statements_for_one_building_as_for_all(world: World) -> None:
    channels_on(world, sms_on=True, push_on=True)

    def statements(key: str, building_ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as queries, _commit(execute=False):
            notice_send(
                community=world.community,
                kind="sampling_time",
                audience="building",
                audience_args={"building_ids": building_ids},
                event_key=key,
            )
        return len(queries)

    one = statements("n:1", [world.b3.pk])
    both = statements("n:2", [world.b3.pk, world.b5.pk])
    assert NoticeDelivery.objects.filter(notice__event_key="n:2", channel="page").count() == 3
    assert one == both  # set-based: the number of households does not add statements
