"""The committee's notices page: compose, preview with the count, send after confirming, the list and
a notice's recipients (rooms, never phones), the community's settings; scoped to the user's community."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from fangzhou.accounts.models import AuditLog
from fangzhou.notices.models import Notice, NoticeDelivery, NoticeSettings, OptOut
from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


def _form(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "sampling_time",
        "audience": "building",
        "building_ids": [str(world.b3.pk)],
        "time": "14:00",
        "site": "东门广场",
        "client_id": "form-0001-abcdef",
        **extra,
    }


def test_a_staff_notice_to_a_building_reaches_exactly_its_households_with_the_previews_count(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world.secretary)
    page = client.get(f"/notices/c/{world.community.code}/")
    assert page.status_code == 200 and "阳光小区 3号楼" in page.content.decode()

    preview = client.post(f"/notices/c/{world.community.code}/preview/", _form(world))
    html = preview.content.decode()
    assert preview.status_code == 200
    count = int(re.search(r'data-count="(\d+)"', html)[1])  # type: ignore[index]
    assert count == 2  # 3-101 and 3-102
    assert "阳光小区 3号楼" in html and "14:00" in html and "东门广场" in html  # one rendered example
    assert not Notice.objects.exists()  # a preview sends nothing

    refused = client.post(f"/notices/c/{world.community.code}/send/", _form(world))  # not confirmed
    assert refused.status_code == 400 and not Notice.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/notices/c/{world.community.code}/send/", _form(world, confirm="yes"))
        again = client.post(f"/notices/c/{world.community.code}/send/", _form(world, confirm="yes"))  # double tap
    notice = Notice.objects.get()
    assert sent.status_code == 302 and again["Location"] == sent["Location"] == f"/notices/n/{notice.pk}/"
    households = set(NoticeDelivery.objects.filter(notice=notice).values_list("household_id", flat=True))
    assert households == set(Household.objects.filter(building=world.b3).values_list("pk", flat=True))
    assert notice.recipients == count == len(households)
    audit = AuditLog.objects.get(action="notice.send")
    assert audit.detail["recipients"] == 2 and audit.detail["page_sent"] == 2 and audit.actor == world.secretary

    detail = client.get(f"/notices/n/{notice.pk}/").content.decode()
    assert "阳光小区 3号楼 101室" in detail and "阳光小区 3号楼 102室" in detail
    assert "1380000" not in detail and "张伟" not in detail  # rooms only: no phone, no name
    listing = client.get(f"/notices/c/{world.community.code}/").content.decode()
    assert (f"/notices/n/{notice.pk}/" in listing and "户主页" in listing) or "Household page" in listing


def test_bad_input_gets_a_clear_message_in_the_readers_language(world: World) -> None:
    client = _client(world.secretary)
    url = f"/notices/c/{world.community.code}/preview/"
    no_audience = client.post(url, _form(world, building_ids=[]))
    assert no_audience.status_code == 400 and "请选择通知对象的范围" in no_audience.content.decode()
    phone = client.post(url, _form(world, kind="custom", text_zh="请联系 13800001234"))
    assert phone.status_code == 400 and "不能含有手机号" in phone.content.decode()
    unknown = client.post(url, _form(world, kind="custom", text_zh="{name} 你好"))
    assert unknown.status_code == 400 and "未知的变量" in unknown.content.decode()
    english = _client(world.secretary)
    english.cookies["django_language"] = "en"
    answer = english.post(url, _form(world, kind="nonsense"))
    assert answer.status_code == 400 and "choose a template" in answer.content.decode()


def test_settings_are_changed_by_the_committee_and_audited(world: World) -> None:
    client = _client(world.secretary)
    answer = client.post(
        f"/notices/c/{world.community.code}/settings/",
        {
            "sms_on": "on",
            "quiet_start": "21:30",
            "quiet_end": "07:00",
            "sms_per_minute": "30",
            "push_per_minute": "300",
        },
    )
    assert answer.status_code == 302
    options = NoticeSettings.objects.get(community=world.community)
    assert options.sms_on and not options.push_on and options.sms_per_minute == 30
    assert AuditLog.objects.filter(action="notice.settings").exists()
    bad = client.post(f"/notices/c/{world.community.code}/settings/", {"quiet_start": "late"})
    assert bad.status_code == 400


def test_the_outsider_and_the_building_leader_cannot_send_or_read(world: World) -> None:
    client = _client(world.secretary)
    client.post(f"/notices/c/{world.community.code}/send/", _form(world, confirm="yes"))
    notice = Notice.objects.get()
    outsider = _client(world.outsider)
    assert outsider.get(f"/notices/c/{world.community.code}/").status_code == 404
    assert outsider.get(f"/notices/n/{notice.pk}/").status_code == 404
    assert (
        outsider.post(
            f"/notices/c/{world.community.code}/send/", _form(world, confirm="yes", client_id="form-0002-x")
        ).status_code
        == 404
    )
    leader = _client(world.leader)
    assert leader.post(f"/notices/c/{world.community.code}/preview/", _form(world)).status_code == 404
    assert Notice.objects.count() == 1


def test_the_list_reads_in_a_fixed_number_of_queries(world: World, django_assert_max_num_queries: Any) -> None:
    client = _client(world.secretary)
    for n in range(5):
        client.post(
            f"/notices/c/{world.community.code}/send/", _form(world, confirm="yes", client_id=f"form-list-{n}x")
        )
    with django_assert_max_num_queries(30):
        page = client.get(f"/notices/c/{world.community.code}/")
    assert page.status_code == 200 and page.content.decode().count("/notices/n/") == 5


def test_staff_record_an_sms_opt_out_on_the_residents_page(world: World) -> None:
    client = _client(world.secretary)
    zhang = world.resident("张伟")
    page = client.get(f"/cases/r/{zhang.pk}/").content.decode()
    assert "短信通知" in page and f"/notices/r/{zhang.pk}/sms/" in page
    answer = client.post(f"/notices/r/{zhang.pk}/sms/", {"sms": "off"})
    assert answer.status_code == 302 and OptOut.objects.filter(resident=zhang, channel="sms").exists()
    assert AuditLog.objects.filter(action="notice.opt_out", target_id=str(zhang.pk)).exists()
    assert "恢复发送短信通知" in client.get(f"/cases/r/{zhang.pk}/").content.decode()
    assert _client(world.outsider).post(f"/notices/r/{zhang.pk}/sms/", {"sms": "on"}).status_code == 404
    assert OptOut.objects.filter(resident=zhang).exists()
    client.post(f"/notices/r/{zhang.pk}/sms/", {"sms": "on"})
    assert not OptOut.objects.filter(resident=zhang).exists()
