"""The committee's volunteer endpoints: rejection, work groups, shifts, assignments, swaps, auto-fill and
the Excel roster. Each works for the right role and is refused to an outsider (the secretary of another
community), to an anonymous client, and to a volunteer trying a committee action."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.accounts.models import AuditLog
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.models import (
    Post,
    Shift,
    ShiftAssignment,
    SwapRequest,
    SwapStatus,
    Volunteer,
    VolunteerStatus,
    WorkGroup,
)
from fangzhou.volunteers.services import (
    shift_assign,
    shift_create,
    swap_request_create,
    volunteer_signup,
    work_groups_ensure,
)
from fangzhou.volunteers.tests.helpers import approved

JSON = "application/json"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return client.post(url, data=json.dumps(body or {}), content_type=JSON)


def at(hour: int, day: dt.date | None = None) -> dt.datetime:
    return dt.datetime.combine(day or timezone.localdate(), dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def crew(world: World) -> dict[str, Any]:
    """Two approved supplies volunteers (甲 with a recent negative test, 乙 too), one without a test (丙),
    one pending sign-up, one volunteer of the other community, and a supplies shift today 08–12."""
    a = approved(world.community, "甲", "13811112201", groups=("supplies",))
    b = approved(world.community, "乙", "13811112202", groups=("supplies",))
    c = approved(world.community, "丙", "13811112203", groups=("supplies",), tested_hours_ago=None)
    pending, _ = volunteer_signup(community=world.community, client_id=uuid.uuid4().hex, name="丁", phone="13811112204")
    foreign = approved(world.other, "外", "13811112205", groups=("supplies",))
    supplies = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
    shift, _ = shift_create(group=supplies, post=Post.GATE, place="东门", starts_at=at(8), ends_at=at(12), actor=None)
    return {"a": a, "b": b, "c": c, "pending": pending, "foreign": foreign, "supplies": supplies, "shift": shift}


def refused(world: World, crew: dict[str, Any], method: str, url: str, body: dict[str, Any] | None = None) -> None:
    """Outsider and a volunteer get 404 (the thing is not theirs to see), anonymous gets 401."""
    assert send(client_for(world.outsider), method, url, body).status_code == 404, url
    assert send(client_for(crew["a"].user), method, url, body).status_code == 404, url
    anonymous = send(Client(), method, url, body)
    assert anonymous.status_code == 401, url
    assert "sign in" in anonymous.json()["detail"]


# --- reject -----------------------------------------------------------------------------------


def test_reject_a_signup(world: World, crew: dict[str, Any]) -> None:
    url = f"/api/volunteers/{crew['pending'].pk}/reject"
    refused(world, crew, "post", url)
    crew["pending"].refresh_from_db()
    assert crew["pending"].status == VolunteerStatus.PENDING
    answer = send(client_for(world.secretary), "post", url)
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    assert Volunteer.objects.get(pk=crew["pending"].pk).status == VolunteerStatus.REJECTED
    # An approved volunteer cannot be turned down: a clear 400 in both languages.
    again = send(client_for(world.secretary), "post", f"/api/volunteers/{crew['a'].pk}/reject")
    assert again.status_code == 400
    assert "已批准" in again.json()["detail"] and "cannot be rejected" in again.json()["detail"]


# --- work groups -------------------------------------------------------------------------------


def test_work_groups_with_leads_and_members(world: World, crew: dict[str, Any]) -> None:
    url = f"/api/volunteers/groups/{world.community.code}"
    rows = send(client_for(world.secretary), "get", url).json()["items"]
    assert len(rows) == 7
    supplies = next(r for r in rows if r["code"] == "supplies")
    assert {m["name"] for m in supplies["members"]} == {"甲", "乙", "丙"}
    assert supplies["lead"] is None
    # A volunteer sees only their own groups, not the whole community's.
    mine = send(client_for(crew["a"].user), "get", url).json()["items"]
    assert [r["code"] for r in mine] == ["supplies"]
    assert send(client_for(world.outsider), "get", url).status_code == 404
    assert send(client_for(crew["foreign"].user), "get", url).status_code == 404
    assert send(Client(), "get", url).status_code == 401


def test_set_a_group_lead(world: World, crew: dict[str, Any]) -> None:
    group = crew["supplies"]
    url = f"/api/volunteers/groups/{group.pk}/lead"
    lead = crew["a"].user
    refused(world, crew, "post", url, {"lead_id": lead.pk})
    assert WorkGroup.objects.get(pk=group.pk).lead_id is None
    answer = send(client_for(world.secretary), "post", url, {"lead_id": lead.pk})
    assert answer.status_code == 200 and answer.json()["lead_id"] == lead.pk
    assert WorkGroup.objects.get(pk=group.pk).lead_id == lead.pk
    # The group list shows the lead.
    rows = send(client_for(world.secretary), "get", f"/api/volunteers/groups/{world.community.code}").json()["items"]
    assert next(r for r in rows if r["code"] == "supplies")["lead_id"] == lead.pk
    # Someone of another community cannot lead: 400, lead unchanged.
    bad = send(client_for(world.secretary), "post", url, {"lead_id": world.outsider.pk})
    assert bad.status_code == 400 and "this community" in bad.json()["detail"]
    assert WorkGroup.objects.get(pk=group.pk).lead_id == lead.pk
    # No lead_id clears the lead.
    assert send(client_for(world.secretary), "post", url, {}).json()["lead"] is None


def test_set_a_volunteers_groups(world: World, crew: dict[str, Any]) -> None:
    url = f"/api/volunteers/{crew['b'].pk}/groups"
    refused(world, crew, "post", url, {"groups": ["patrol"]})
    assert list(crew["b"].groups.values_list("code", flat=True)) == ["supplies"]
    answer = send(client_for(world.secretary), "post", url, {"groups": ["patrol", "testing"]})
    assert answer.status_code == 200 and sorted(answer.json()["groups"]) == ["patrol", "testing"]
    assert sorted(crew["b"].groups.values_list("code", flat=True)) == ["patrol", "testing"]
    bad = send(client_for(world.secretary), "post", url, {"groups": ["cooking"]})
    assert bad.status_code == 400 and "cooking" in bad.json()["detail"] and "未知" in bad.json()["detail"]
    assert sorted(crew["b"].groups.values_list("code", flat=True)) == ["patrol", "testing"]


# --- shifts and assignments --------------------------------------------------------------------


def test_create_a_shift(world: World, crew: dict[str, Any]) -> None:
    body = {
        "community": world.community.code,
        "group": "patrol",
        "post": "patrol",
        "place": "北区",
        "starts_at": at(20).isoformat(),
        "ends_at": (at(20) + dt.timedelta(hours=4)).isoformat(),
        "needed": 2,
    }
    refused(world, crew, "post", "/api/volunteers/shifts", body)
    assert not Shift.objects.filter(place="北区").exists()
    sec = client_for(world.secretary)
    first = send(sec, "post", "/api/volunteers/shifts", body)
    assert first.status_code == 201
    assert first.json()["group"] == "patrol" and first.json()["gap"] == 2 and first.json()["people"] == []
    retry = send(sec, "post", "/api/volunteers/shifts", body)
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    assert Shift.objects.filter(place="北区").count() == 1
    day = timezone.localdate().isoformat()
    roster = send(sec, "get", f"/api/volunteers/roster/{world.community.code}/{day}").json()["items"]
    assert first.json()["id"] in {r["id"] for r in roster}
    backwards = send(sec, "post", "/api/volunteers/shifts", {**body, "ends_at": at(19).isoformat()})
    assert backwards.status_code == 400 and "end after it starts" in backwards.json()["detail"]
    unknown = send(sec, "post", "/api/volunteers/shifts", {**body, "group": "choir"})
    assert unknown.status_code == 400 and "未知的工作组" in unknown.json()["detail"]
    # A secretary cannot put a shift in another community.
    other = send(sec, "post", "/api/volunteers/shifts", {**body, "community": world.other.code})
    assert other.status_code == 404


def test_remove_an_assignment(world: World, crew: dict[str, Any]) -> None:
    assignment = shift_assign(shift=crew["shift"], volunteer=crew["a"], actor=None)
    url = f"/api/volunteers/assignments/{assignment.pk}"
    refused(world, crew, "delete", url)
    assert ShiftAssignment.objects.filter(pk=assignment.pk).exists()
    assert send(client_for(world.secretary), "delete", url).status_code == 204
    assert not ShiftAssignment.objects.filter(pk=assignment.pk).exists()
    assert AuditLog.objects.filter(action="shift.unassign", actor=world.secretary).exists()
    assert send(client_for(world.secretary), "delete", url).status_code == 404


# --- swaps -------------------------------------------------------------------------------------


def test_request_a_swap(world: World, crew: dict[str, Any]) -> None:
    assignment = shift_assign(shift=crew["shift"], volunteer=crew["a"], actor=None)
    url = f"/api/volunteers/assignments/{assignment.pk}/swap"
    body = {"reason": "家里有事", "proposed_id": crew["b"].pk}
    # Only the volunteer on the shift asks: a colleague, the outsider and an anonymous client are refused.
    assert send(client_for(crew["b"].user), "post", url, body).status_code == 404
    assert send(client_for(world.outsider), "post", url, body).status_code == 404
    assert send(Client(), "post", url, body).status_code == 401
    assert not SwapRequest.objects.exists()
    me = client_for(crew["a"].user)
    first = send(me, "post", url, body)
    assert first.status_code == 200
    assert first.json()["status"] == "open" and first.json()["proposed"] == "乙" and first.json()["requester"] == "甲"
    assert send(me, "post", url, body).json()["id"] == first.json()["id"]  # a double tap: one request
    assert SwapRequest.objects.count() == 1
    foreign = send(me, "post", url, {"proposed_id": crew["foreign"].pk})
    assert foreign.status_code == 400 and "approved volunteer here" in foreign.json()["detail"]


def test_list_open_swaps(world: World, crew: dict[str, Any]) -> None:
    assignment = shift_assign(shift=crew["shift"], volunteer=crew["a"], actor=None)
    swap = swap_request_create(assignment=assignment, actor=crew["a"].user, reason="生病")
    url = f"/api/volunteers/swaps/{world.community.code}"
    refused(world, crew, "get", url)
    rows = send(client_for(world.secretary), "get", url).json()["items"]
    assert [(r["id"], r["requester"], r["reason"], r["place"]) for r in rows] == [(swap.pk, "甲", "生病", "东门")]
    assert send(client_for(world.outsider), "get", f"/api/volunteers/swaps/{world.other.code}").json()["items"] == []


def test_decide_a_swap(world: World, crew: dict[str, Any]) -> None:
    assignment = shift_assign(shift=crew["shift"], volunteer=crew["a"], actor=None)
    swap = swap_request_create(assignment=assignment, actor=crew["a"].user)
    url = f"/api/volunteers/swaps/{swap.pk}/decide"
    refused(world, crew, "post", url, {"accept": True, "to_id": crew["b"].pk})
    assert SwapRequest.objects.get(pk=swap.pk).status == SwapStatus.OPEN
    sec = client_for(world.secretary)
    # 丙 has no recent negative test: the health gate refuses, and says why.
    gated = send(sec, "post", url, {"accept": True, "to_id": crew["c"].pk})
    assert gated.status_code == 400 and "cannot go on duty" in gated.json()["detail"]
    assert send(sec, "post", url, {"accept": True, "to_id": crew["foreign"].pk}).status_code == 400
    assert send(sec, "post", url, {"accept": True}).status_code == 400  # nobody proposed, nobody chosen
    done = send(sec, "post", url, {"accept": True, "to_id": crew["b"].pk})
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["proposed"] == "乙"
    assert ShiftAssignment.objects.get(pk=assignment.pk).volunteer_id == crew["b"].pk
    assert send(sec, "get", f"/api/volunteers/swaps/{world.community.code}").json()["items"] == []
    # Cancelling another request.
    other = swap_request_create(assignment=assignment, actor=crew["b"].user)
    cancelled = send(sec, "post", f"/api/volunteers/swaps/{other.pk}/decide", {"accept": False})
    assert cancelled.json()["status"] == "cancelled"
    assert ShiftAssignment.objects.get(pk=assignment.pk).volunteer_id == crew["b"].pk


# --- auto-fill and Excel -----------------------------------------------------------------------


def test_roster_autofill(world: World, crew: dict[str, Any]) -> None:
    Shift.objects.filter(pk=crew["shift"].pk).update(needed=3)
    day = timezone.localdate().isoformat()
    url = f"/api/volunteers/roster/{world.community.code}/{day}/autofill"
    refused(world, crew, "post", url)
    assert not ShiftAssignment.objects.exists()
    answer = send(client_for(world.secretary), "post", url)
    assert answer.status_code == 200
    # 甲 and 乙 pass the health gate; 丙 (no test) does not: one place stays open.
    assert answer.json() == {"filled": 2, "gaps": 1}
    assert set(ShiftAssignment.objects.values_list("volunteer__name", flat=True)) == {"甲", "乙"}
    assert send(client_for(world.secretary), "post", url).json() == {"filled": 0, "gaps": 1}
    bad = send(client_for(world.secretary), "post", f"/api/volunteers/roster/{world.community.code}/not-a-day/autofill")
    assert bad.status_code == 422


def test_roster_xlsx(world: World, crew: dict[str, Any]) -> None:
    shift_assign(shift=crew["shift"], volunteer=crew["a"], actor=None)
    day = timezone.localdate().isoformat()
    url = f"/api/volunteers/roster/{world.community.code}/{day}/xlsx"
    refused(world, crew, "get", url)
    answer = send(client_for(world.secretary), "get", url)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    assert f"duty-{world.community.code}-{day}.xlsx" in answer["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("甲" in c and "138****2201" in c for c in cells)
    assert not any("13811112201" in c for c in cells)  # the phone is masked
    assert "东门" in cells
    assert AuditLog.objects.filter(action="roster.export", actor=world.secretary).exists()
    # The subdistrict officer reads the roster too.
    assert send(client_for(world.officer), "get", url).status_code == 200
