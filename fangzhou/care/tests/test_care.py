"""Special care and medicine on behalf: the registry, escorts ahead of each session, check-ins,
medicine trips to the door, the public status page and who is at risk."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.care import selectors, services
from fangzhou.care.models import CareProfile, CheckIn, MedicineRequest, MedicineStatus
from fangzhou.care.schedule import WeeklySchedule, sessions_between
from fangzhou.registry.models import Resident
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.supplies.tests.conftest import seal_b5
from fangzhou.workorders.models import WorkOrder
from fangzhou.workorders.services import work_order_claim

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def profile_of(name: str) -> CareProfile:
    return CareProfile.objects.get(resident__name=name)


def test_sessions_between_is_half_open_and_respects_dates() -> None:
    weekly = WeeklySchedule(frozenset({1, 3}), dt.time(8, 0), starts_on=dt.date(2022, 4, 20))
    got = list(sessions_between(weekly, dt.datetime(2022, 4, 18, 8, 0), dt.datetime(2022, 4, 27, 8, 0)))
    assert got == [dt.datetime(2022, 4, 20, 8, 0), dt.datetime(2022, 4, 25, 8, 0), dt.datetime(2022, 4, 27, 8, 0)]


class TestRegistry:
    def test_built_from_roster_flags_and_staff_edits_survive(self, placed: World) -> None:
        report = services.care_registry_sync(community=placed.community, actor=placed.secretary)
        assert report.created == 2
        assert profile_of("王秀英").need_codes == ["elderly_alone"]
        assert profile_of("刘洋").need_codes == ["dialysis"]
        services.care_profile_update(
            profile_id=profile_of("刘洋").pk, actor=placed.secretary, needs=["dialysis", "disabled"]
        )
        again = services.care_registry_sync(community=placed.community, actor=None)
        assert (again.created, again.updated) == (0, 0)
        assert profile_of("刘洋").need_codes == ["dialysis", "disabled"]

    def test_pages_edit_profile_and_schedule(self, placed: World) -> None:
        sec = client_for(placed.secretary)
        sec.post(f"/care/c/{placed.community.code}/sync/")
        p = profile_of("刘洋")
        r = sec.post(
            f"/care/r/{p.pk}/",
            {
                "action": "schedule",
                "kind": "dialysis",
                "weekdays": ["1", "3", "5"],
                "at": "08:00",
                "hospital": "瑞金医院",
            },
        )
        assert r.status_code == 302
        assert p.schedules.get().weekday_list == [1, 3, 5]
        r = sec.post(f"/care/r/{p.pk}/", {"action": "schedule", "kind": "dialysis", "at": "08:00", "hospital": "x"})
        assert r.status_code == 400 and "days of the week" in r.content.decode()
        page = sec.get(f"/care/c/{placed.community.code}/").content.decode()
        assert "刘洋" in page and "瑞金医院" in page


class TestEscortScheduler:
    def test_a_week_of_dialysis_in_a_sealed_building(self, placed: World) -> None:
        """Nobody creates an order by hand: a scheduler runs every 3 hours for a week."""
        start = timezone.make_aware(dt.datetime(2026, 5, 4, 0, 0))  # a Monday
        seal_b5(placed, on=start.date())
        services.care_registry_sync(community=placed.community, actor=None)
        profile = profile_of("刘洋")
        schedule = services.treatment_schedule_set(
            profile_id=profile.pk,
            actor=placed.secretary,
            kind="dialysis",
            weekdays="1,3,5",
            at=dt.time(8, 0),
            hospital="瑞金医院",
        )
        first_seen: dict[int, dt.datetime] = {}
        now = start
        while now < start + dt.timedelta(days=7):
            report = services.care_escorts_ensure(now=now)
            for order_id in report.order_ids:
                first_seen.setdefault(order_id, now)
            now += dt.timedelta(hours=3)
        orders = list(WorkOrder.objects.filter(kind="medical_escort").order_by("due_at"))
        sessions = list(
            sessions_between(
                WeeklySchedule(frozenset({1, 3, 5}), dt.time(8, 0)), start, start + dt.timedelta(days=7, hours=24)
            )
        )
        sessions = [s for s in sessions if s - dt.timedelta(hours=24) < start + dt.timedelta(days=7)]
        assert [o.due_at for o in orders] == [s - dt.timedelta(hours=1) for s in sessions]
        for order, session in zip(orders, sessions, strict=True):
            assert order.resident_id == profile.resident_id
            assert order.source_key == services.escort_source_key(schedule.pk, session)
            # Created ahead: at most 24 h and at least 21 h before the session (the scheduler runs every 3 h).
            lead = session - first_seen[order.pk]
            earliest = min(dt.timedelta(hours=21), session - start)
            assert earliest <= lead <= dt.timedelta(hours=24), (session, lead)
            assert "闭环" in order.detail and "瑞金医院" in order.detail
        # The compound is sealed for 7 days after the case: those orders say so and carry the paperwork.
        sealed = [o for o, s in zip(orders, sessions, strict=True) if s.date() < start.date() + dt.timedelta(days=7)]
        assert sealed and all("SEALED BUILDING" in o.detail and "就医证明" in o.detail for o in sealed)
        assert all(o.title.startswith("【封控】") for o in sealed)
        assert WorkOrder.objects.filter(kind="medical_escort").count() == len(orders)

    def test_at_risk_until_a_volunteer_claims_the_escort(self, placed: World) -> None:
        services.care_registry_sync(community=placed.community, actor=None)
        profile = profile_of("刘洋")
        now = timezone.localtime()
        tomorrow = (now + dt.timedelta(days=1)).isoweekday()
        services.treatment_schedule_set(
            profile_id=profile.pk, actor=None, kind="dialysis", weekdays=str(tomorrow), at=dt.time(9, 0), hospital="H"
        )
        risks = selectors.at_risk_next_48h(placed.secretary, placed.community)
        assert any(r.profile.pk == profile.pk and r.need == "dialysis" for r in risks)
        assert any(r.profile.resident.name == "王秀英" and r.need == "elderly_alone" for r in risks)
        order_ids: set[int] = set()
        for hours in (0, 12):  # the scheduler's runs until the session is within the lead time
            order_ids |= set(
                services.care_escorts_ensure(community=placed.community, now=now + dt.timedelta(hours=hours)).order_ids
            )
        assert order_ids
        # unclaimed, the session is still at risk, and the list names its escort order
        waiting = [r for r in selectors.at_risk_next_48h(placed.secretary, placed.community) if r.need == "dialysis"]
        assert waiting and {r.order_id for r in waiting} == order_ids
        for order_id in order_ids:
            work_order_claim(order_id=order_id, actor=placed.volunteer)
        risks = selectors.at_risk_next_48h(placed.secretary, placed.community)
        dialysis = [r for r in risks if r.need == "dialysis"]
        assert dialysis == []
        assert selectors.at_risk_next_48h(placed.outsider, placed.community) == []
        page = client_for(placed.secretary).get(f"/care/c/{placed.community.code}/").content.decode()
        assert "王秀英" in page


class TestCheckins:
    def test_missed_check_in_becomes_one_urgent_order(self, placed: World) -> None:
        services.care_registry_sync(community=placed.community, actor=None)
        today = timezone.localdate()
        report = services.care_checkins_close(community=placed.community, actor=None, on=today)
        assert (report.due, report.missed, report.created) == (1, 1, 1)
        again = services.care_checkins_close(community=placed.community, actor=None, on=today)
        assert again.created == 0
        order = WorkOrder.objects.get(kind="care_checkin")
        assert order.priority == 1 and order.resident and order.resident.name == "王秀英"

    def test_one_tap_check_in_on_the_page(self, placed: World) -> None:
        services.care_registry_sync(community=placed.community, actor=None)
        p = profile_of("王秀英")
        leader = client_for(placed.leader)
        assert "王秀英" in leader.get(f"/care/c/{placed.community.code}/checkins/").content.decode()
        r = leader.post(f"/care/r/{p.pk}/checkin/", {"status": "ok"}, HTTP_HX_REQUEST="true")
        assert r.status_code == 200 and "✓" in r.content.decode()
        assert CheckIn.objects.get(profile=p).status == "ok"
        report = services.care_checkins_close(community=placed.community, actor=None)
        assert report.missed == 0 and not WorkOrder.objects.filter(kind="care_checkin").exists()


class TestMedicine:
    def test_request_to_trip_to_door_and_public_status(self, placed: World) -> None:
        services.care_registry_sync(community=placed.community, actor=None)
        liu, wang = Resident.objects.get(name="刘洋"), Resident.objects.get(name="王秀英")
        sec = client_for(placed.secretary)
        r = sec.post(
            "/api/care/medicine",
            json.dumps(
                {
                    "resident_id": liu.pk,
                    "medicines": [{"name": "氨氯地平", "dose": "5mg", "quantity": "2盒"}],
                    "pharmacy": "第一人民医院",
                    "prescription": "医保卡 1234",
                    "payer": "insurance",
                    "client_id": "abc",
                }
            ),
            content_type="application/json",
        )
        assert r.status_code == 200, r.content
        again = sec.post(
            "/api/care/medicine",
            json.dumps(
                {
                    "resident_id": liu.pk,
                    "medicines": [{"name": "氨氯地平"}],
                    "pharmacy": "第一人民医院",
                    "client_id": "abc",
                }
            ),
            content_type="application/json",
        )
        assert again.json()["id"] == r.json()["id"]
        services.medicine_request_create(
            resident=wang, actor=None, medicines=[{"name": "二甲双胍"}], pharmacy="第一人民医院"
        )
        services.medicine_request_create(resident=wang, actor=None, medicines=[{"name": "胰岛素"}], pharmacy="华山医院")
        assert sec.post(f"/care/c/{placed.community.code}/medicine/batch/").status_code == 302
        orders = WorkOrder.objects.filter(kind="medicine").order_by("title")
        assert orders.count() == 2
        first = next(o for o in orders if "第一人民医院" in o.title)
        assert "氨氯地平" in first.detail and "二甲双胍" in first.detail and "（2 户）" in first.title
        assert services.medicine_trips_batch(community=placed.community, actor=None).trips == []
        # The volunteer who claims the trip delivers at the door.
        work_order_claim(order_id=first.pk, actor=placed.volunteer)
        request = MedicineRequest.objects.get(resident=liu)
        assert client_for(placed.volunteer).post(f"/care/m/{request.pk}/deliver/").status_code == 302
        request.refresh_from_db()
        assert request.status == MedicineStatus.DELIVERED
        # Public page: room + last 4 digits; nothing for wrong digits or other rooms.
        building_tokens_ensure(community=placed.community)
        placed.b5.refresh_from_db()
        public = Client()
        page = public.post(f"/care/p/{placed.b5.public_token}/", {"room": "201", "last4": "9999"}).content.decode()
        assert "氨氯地平" in page and "二甲双胍" not in page
        wrong = public.post(f"/care/p/{placed.b5.public_token}/", {"room": "201", "last4": "0000"}).content.decode()
        assert "氨氯地平" not in wrong
        assert public.get("/care/p/not-a-real-token-at-all/").status_code == 404


def care_urls(world: World, profile: CareProfile, request: MedicineRequest) -> list[tuple[str, str, Any]]:
    code = world.community.code
    return [
        ("get", f"/care/c/{code}/", None),
        ("post", f"/care/c/{code}/sync/", None),
        ("post", f"/care/c/{code}/escorts/", None),
        ("get", f"/care/c/{code}/checkins/", None),
        ("post", f"/care/c/{code}/checkins/close/", None),
        ("get", f"/care/c/{code}/medicine/", None),
        ("post", f"/care/c/{code}/medicine/batch/", None),
        ("get", f"/care/r/{profile.pk}/", None),
        ("post", f"/care/r/{profile.pk}/", {"action": "profile", "note": "x"}),
        ("post", f"/care/r/{profile.pk}/checkin/", {"status": "ok"}),
        ("post", f"/care/m/{request.pk}/deliver/", None),
        ("get", f"/api/care/c/{code}/profiles", None),
        ("post", f"/api/care/c/{code}/sync", None),
        ("get", f"/api/care/c/{code}/at-risk", None),
        ("post", f"/api/care/c/{code}/escorts", None),
        ("get", f"/api/care/profiles/{profile.pk}", None),
        ("patch", f"/api/care/profiles/{profile.pk}", {"note": "x"}),
        (
            "post",
            f"/api/care/profiles/{profile.pk}/schedules",
            {"kind": "dialysis", "weekdays": [1], "at": "08:00", "hospital": "H"},
        ),
        ("post", f"/api/care/profiles/{profile.pk}/checkin", {"status": "ok"}),
        ("post", f"/api/care/c/{code}/checkins/close", None),
        ("get", f"/api/care/c/{code}/medicine", None),
        (
            "post",
            "/api/care/medicine",
            {"resident_id": profile.resident_id, "medicines": [{"name": "x"}], "pharmacy": "p"},
        ),
        ("post", f"/api/care/c/{code}/medicine/batch", None),
        ("post", f"/api/care/medicine/{request.pk}/deliver", None),
    ]


def _call(client: Client, method: str, url: str, data: Any) -> Any:
    if url.startswith("/api/") and method in {"post", "patch"}:
        return getattr(client, method)(url, json.dumps(data or {}), content_type="application/json")
    return getattr(client, method)(url, data or {})


class TestScope:
    @pytest.fixture
    def things(self, placed: World) -> tuple[World, CareProfile, MedicineRequest]:
        services.care_registry_sync(community=placed.community, actor=None)
        profile = profile_of("刘洋")
        request = services.medicine_request_create(
            resident=profile.resident, actor=None, medicines=[{"name": "x"}], pharmacy="p"
        )
        return placed, profile, request

    def test_anonymous_and_outsider_refused(self, things: Any) -> None:
        world, profile, request = things
        for method, url, data in care_urls(world, profile, request):
            anonymous = _call(Client(), method, url, data)
            if url.startswith("/api/"):
                assert anonymous.status_code == 401, url
            else:
                assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"], url
            outsider = _call(client_for(world.outsider), method, url, data)
            assert outsider.status_code in {403, 404}, (url, outsider.status_code)
        assert not WorkOrder.objects.exists() and MedicineRequest.objects.count() == 1

    def test_volunteer_sees_no_registry_and_leader_only_their_building(self, things: Any) -> None:
        world, profile, request = things
        vol = client_for(world.volunteer)
        for method, url, data in care_urls(world, profile, request):
            response = _call(vol, method, url, data)
            assert response.status_code in {403, 404}, (url, response.status_code)
        leader = client_for(world.leader)
        assert leader.get(f"/care/r/{profile.pk}/").status_code == 404  # 刘洋 lives in building 5
        assert leader.get(f"/care/r/{profile_of('王秀英').pk}/").status_code == 200


def test_demo_hook_seeds_and_is_idempotent(placed: World) -> None:
    from fangzhou.care.demo import care_demo_seed

    first = care_demo_seed(community=placed.community)
    again = care_demo_seed(community=placed.community)
    assert first.deliveries == 3 and first.delivered >= 1
    assert first.profiles == 2 and first.schedules == 1 and again.schedules == 0
    assert again.distribution_id == first.distribution_id and again.delivered == first.delivered


def test_public_medicine_page_stops_guessing_phone_digits(world: World, settings: Any) -> None:
    from django.test import Client

    from fangzhou.registry.services import building_token_rotate

    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 5
    token = building_token_rotate(building=world.b3, actor=world.secretary)
    client = Client()
    codes = [
        client.post(f"/care/p/{token}/", {"room": "101", "last4": f"{n:04d}"}, HTTP_ACCEPT="text/html").status_code
        for n in range(8)
    ]
    assert codes[:4] == [200] * 4 and codes[-2:] == [429, 429]
    refused = client.post(f"/care/p/{token}/", {"room": "101", "last4": "1234"}, HTTP_ACCEPT="text/html")
    assert refused.status_code == 429 and "请稍后再试" in refused.content.decode()


def test_a_birth_due_reads_as_pregnant_due_on_a_day_not_a_date_at_midnight(placed: World) -> None:
    """The at-risk list says what the need is (孕妇) and when the birth is due (a day, no hour)."""
    services.care_registry_sync(community=placed.community, actor=None)
    profile = profile_of("刘洋")
    due = timezone.localdate() + dt.timedelta(days=1)
    services.care_profile_update(
        profile_id=profile.pk, actor=placed.secretary, needs=["pregnant"], due_date=due, carer=None
    )
    page = client_for(placed.secretary).get(f"/care/c/{placed.community.code}/").content.decode()
    row = page.split("刘洋", 1)[1].split("</li>", 1)[0]
    assert "孕妇" in row and f"预产期 {due:%m-%d}" in row
    assert due.isoformat() not in row and "00:00" not in row
