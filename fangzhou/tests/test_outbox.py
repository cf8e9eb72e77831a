"""Field actions sent from a phone's outbox (issue 13): each endpoint is idempotent on the tap's
``client_id`` (a replay gets the stored answer and changes nothing), a conflict comes back as a
clear outcome in the reader's language, and the phone's time of the tap is kept next to the
server's."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.care import services as care_services
from fangzhou.care.models import CareProfile, CheckIn
from fangzhou.registry.tests.factories import World, build_world, place
from fangzhou.supplies import services as supplies_services
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, OutboxReceipt, Status, WorkOrder, WorkOrderEvent
from fangzhou.workorders.services import work_order_create

OUTBOX = {"HTTP_X_FANGZHOU_OUTBOX": "1"}


@pytest.fixture
def placed(db: None, settings: Any, tmp_path: Any) -> World:
    settings.FANGZHOU_ROUTE_TIME_LIMIT_S = 0.2
    settings.MEDIA_ROOT = str(tmp_path)
    return place(build_world())


def client_for(user: User | None) -> Client:
    client = Client()
    assert user is not None
    client.force_login(user)
    return client


def tap(**fields: Any) -> dict[str, Any]:
    return {"client_id": uuid.uuid4().hex, "done_at_client": timezone.now().isoformat(), **fields}


@pytest.fixture
def order_and_two(placed: World) -> tuple[WorkOrder, User, User]:
    a = approved(placed.community, "王芳", "13811110101", groups=("supplies",))
    b = approved(placed.community, "李强", "13811110102", groups=("supplies",))
    order, _ = work_order_create(
        community=placed.community, kind=Kind.SUPPLY_DELIVERY, title="送菜 5号楼", actor=None, building=placed.b5
    )
    assert a.user is not None and b.user is not None
    return order, a.user, b.user


def test_claim_replayed_is_answered_from_the_receipt_and_claims_once(order_and_two: Any) -> None:
    order, a, _b = order_and_two
    client = client_for(a)
    form = tap()
    first = client.post(f"/orders/{order.pk}/claim/", form, **OUTBOX)
    assert first.status_code == 200 and first.json()["ok"] and not first.json()["replay"]
    again = client.post(f"/orders/{order.pk}/claim/", form, **OUTBOX)
    assert again.status_code == 200 and again.json()["replay"] and again.json()["message"] == first.json()["message"]
    order.refresh_from_db()
    assert order.assignee == a and order.status == Status.CLAIMED
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
    receipt = OutboxReceipt.objects.get(client_id=form["client_id"])
    assert receipt.user == a and receipt.kind == "order_claim" and receipt.done_at_client is not None


def test_claim_lost_while_offline_says_who_has_it_in_the_readers_language(order_and_two: Any) -> None:
    order, a, b = order_and_two
    assert client_for(b).post(f"/orders/{order.pk}/claim/", tap(), **OUTBOX).status_code == 200
    late = client_for(a).post(f"/orders/{order.pk}/claim/", tap(), **OUTBOX)
    assert late.status_code == 409
    assert late.json()["outcome"] == "conflict" and "李强" in late.json()["message"]
    assert "认领" in late.json()["message"]
    english = client_for(a)
    english.cookies["django_language"] = "en"
    en = english.post(f"/orders/{order.pk}/claim/", tap(), **OUTBOX)
    assert en.status_code == 409 and en.json()["message"] == "Too late: 李强 took this order."
    order.refresh_from_db()
    assert order.assignee == b


def test_start_done_release_are_idempotent_and_a_stranger_is_refused_for_good(order_and_two: Any) -> None:
    order, a, b = order_and_two
    client = client_for(a)
    assert client.post(f"/orders/{order.pk}/claim/", tap(), **OUTBOX).status_code == 200
    start = tap()
    assert client.post(f"/orders/{order.pk}/start/", start, **OUTBOX).json()["ok"]
    replay = client.post(f"/orders/{order.pk}/start/", start, **OUTBOX)
    assert replay.status_code == 200 and replay.json()["replay"]
    # Someone else of the group cannot finish it: a definite refusal (the outbox stops), not a retry.
    refused = client_for(b).post(f"/orders/{order.pk}/done/", tap(), **OUTBOX)
    assert refused.status_code in {403, 404}
    done = tap(note="放门口了")
    assert client.post(f"/orders/{order.pk}/done/", done, **OUTBOX).json()["ok"]
    assert client.post(f"/orders/{order.pk}/done/", done, **OUTBOX).json()["replay"]
    # Releasing a finished order is a conflict with a reason, not a silent loss.
    late = client.post(f"/orders/{order.pk}/release/", tap(), **OUTBOX)
    assert late.status_code == 409 and late.json()["message"]
    order.refresh_from_db()
    assert order.status == Status.DONE
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.IN_PROGRESS).count() == 1
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.DONE).count() == 1


def test_release_of_an_order_someone_else_holds_names_the_holder(order_and_two: Any) -> None:
    order, a, b = order_and_two
    client_for(b).post(f"/orders/{order.pk}/claim/", tap(), **OUTBOX)
    response = client_for(a).post(f"/orders/{order.pk}/release/", tap(), **OUTBOX)
    if response.status_code == 404:  # the loser may not read an order held by someone else
        return
    assert response.status_code == 403 and "李强" in response.json()["message"]


@pytest.fixture
def deliveries(placed: World) -> list[Delivery]:
    dist = supplies_services.distribution_create(
        community=placed.community, name="包", kind="government", on=timezone.localdate(), package={"米": 1}, actor=None
    )
    supplies_services.distribution_allocate(distribution=dist, actor=None)
    for building in (placed.b5, placed.b3):
        supplies_services.delivery_assign(distribution=dist, building=building, volunteer=placed.volunteer, actor=None)
    return list(Delivery.objects.filter(distribution=dist).order_by("pk"))


def test_mark_delivered_replay_marks_once_and_keeps_the_phones_time(placed: World, deliveries: list[Delivery]) -> None:
    door = deliveries[0]
    tapped = timezone.now() - dt.timedelta(minutes=40)
    form = tap(done_at_client=tapped.isoformat())
    client = client_for(placed.volunteer)
    first = client.post(f"/supplies/delivery/{door.pk}/mark/", form, **OUTBOX)
    assert first.status_code == 200 and first.json()["ok"]
    door.refresh_from_db()
    delivered_at = door.delivered_at
    assert door.status != DeliveryStatus.PENDING and door.delivered_by == placed.volunteer
    again = client.post(f"/supplies/delivery/{door.pk}/mark/", form, **OUTBOX)
    assert again.status_code == 200 and again.json()["replay"]
    door.refresh_from_db()
    assert door.delivered_at == delivered_at
    receipt = OutboxReceipt.objects.get(client_id=form["client_id"])
    assert receipt.done_at_client == tapped and receipt.received_at > tapped


def test_door_delivered_by_someone_else_meanwhile_is_a_conflict_naming_them(
    placed: World, deliveries: list[Delivery]
) -> None:
    door = deliveries[0]
    assert client_for(placed.secretary).post(f"/supplies/delivery/{door.pk}/mark/", tap()).status_code == 302
    late = client_for(placed.volunteer).post(f"/supplies/delivery/{door.pk}/mark/", tap(), **OUTBOX)
    assert late.status_code == 409 and late.json()["outcome"] == "conflict"
    assert str(placed.secretary) in late.json()["message"] and "送达" in late.json()["message"]
    door.refresh_from_db()
    assert door.delivered_by == placed.secretary


def test_page_taps_still_get_the_page_and_a_replayed_id_of_another_user_is_refused(
    placed: World, deliveries: list[Delivery]
) -> None:
    door, other = deliveries[0], deliveries[1]
    form = tap()
    page = client_for(placed.volunteer).post(f"/supplies/delivery/{door.pk}/mark/", form, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and f'id="door{door.pk}"' in page.content.decode()
    forged = client_for(placed.secretary).post(f"/supplies/delivery/{other.pk}/mark/", form, **OUTBOX)
    assert forged.status_code == 400
    other.refresh_from_db()
    assert other.status == DeliveryStatus.PENDING


def test_checkin_tapped_before_midnight_counts_for_that_day_once(placed: World) -> None:
    care_services.care_registry_sync(community=placed.community, actor=None)
    profile = CareProfile.objects.get(resident__name="王秀英")
    today = timezone.localdate()
    late_evening = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(23, 55)))
    form = tap(status="ok", done_at_client=late_evening.isoformat())
    client = client_for(placed.leader)
    assert client.post(f"/care/r/{profile.pk}/checkin/", form, **OUTBOX).json()["ok"]
    assert client.post(f"/care/r/{profile.pk}/checkin/", form, **OUTBOX).json()["replay"]
    assert list(CheckIn.objects.filter(profile=profile).values_list("on", flat=True)) == [today - dt.timedelta(days=1)]
    officer = client_for(placed.officer).post(f"/care/r/{profile.pk}/checkin/", tap(status="ok"), **OUTBOX)
    assert officer.status_code in {403, 404}


def test_service_worker_manifest_and_the_offline_list_are_for_signed_in_people(
    placed: World, deliveries: list[Delivery]
) -> None:
    anonymous = Client()
    for url in ("/sw.js", "/manifest.webmanifest", "/offline/pages/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    vol = client_for(placed.volunteer)
    sw = vol.get("/sw.js")
    assert sw.status_code == 200 and sw["Content-Type"].startswith("text/javascript")
    assert sw["Service-Worker-Allowed"] == "/" and b"fz-pages-" in sw.content
    manifest = vol.get("/manifest.webmanifest").json()
    assert manifest["short_name"] == "方舟" and {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    listed = vol.get("/offline/pages/").json()
    door_lists = {f"/supplies/d/{d.distribution_id}/b/{d.building_id}/" for d in deliveries}
    assert set(listed["urls"]) >= {"/orders/", "/supplies/mine/"} | door_lists
    leader = client_for(placed.leader).get("/offline/pages/").json()
    assert f"/care/c/{placed.community.code}/checkins/" in leader["urls"] and leader["user"] != listed["user"]
    assert not any(u.startswith("/supplies/d/") for u in leader["urls"])  # not the volunteer's lists
    # A secretary at the desk gets no offline copies at all.
    assert client_for(placed.secretary).get("/offline/pages/").json() == {"user": "", "urls": []}


def test_field_pages_carry_a_per_user_key_and_the_outbox_forms(placed: World, deliveries: list[Delivery]) -> None:
    door = deliveries[0]
    page = (
        client_for(placed.volunteer).get(f"/supplies/d/{door.distribution_id}/b/{door.building_id}/").content.decode()
    )
    assert 'name="fz-user"' in page and "outbox.js" in page and 'rel="manifest"' in page
    assert page.count("data-outbox ") + page.count("data-outbox>") >= 1 and 'id="outbox-count"' in page
    leader = client_for(placed.leader).get("/orders/").content.decode()
    key = page.split('name="fz-user" content="')[1].split('"')[0]
    other = leader.split('name="fz-user" content="')[1].split('"')[0]
    assert key and other and key != other and str(placed.volunteer.pk) != key
    desk = client_for(placed.secretary).get("/orders/").content.decode()
    assert 'name="fz-user"' not in desk and "outbox.js" not in desk


@pytest.fixture
def door_round(placed: World) -> Any:
    from fangzhou.testing.services import round_create

    rnd = round_create(community=placed.community, date=timezone.localdate(), pool_size=10, actor=placed.secretary)
    return rnd


def test_door_sample_replayed_is_answered_from_the_receipt_and_samples_once(placed: World, door_round: Any) -> None:
    from fangzhou.testing.models import Sample

    zhang = placed.resident("张伟")
    tapped = timezone.now() - dt.timedelta(minutes=25)
    form = tap(resident=zhang.pk, tube_code="DOOR-0001", done_at_client=tapped.isoformat())
    client = client_for(placed.leader)
    first = client.post(f"/testing/r/{door_round.pk}/doors/take/", form, **OUTBOX)
    assert first.status_code == 200 and first.json()["ok"] and "DOOR-0001" in first.json()["message"]
    again = client.post(f"/testing/r/{door_round.pk}/doors/take/", form, **OUTBOX)
    assert again.status_code == 200 and again.json()["replay"] and again.json()["message"] == first.json()["message"]
    assert Sample.objects.filter(resident=zhang, round=door_round, door_to_door=True).count() == 1
    receipt = OutboxReceipt.objects.get(client_id=form["client_id"])
    assert receipt.kind == "door_sample" and receipt.user == placed.leader
    assert receipt.done_at_client == tapped and receipt.received_at > tapped


def test_door_sample_already_taken_or_into_a_closed_tube_is_a_conflict_in_the_readers_language(
    placed: World, door_round: Any
) -> None:
    from fangzhou.testing.models import Sample, Tube
    from fangzhou.testing.services import tube_close

    zhang, li = placed.resident("张伟"), placed.resident("李娜")
    url = f"/testing/r/{door_round.pk}/doors/take/"
    # Someone else sampled 张伟 at the desk meanwhile: the late tap says so, names them, samples nobody twice.
    assert client_for(placed.secretary).post(url, tap(resident=zhang.pk, tube_code="DOOR-0002")).status_code == 200
    late = client_for(placed.leader).post(url, tap(resident=zhang.pk), **OUTBOX)
    assert late.status_code == 409 and late.json()["outcome"] == "conflict"
    assert "本轮已采过" in late.json()["message"] and "张伟" in late.json()["message"]
    english = client_for(placed.leader)
    english.cookies["django_language"] = "en"
    en = english.post(url, tap(resident=zhang.pk), **OUTBOX)
    assert en.status_code == 409 and "already sampled in this round" in en.json()["message"]
    assert Sample.objects.filter(resident=zhang, round=door_round).count() == 1
    # The tube was closed before the tap got through: a conflict, not a new sample in a closed tube.
    tube_close(tube=Tube.objects.get(code="DOOR-0002"), actor=None)
    closed = client_for(placed.leader).post(url, tap(resident=li.pk, tube_code="door-0002"), **OUTBOX)
    assert closed.status_code == 409 and "DOOR-0002" in closed.json()["message"] and "封管" in closed.json()["message"]
    closed_en = english.post(url, tap(resident=li.pk, tube_code="DOOR-0002"), **OUTBOX)
    assert closed_en.status_code == 409 and "already closed" in closed_en.json()["message"]
    assert not Sample.objects.filter(resident=li).exists()
    # A district officer (reads the round) and someone of another community cannot sample at all.
    assert client_for(placed.officer).post(url, tap(resident=li.pk), **OUTBOX).status_code == 403
    assert client_for(placed.outsider).post(url, tap(resident=li.pk), **OUTBOX).status_code == 404
    assert not Sample.objects.filter(resident=li).exists()


def test_door_list_rows_are_outbox_forms_and_a_sampled_resident_leaves_the_list(placed: World, door_round: Any) -> None:
    from fangzhou.cases.services import case_confirm

    case_confirm(
        resident=placed.resident("刘洋"),
        report_date=timezone.localdate() - dt.timedelta(days=1),
        source="staff",
        actor=None,
    )
    zhang = placed.resident("张伟")
    client = client_for(placed.leader)
    url = f"/testing/r/{door_round.pk}/doors/"
    page = client.get(url).content.decode()
    form = page.split(f'value="{zhang.pk}"')[0].rsplit("<form", 1)[1]
    assert f'action="{url}take/"' in form and "data-outbox" in form and 'name="fz-user"' in page
    assert "标记已采样" in page and 'name="tube_code"' in page
    assert client.post(f"{url}take/", tap(resident=zhang.pk), **OUTBOX).json()["ok"]
    assert f'name="resident" value="{zhang.pk}"' not in client.get(url).content.decode()
