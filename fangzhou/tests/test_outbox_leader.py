"""A building leader's field actions through the outbox (issue 13): a household's antigen results
entered on its behalf, and a resident's request typed on the leader's phone. Each endpoint is
idempotent on the tap's ``client_id`` (a replay gets the stored answer and changes nothing), says a
conflict in the reader's language, refuses with a definite answer (the outbox stops), and keeps the
phone's time of the tap next to the server's, in a receipt committed with the action itself."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import AuditLog, User
from fangzhou.registry.tests.factories import World, build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Retest
from fangzhou.testing.services import antigen_report_submit
from fangzhou.workorders.models import OutboxReceipt, ResidentRequest, WorkOrder

OUTBOX = {"HTTP_X_FANGZHOU_OUTBOX": "1"}


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def client_for(user: User, language: str = "") -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


def tap(**fields: Any) -> dict[str, Any]:
    return {"client_id": uuid.uuid4().hex, "done_at_client": timezone.now().isoformat(), **fields}


def household_url(world: World) -> tuple[str, Any, Any, Any]:
    zhang, li = world.resident("张伟"), world.resident("李娜")
    return f"/testing/antigen/h/{zhang.household_id}/report/", zhang.household, zhang, li


# ---- antigen results on a household's behalf ---------------------------------------------------


def test_antigen_on_behalf_replayed_is_answered_from_the_receipt_and_reports_once(world: World) -> None:
    url, household, zhang, li = household_url(world)
    tapped = timezone.now() - dt.timedelta(minutes=30)
    form = tap(**{f"r{zhang.pk}": "negative", f"r{li.pk}": "negative"}, done_at_client=tapped.isoformat())
    client = client_for(world.leader)
    first = client.post(url, form, **OUTBOX)
    assert first.status_code == 200 and first.json()["ok"] and "101" in first.json()["message"]
    again = client.post(url, form, **OUTBOX)
    assert again.status_code == 200 and again.json()["replay"] and again.json()["message"] == first.json()["message"]
    assert AntigenSubmission.objects.filter(household=household).count() == 1
    submission = AntigenSubmission.objects.get(household=household)
    assert submission.recorded_by == world.leader and submission.client_id == form["client_id"]
    assert dict(AntigenReport.objects.filter(household=household).values_list("resident_id", "result")) == {
        zhang.pk: "negative",
        li.pk: "negative",
    }
    receipt = OutboxReceipt.objects.get(client_id=form["client_id"])
    assert receipt.kind == "antigen_on_behalf" and receipt.user == world.leader and receipt.target_id == household.pk
    assert receipt.done_at_client == tapped and receipt.received_at > tapped
    audit = AuditLog.objects.filter(action="antigen.submit", target_id=str(household.pk)).get()
    assert audit.actor == world.leader  # who entered it, not "the household"


def test_a_household_that_reported_itself_after_the_tap_keeps_its_answer(world: World) -> None:
    url, household, zhang, _li = household_url(world)
    tapped = timezone.now() - dt.timedelta(minutes=20)
    # The household reports on the public page while the leader's phone is still offline.
    antigen_report_submit(
        household=household, day=timezone.localdate(), results={zhang.pk: "positive"}, client_id=uuid.uuid4().hex
    )
    late = client_for(world.leader).post(
        url, tap(**{f"r{zhang.pk}": "negative"}, done_at_client=tapped.isoformat()), **OUTBOX
    )
    assert late.status_code == 409 and late.json()["outcome"] == "conflict"
    assert "自行上报" in late.json()["message"] and "101" in late.json()["message"]
    en = client_for(world.leader, "en").post(
        url, tap(**{f"r{zhang.pk}": "negative"}, done_at_client=tapped.isoformat()), **OUTBOX
    )
    assert en.status_code == 409 and "reported itself" in en.json()["message"]
    # The positive stands (and its re-test with it); nothing was overwritten.
    assert AntigenReport.objects.get(resident=zhang).result == "positive"
    assert Retest.objects.filter(resident=zhang, status=Retest.Status.PENDING).exists()
    # A tap made after the household's report is a correction, and applies.
    fresh = client_for(world.leader).post(url, tap(**{f"r{zhang.pk}": "negative"}), **OUTBOX)
    assert fresh.status_code == 200 and AntigenReport.objects.get(resident=zhang).result == "negative"


def test_the_leaders_own_earlier_entry_is_no_conflict(world: World) -> None:
    url, _household, zhang, _li = household_url(world)
    client = client_for(world.leader)
    first_tap = timezone.now() - dt.timedelta(minutes=10)
    second_tap = timezone.now() - dt.timedelta(minutes=5)
    # Both taps made offline; the first reaches the server after the second was tapped.
    assert client.post(url, tap(**{f"r{zhang.pk}": "invalid"}, done_at_client=first_tap.isoformat()), **OUTBOX).json()[
        "ok"
    ]
    second = client.post(url, tap(**{f"r{zhang.pk}": "negative"}, done_at_client=second_tap.isoformat()), **OUTBOX)
    assert second.status_code == 200 and AntigenReport.objects.get(resident=zhang).result == "negative"


def test_antigen_on_behalf_refusals_are_definite(world: World) -> None:
    url, _household, zhang, _li = household_url(world)
    other = world.resident("刘洋")  # of building 5, not this household
    stranger = client_for(world.leader).post(url, tap(**{f"r{other.pk}": "negative"}), **OUTBOX)
    assert stranger.status_code == 400 and stranger.json()["outcome"] == "refused"
    assert "不属于本户" in stranger.json()["message"]
    empty = client_for(world.leader, "en").post(url, tap(), **OUTBOX)
    assert empty.status_code == 400 and empty.json()["message"] == "report at least one person"
    old = client_for(world.leader).post(url, tap(**{f"r{zhang.pk}": "negative"}, day="2020-01-01"), **OUTBOX)
    assert old.status_code == 400 and "今天" in old.json()["message"]
    # A district officer reads the building but enters nothing; a volunteer has no households.
    officer = client_for(world.officer).post(url, tap(**{f"r{zhang.pk}": "negative"}), **OUTBOX)
    assert officer.status_code == 403 and officer.json()["outcome"] == "refused"
    assert client_for(world.volunteer).post(url, tap(**{f"r{zhang.pk}": "negative"}), **OUTBOX).status_code == 404
    # A building leader of building 3 cannot enter building 5's households.
    b5 = f"/testing/antigen/h/{other.household_id}/report/"
    assert client_for(world.leader).post(b5, tap(**{f"r{other.pk}": "negative"}), **OUTBOX).status_code == 404
    assert not AntigenSubmission.objects.exists()


def test_outsider_cannot_enter_results_nor_learn_the_household(world: World) -> None:
    url, _household, zhang, _li = household_url(world)
    response = client_for(world.outsider).post(url, tap(**{f"r{zhang.pk}": "negative"}), **OUTBOX)
    assert response.status_code == 404 and "张伟" not in response.content.decode()
    assert not AntigenSubmission.objects.exists()


def test_the_building_page_offers_each_unreported_household_as_an_outbox_form(world: World) -> None:
    _url, household, zhang, li = household_url(world)
    page = client_for(world.leader).get(f"/testing/antigen/b/{world.b3.pk}/").content.decode()
    section = page.split('id="on-behalf"')[1].split("</section>")[0]
    assert f'action="/testing/antigen/h/{household.pk}/report/"' in section and "data-outbox" in section
    assert f'name="r{zhang.pk}"' in section and f'name="r{li.pk}"' in section and "阴性" in section
    assert 'name="fz-user"' in page
    client_for(world.leader).post(
        f"/testing/antigen/h/{household.pk}/report/", tap(**{f"r{zhang.pk}": "negative", f"r{li.pk}": "negative"})
    )
    after = client_for(world.leader).get(f"/testing/antigen/b/{world.b3.pk}/").content.decode()
    assert f"/testing/antigen/h/{household.pk}/report/" not in after  # reported: off the chase list
    # The officer reads the building's glance but gets no forms to enter results.
    officer = client_for(world.officer).get(f"/testing/antigen/b/{world.b3.pk}/").content.decode()
    assert 'id="on-behalf"' not in officer


# ---- a resident's request typed by a building leader -------------------------------------------


def request_form(world: World, **fields: Any) -> dict[str, Any]:
    base = {"building": world.b3.pk, "room": "101", "kind": "medicine", "urgency": "1", "text": "降压药吃完了"}
    return tap(**{**base, **fields})


def test_typed_request_replayed_is_answered_from_the_receipt_and_recorded_once(world: World) -> None:
    tapped = timezone.now() - dt.timedelta(minutes=45)
    form = request_form(world, contact_name="张伟", contact_phone="13800001234", done_at_client=tapped.isoformat())
    client = client_for(world.leader)
    first = client.post("/orders/requests/type/", form, **OUTBOX)
    assert first.status_code == 200 and first.json()["ok"]
    again = client.post("/orders/requests/type/", form, **OUTBOX)
    assert again.status_code == 200 and again.json()["replay"] and again.json()["message"] == first.json()["message"]
    request = ResidentRequest.objects.get()
    assert request.reference in first.json()["message"] and "已登记" in first.json()["message"]
    assert request.recorded_by == world.leader and request.source == "staff" and request.building == world.b3
    assert WorkOrder.objects.filter(source_key=f"request:{request.pk}").count() == 1
    receipt = OutboxReceipt.objects.get(client_id=form["client_id"])
    assert receipt.kind == "request_typed" and receipt.target_id == request.pk
    assert receipt.done_at_client == tapped and receipt.received_at > tapped
    # The leader's page lists it under "recorded by me".
    page = client.get("/orders/requests/type/").content.decode()
    assert request.reference in page and "data-outbox" in page and 'name="fz-user"' in page


def test_typed_request_bad_input_is_refused_in_the_readers_language_and_not_retried(world: World) -> None:
    short = client_for(world.leader).post("/orders/requests/type/", request_form(world, text="x"), **OUTBOX)
    assert short.status_code == 400 and short.json()["outcome"] == "refused"
    assert short.json()["message"] == "请写下需要什么帮助"
    en = client_for(world.leader, "en").post("/orders/requests/type/", request_form(world, kind="party"), **OUTBOX)
    assert en.status_code == 400 and en.json()["message"] == "choose what the request is about"
    bad_urgency = client_for(world.leader).post("/orders/requests/type/", request_form(world, urgency="x"), **OUTBOX)
    assert bad_urgency.status_code == 400
    assert not ResidentRequest.objects.exists()


def test_typed_request_refused_outside_the_leaders_buildings_and_for_other_roles(world: World) -> None:
    url = "/orders/requests/type/"
    # Building 5 is not the leader's; building of another community is nobody's business here.
    assert client_for(world.leader).post(url, request_form(world, building=world.b5.pk), **OUTBOX).status_code == 404
    outsider = client_for(world.outsider).post(url, request_form(world), **OUTBOX)
    assert outsider.status_code == 404 and "张伟" not in outsider.content.decode()
    officer = client_for(world.officer).post(url, request_form(world), **OUTBOX)
    assert officer.status_code == 403 and officer.json()["outcome"] == "refused"
    assert client_for(world.volunteer).post(url, request_form(world), **OUTBOX).status_code == 404
    assert client_for(world.volunteer).get(url).status_code == 403
    assert client_for(world.officer).get(url).status_code == 403
    assert not ResidentRequest.objects.exists()
    # The outsider's own page names none of our buildings.
    assert world.b3.full_label not in client_for(world.outsider).get(url).content.decode()


def test_the_saved_pages_of_a_leader_include_the_antigen_glance_and_the_request_form(world: World) -> None:
    listed = client_for(world.leader).get("/offline/pages/").json()["urls"]
    assert f"/testing/antigen/c/{world.community.code}/" in listed
    assert f"/testing/antigen/b/{world.b3.pk}/" in listed and f"/testing/antigen/b/{world.b5.pk}/" not in listed
    assert "/orders/requests/type/" in listed
    grid = client_for(world.grid_leader).get("/offline/pages/").json()["urls"]
    assert f"/testing/antigen/b/{world.b3.pk}/" in grid
    volunteer = client_for(world.volunteer).get("/offline/pages/").json()["urls"]
    assert not any(u.startswith("/testing/antigen/") for u in volunteer)
