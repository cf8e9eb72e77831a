"""The household page: the lookup, the pass, every section scoped to the one household."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.care.services import medicine_request_create
from fangzhou.notices.models import NoticeDelivery, PushSubscription
from fangzhou.portal.selectors import (
    PCR_CONTACT,
    PCR_NEGATIVE,
    PCR_NOT_SAMPLED,
    PCR_RECHECK,
    PCR_RETEST,
    PCR_SAMPLED,
    pcr_state,
)
from fangzhou.portal.session import COOKIE
from fangzhou.portal.tests.conftest import Home, enter, notice_to
from fangzhou.registry.models import Building, Resident
from fangzhou.supplies.models import Delivery
from fangzhou.supplies.services import delivery_mark, distribution_allocate, distribution_create
from fangzhou.testing.models import AntigenResult
from fangzhou.testing.services import antigen_report_submit, retest_open, round_create, sample_take
from fangzhou.workorders.services import resident_request_submit

pytestmark = pytest.mark.django_db

WRONG = "房号或手机号后四位不匹配"


def _page(client: Client) -> str:
    response = client.get("/home/")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


class TestLookup:
    def test_right_pair_opens_the_household_page(self, home: Home) -> None:
        client = Client()
        assert enter(client, home.token, "101", "1234") == 303
        cookie = client.cookies[COOKIE]
        assert cookie["httponly"] and cookie["path"] == "/home/"
        text = _page(client)
        assert "阳光小区 3号楼 101室" in text
        assert "张*" in text and "李*" in text
        assert "张伟" not in text and "李娜" not in text  # given names masked

    def test_the_other_members_phone_opens_it_too_and_a_trailing_room_mark_is_fine(self, home: Home) -> None:
        client = Client()
        assert enter(client, home.token, "101室", "5678") == 303

    @pytest.mark.parametrize(("room", "digits"), [("101", "0000"), ("999", "1234"), ("", "1234"), ("101", "12a4")])
    def test_a_wrong_pair_says_so_and_never_which_half_was_wrong(self, home: Home, room: str, digits: str) -> None:
        client = Client()
        response = client.post(f"/home/p/{home.token}/", {"room": room, "phone4": digits})
        assert response.status_code == 400
        text = response.content.decode()
        assert WRONG in text
        assert COOKIE not in response.cookies
        assert client.get("/home/").status_code == 403

    def test_a_room_of_another_building_does_not_open_here(self, home: Home) -> None:
        # 5号楼 201 exists (刘洋, 9999), but not behind 3号楼's QR code.
        assert enter(Client(), home.token, "201", "9999") == 400
        other = Building.objects.get(pk=home.world.other_building.pk)
        assert enter(Client(), other.public_token, "101", "1234") == 400  # nor 3号楼's room behind theirs

    def test_a_household_locks_after_a_few_wrong_answers(self, home: Home, settings: object) -> None:
        client = Client()
        for _ in range(4):
            assert enter(client, home.token, "101", "0000") == 400
        assert enter(client, home.token, "101", "0000") == 429  # the fifth wrong answer locks
        response = client.post(f"/home/p/{home.token}/", {"room": "101", "phone4": "1234"})
        assert response.status_code == 429
        assert "本户已暂时锁定" in response.content.decode()
        assert int(response["Retry-After"]) > 0
        assert enter(Client(), home.token, "102", "1234") == 400  # another household is not locked

    def test_the_page_is_limited_per_address_like_every_public_page(self, home: Home, settings: object) -> None:
        settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 3  # type: ignore[attr-defined]
        client = Client()
        for _ in range(3):
            assert client.get(f"/home/p/{home.token}/").status_code == 200
        assert client.get(f"/home/p/{home.token}/").status_code == 429

    def test_an_unknown_token_is_a_plain_404(self, home: Home) -> None:
        assert Client().get("/home/p/not-a-token-at-all-xx/").status_code == 404

    def test_a_tampered_or_expired_pass_is_refused(self, home: Home, settings: object) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        value = client.cookies[COOKIE].value
        client.cookies[COOKIE] = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
        assert client.get("/home/").status_code == 403
        client.cookies[COOKIE] = value
        assert client.get("/home/").status_code == 200
        settings.FANGZHOU_HOUSEHOLD_SESSION_HOURS = 1  # type: ignore[attr-defined]
        later = timezone.now() + dt.timedelta(hours=2)
        from unittest import mock  # the clock only: the pass's age is what is tested

        with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
            assert client.get("/home/").status_code == 403

    def test_a_new_qr_code_ends_the_passes_of_the_old_one(self, home: Home) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        Building.objects.filter(pk=home.b3.pk).update(public_token="x" * 43)
        assert client.get("/home/").status_code == 403

    def test_not_my_phone_takes_the_pass_back(self, home: Home) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        response = client.post("/home/leave/")
        assert response.status_code == 303
        assert response["Location"] == f"/p/{home.token}/"
        assert client.get("/home/").status_code == 403


def test_the_pcr_words_follow_sample_result_and_retest() -> None:
    assert pcr_state(sampled=False, result=None, retest=None) == PCR_NOT_SAMPLED
    assert pcr_state(sampled=True, result=None, retest=None) == PCR_SAMPLED
    assert pcr_state(sampled=True, result="negative", retest=None) == PCR_NEGATIVE
    assert pcr_state(sampled=True, result="positive", retest=None) == PCR_RETEST
    assert pcr_state(sampled=True, result="positive", retest="pending") == PCR_RETEST
    assert pcr_state(sampled=True, result="positive", retest="cleared") == PCR_NEGATIVE
    assert pcr_state(sampled=True, result="positive", retest="confirmed") == PCR_CONTACT
    assert pcr_state(sampled=False, result=None, retest="pending", reason="antigen") == PCR_RECHECK  # not a tube
    assert pcr_state(sampled=True, result="positive", retest="pending", reason="positive_tube") == PCR_RETEST


def _business(home: Home) -> None:
    """Each household of 3号楼 and 5号楼 gets its own delivery, medicine and request, a notice and
    an antigen report; 101 is sampled, 102 awaits a re-test."""
    w = home.world
    today = timezone.localdate()
    zhang, li, wang, liu = (w.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    antigen_report_submit(
        household=home.h101, day=today, results={zhang.pk: AntigenResult.NEGATIVE}, client_id="antigen-101"
    )
    antigen_report_submit(
        household=home.h201, day=today, results={liu.pk: AntigenResult.POSITIVE}, client_id="antigen-201"
    )
    rnd = round_create(community=w.community, date=today, actor=w.secretary)
    sample_take(round=rnd, residents=[zhang, li], actor=w.secretary, station="A")
    retest_open(resident=wang, reason="positive_tube", actor=w.secretary, round=rnd, key="t-wang")
    dist = distribution_create(
        community=w.community, name="第三批保供包", kind="government", on=today, actor=w.secretary, package={"大米": 1}
    )
    distribution_allocate(distribution=dist, actor=w.secretary)
    done = Delivery.objects.get(distribution=dist, household=home.h101)
    delivery_mark(delivery_id=done.pk, actor=w.secretary)
    medicine_request_create(
        resident=zhang, actor=w.secretary, medicines=[{"name": "氨氯地平", "qty": 1}], pharmacy="中心医院"
    )
    medicine_request_create(
        resident=liu, actor=w.secretary, medicines=[{"name": "胰岛素", "qty": 1}], pharmacy="仁济医院"
    )
    resident_request_submit(building=home.b3, kind="repair", text="水管漏水", room="101")
    resident_request_submit(building=w.b5, kind="food", text="缺米", room="201")
    notice_to(home.h101, zh="101室：物资已放门口", en="Room 101: supplies at your door", key="n-101")
    notice_to(home.h201, zh="201室：您的配药已取到", key="n-201")


class TestSections:
    def test_every_section_shows_this_households_business_and_nothing_of_another(self, home: Home) -> None:
        _business(home)
        client = Client()
        enter(client, home.token, "101", "1234")
        text = _page(client)
        # 101's own matters
        assert "101室：物资已放门口" in text
        assert "阴性" in text  # 张伟's antigen today
        assert "已采样，结果未出" in text  # both sampled in today's round
        assert "第三批保供包" in text and "已送达" in text
        assert "中心医院" in text and "氨氯地平" in text
        assert "维修" in text  # the request's kind, in words
        # nothing of 102 or 5号楼 201
        for other in ("201室：您的配药已取到", "仁济医院", "胰岛素", "食品", "王*", "刘*", "待复查"):
            assert other not in text, other
        # no internal code reaches the resident
        for code in ("not_sampled", ">sampled<", "left_at_door", ">pending<", "positive_tube", "requested<"):
            assert code not in text, code

    def test_the_retest_household_reads_awaiting_re_test(self, home: Home) -> None:
        _business(home)
        Resident.objects.filter(name="王秀英").update(phone="+8613512344321")
        client = Client()
        assert enter(client, home.token, "102", "4321") == 303
        text = _page(client)
        assert "混管阳性，待复查" in text
        assert "中心医院" not in text and "101室：物资已放门口" not in text

    def test_english_through_the_language_button(self, home: Home) -> None:
        _business(home)
        client = Client()
        enter(client, home.token, "101", "1234")
        client.post("/i18n/setlang/", {"language": "en", "next": "/home/"})
        text = _page(client)
        assert "Room 101: supplies at your door" in text
        assert "Sampled, result not in yet" in text and "Today's antigen report" in text

    def test_opening_the_page_marks_its_notices_read(self, home: Home) -> None:
        _business(home)
        client = Client()
        enter(client, home.token, "101", "1234")
        assert "1 条新通知" in _page(client)
        assert NoticeDelivery.objects.get(household=home.h101).status == "read"
        assert NoticeDelivery.objects.get(household=home.h201).read_at is None  # another household's stays
        assert "条新通知" not in _page(client)

    def test_the_household_page_takes_at_most_ten_queries(
        self, home: Home, django_assert_max_num_queries: object
    ) -> None:
        _business(home)
        client = Client()
        enter(client, home.token, "101", "1234")
        with django_assert_max_num_queries(10):  # type: ignore[operator]
            assert client.get("/home/").status_code == 200  # unread notices: the read update included


VALID = {"endpoint": "https://push.example.test/sub/abc", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}


class TestPush:
    def _post(self, client: Client, body: object, remove: bool = False) -> tuple[int, dict[str, object]]:
        url = "/home/push/" + ("?remove=1" if remove else "")
        response = client.post(url, data=json.dumps(body), content_type="application/json")
        return response.status_code, json.loads(response.content)

    def test_the_button_shows_only_with_a_vapid_key(self, home: Home, settings: object) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        assert 'id="push-on"' not in _page(client)
        settings.VAPID_PUBLIC_KEY = "BPublicKeyForTheTest"  # type: ignore[attr-defined]
        text = _page(client)
        assert 'id="push-on"' in text and 'data-key="BPublicKeyForTheTest"' in text

    def test_subscribing_is_idempotent_on_the_endpoint(self, home: Home) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        assert self._post(client, VALID) == (200, {"ok": True, "created": True})
        assert self._post(client, VALID) == (200, {"ok": True, "created": False})
        row = PushSubscription.objects.get()
        assert row.household_id == home.h101.pk and row.community_id == home.b3.community_id
        assert self._post(client, VALID, remove=True) == (200, {"ok": True, "removed": True})
        assert not PushSubscription.objects.exists()
        assert self._post(client, VALID, remove=True) == (200, {"ok": True, "removed": False})

    def test_refused_without_the_household_pass(self, home: Home) -> None:
        status, body = self._post(Client(), VALID)
        assert status == 403 and "重新扫描楼栋二维码" in str(body["detail"])
        assert not PushSubscription.objects.exists()

    def test_another_household_cannot_remove_this_ones_subscription(self, home: Home) -> None:
        mine, theirs = Client(), Client()
        enter(mine, home.token, "101", "1234")
        self._post(mine, VALID)
        Resident.objects.filter(name="王秀英").update(phone="+8613512344321")
        enter(theirs, home.token, "102", "4321")
        assert self._post(theirs, VALID, remove=True) == (200, {"ok": True, "removed": False})
        assert PushSubscription.objects.get().household_id == home.h101.pk

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"endpoint": "http://insecure.example/x", "keys": VALID["keys"]},
            {"endpoint": "https://push.example.test/x", "keys": {}},
            {"endpoint": "https://push.example.test/" + "x" * 1000, "keys": VALID["keys"]},
            ["not", "an", "object"],
        ],
    )
    def test_bad_input_gets_a_clear_message(self, home: Home, body: object) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        status, answer = self._post(client, body)
        assert status == 400 and "订阅信息无效" in str(answer["detail"])

    def test_not_json_is_a_clear_message_too(self, home: Home) -> None:
        client = Client()
        enter(client, home.token, "101", "1234")
        response = client.post("/home/push/", data=b"\xff\xfe", content_type="application/json")
        assert response.status_code == 400
