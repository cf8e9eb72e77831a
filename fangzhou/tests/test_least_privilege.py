"""Least privilege: the roles × actions table of docs/security.md, checked as a user would notice.

Each cell signs in as one role and tries one action on the first community's records through the
page or endpoint a person uses. "Allowed" means the action happened (the full value shown, the tube
closed, the order taken, the file served); "refused" means it did not, and the answer (403 or 404)
carries nothing of the record. The outsider is a secretary of another community.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.accounts.services import deputy_name, user_upsert
from fangzhou.lib.personal import phone_display
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import PASSWORD, World
from fangzhou.testing.models import Tube
from fangzhou.testing.services import round_create, sample_take
from fangzhou.volunteers.models import Volunteer
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind, Status, WorkOrder
from fangzhou.workorders.services import work_order_claim, work_order_create

pytestmark = pytest.mark.django_db

ROLES = [
    "admin",
    "officer",
    "secretary",
    "social_worker",
    "grid_leader",
    "building_leader",
    "volunteer",
    "outsider",
    "property_manager",
    "owners_committee",
    "deputy",
]
ACTIONS = [
    "unmask_id",
    "export_roster",
    "close_tube",
    "claim_order",
    "volunteer_phone",
    "read_counts",
    "zone_page",
    "see_residents",
    "create_leader",
]

Y, N = True, False
# The roles table of docs/security.md. Officer: counts only, never a person's ID number (decided).
# Tubes: the committee, or whoever fills the tube (decided; a leader may not close others' tubes).
# Property management (物业): the places and zone status, the orders assigned to it; no resident
# (so no ID number, no health data). The owners' committee (业委会): a contact entry, sees nothing.
# The deputy: a building leader named to stand in for the secretary is treated as the secretary.
# Accounts: the secretary (and her deputy) creates her community's leaders; a social worker does not.
TABLE: dict[str, dict[str, bool]] = {
    #                    unmask  export  tube claim v.phone counts zones residents new leader
    "admin": dict(zip(ACTIONS, [Y, Y, Y, Y, Y, Y, Y, Y, Y], strict=True)),
    "officer": dict(zip(ACTIONS, [N, N, N, N, N, Y, Y, Y, N], strict=True)),
    "secretary": dict(zip(ACTIONS, [Y, Y, Y, Y, Y, Y, Y, Y, Y], strict=True)),
    "social_worker": dict(zip(ACTIONS, [Y, Y, Y, Y, Y, Y, Y, Y, N], strict=True)),
    "grid_leader": dict(zip(ACTIONS, [N, N, N, Y, N, N, Y, Y, N], strict=True)),
    "building_leader": dict(zip(ACTIONS, [N, N, N, Y, N, N, Y, Y, N], strict=True)),
    "volunteer": dict(zip(ACTIONS, [N, N, N, Y, N, N, N, N, N], strict=True)),
    "outsider": dict(zip(ACTIONS, [N, N, N, N, N, N, N, N, N], strict=True)),
    "property_manager": dict(zip(ACTIONS, [N, N, N, N, N, N, Y, N, N], strict=True)),
    "owners_committee": dict(zip(ACTIONS, [N, N, N, N, N, N, N, N, N], strict=True)),
    "deputy": dict(zip(ACTIONS, [Y, Y, Y, Y, Y, Y, Y, Y, Y], strict=True)),
}


@dataclass
class Scene:
    world: World
    users: dict[str, User]
    resident: Resident
    tube: Tube
    order: WorkOrder
    other_volunteer: Volunteer


@pytest.fixture
def scene(world: World) -> Scene:
    c = world.community
    member = approved(c, "甲", "13512340001", groups=("supplies",), building=world.b3)
    other_volunteer = approved(c, "乙", "13512349999", groups=("patrol",))
    assert member.user is not None
    deputy = user_upsert(
        username="leader5", password=PASSWORD, role=Role.BUILDING_LEADER, community=c, buildings=[world.b5]
    )
    deputy_name(actor=world.secretary, community=c, deputy=deputy)
    users = {
        "admin": user_upsert(username="root", password=PASSWORD, role=Role.ADMIN),
        "officer": world.officer,
        "secretary": world.secretary,
        "social_worker": user_upsert(username="sw", password=PASSWORD, role=Role.SOCIAL_WORKER, community=c),
        "grid_leader": world.grid_leader,
        "building_leader": world.leader,
        "volunteer": member.user,
        "outsider": world.outsider,
        "property_manager": user_upsert(username="wuye", password=PASSWORD, role=Role.PROPERTY_MANAGER, community=c),
        "owners_committee": user_upsert(
            username="yeweihui", password=PASSWORD, role=Role.OWNERS_COMMITTEE, community=c
        ),
        "deputy": deputy,
    }
    resident = world.resident("张伟")
    rnd = round_create(community=c, date=timezone.localdate(), actor=world.secretary)
    taken = sample_take(round=rnd, residents=[resident], actor=world.secretary, station="site:desk:1")
    order, _ = work_order_create(
        community=c, kind=Kind.OTHER, title="搬运物资 3号楼", group="supplies", building=world.b3, actor=None
    )
    return Scene(world, users, resident, taken.tube, order, other_volunteer)


def _unmask_id(client: Client, s: Scene) -> bool:
    response = client.post(f"/api/residents/{s.resident.pk}/unmask")
    shown = s.resident.id_number in response.content.decode()
    assert response.status_code in {200, 403, 404}
    return response.status_code == 200 and shown


def _export_roster(client: Client, s: Scene) -> bool:
    response = client.get(f"/api/communities/{s.world.community.code}/roster.xlsx")
    assert response.status_code in {200, 403, 404}
    return response.status_code == 200 and response.content[:2] == b"PK"


def _close_tube(client: Client, s: Scene) -> bool:
    response = client.post(f"/api/testing/tubes/{s.tube.pk}/close")
    assert response.status_code in {200, 403, 404}
    closed = Tube.objects.get(pk=s.tube.pk).status == Tube.Status.CLOSED
    assert closed == (response.status_code == 200)
    return closed


def _claim_order(client: Client, s: Scene) -> bool:
    response = client.post(f"/api/orders/{s.order.pk}/claim")
    order = WorkOrder.objects.get(pk=s.order.pk)
    if response.status_code != 200:
        assert response.status_code in {403, 404}
        assert s.order.title not in response.content.decode()
        assert order.status == Status.OPEN
    return response.status_code == 200 and order.status == Status.CLAIMED


def _volunteer_phone(client: Client, s: Scene) -> bool:
    v = s.other_volunteer
    response = client.post(f"/volunteers/{v.pk}/phone/")
    shown = v.phone in response.content.decode()
    audited = AuditLog.objects.filter(action="volunteer.phone_unmask", target_id=str(v.pk)).exists()
    assert shown == audited  # a full number is never shown without an audit row
    # The detail page itself shows the number masked, whoever reads it.
    assert v.phone not in client.get(f"/volunteers/{v.pk}/").content.decode()
    return response.status_code == 200 and shown


def _read_counts(client: Client, s: Scene) -> bool:
    response = client.get(f"/reports/c/{s.world.community.code}/")
    assert response.status_code in {200, 302, 403, 404}
    return response.status_code == 200


def _zone_page(client: Client, s: Scene) -> bool:
    response = client.get(f"/zones/c/{s.world.community.code}/")
    assert response.status_code in {200, 403, 404}
    return response.status_code == 200


def _see_residents(client: Client, s: Scene) -> bool:
    """The resident search for a name: found means the resident's (masked) record is listed."""
    response = client.get("/residents/", {"q": "张伟"})
    assert response.status_code in {200, 302, 403, 404}
    return response.status_code == 200 and "138****1234" in response.content.decode()


def _create_leader(client: Client, s: Scene) -> bool:
    before = User.objects.count()
    response = client.post(
        "/accounts/people/new/",
        {
            "community": s.world.community.code,
            "role": Role.BUILDING_LEADER,
            "username": "newleader",
            "display_name": "新楼组长",
            "buildings": [str(s.world.b3.pk)],
        },
    )
    assert response.status_code in {302, 403, 404}
    made = User.objects.filter(username="newleader", role=Role.BUILDING_LEADER).exists()
    assert made == (User.objects.count() == before + 1)
    return made


CHECKS: dict[str, Callable[[Client, Scene], bool]] = {
    "unmask_id": _unmask_id,
    "export_roster": _export_roster,
    "close_tube": _close_tube,
    "claim_order": _claim_order,
    "volunteer_phone": _volunteer_phone,
    "read_counts": _read_counts,
    "zone_page": _zone_page,
    "see_residents": _see_residents,
    "create_leader": _create_leader,
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_roles_by_actions(scene: Scene, role: str, action: str) -> None:
    client = Client()
    client.force_login(scene.users[role])
    assert CHECKS[action](client, scene) == TABLE[role][action], f"{role} × {action}"


def test_the_table_covers_every_role(scene: Scene) -> None:
    assert {scene.users[r].role for r in ROLES} == set(Role.values)


class TestTheFindings:
    """The failures issue 11 measured, one by one."""

    def test_a_lost_claim_shows_nothing_of_the_order_read_hides(self, scene: Scene) -> None:
        s = scene
        colleague = approved(s.world.community, "丙", "13512340003", groups=("supplies",))
        assert colleague.user is not None
        work_order_claim(order_id=s.order.pk, actor=colleague.user)
        client = Client()
        client.force_login(s.users["volunteer"])
        assert client.get(f"/api/orders/{s.order.pk}").status_code == 404
        lost = client.post(f"/api/orders/{s.order.pk}/claim")
        assert lost.status_code == 409
        body = lost.json()  # problem details: who holds it, nothing of the order
        assert body["won"] is False and body["holder"] == "丙" and "order" not in body
        assert s.order.title not in lost.content.decode()
        page = client.post(f"/orders/{s.order.pk}/claim/", HTTP_HX_REQUEST="true").content.decode()
        assert "丙" in page and s.order.title not in page and "3号楼" not in page
        # Once done, the order is simply not found for them.
        WorkOrder.objects.filter(pk=s.order.pk).update(status=Status.DONE)
        assert client.post(f"/api/orders/{s.order.pk}/claim").status_code == 404

    def test_a_building_leader_closes_only_the_tube_they_fill(self, scene: Scene) -> None:
        s = scene
        leader = s.users["building_leader"]
        other_tube = s.tube
        neighbour = Resident.objects.get(name="李娜")
        own = sample_take(
            round=other_tube.round, residents=[neighbour], actor=leader, station=f"door:{leader.pk}", door_to_door=True
        ).tube
        assert own.pk != other_tube.pk
        client = Client()
        client.force_login(leader)
        assert client.post(f"/api/testing/tubes/{other_tube.pk}/close").status_code == 403
        assert client.post(f"/testing/tubes/{other_tube.pk}/close/").status_code == 403
        assert client.post(f"/api/testing/tubes/{own.pk}/close").status_code == 200
        assert Tube.objects.get(pk=own.pk).status == Tube.Status.CLOSED
        assert Tube.objects.get(pk=other_tube.pk).status == Tube.Status.OPEN

    def test_the_officer_reads_counts_and_reveals_no_one(self, scene: Scene) -> None:
        s = scene
        client = Client()
        client.force_login(s.users["officer"])
        assert client.get(f"/reports/c/{s.world.community.code}/").status_code == 200
        assert client.post(f"/api/residents/{s.resident.pk}/unmask").status_code == 403
        assert client.post(f"/r/{s.resident.pk}/unmask/").status_code == 403
        page = client.get(f"/b/{s.world.b3.pk}/").content.decode()
        assert s.resident.id_number not in page and "hx-post" not in page.split("<main>")[1].split("</main>")[0]
        assert not AuditLog.objects.filter(action="resident.unmask").exists()

    def test_a_leader_reveals_a_phone_to_call_but_never_an_id_number(self, scene: Scene) -> None:
        s = scene
        client = Client()
        client.force_login(s.users["building_leader"])
        body = client.post(f"/api/residents/{s.resident.pk}/unmask").json()
        assert body["phone"] == s.resident.phone
        assert body["id_number"] != s.resident.id_number and "*" in body["id_number"]
        row = AuditLog.objects.get(action="resident.unmask")
        assert row.detail == {"fields": ["phone"]} and row.actor_id == s.users["building_leader"].pk

    def test_a_manager_sees_a_volunteers_phone_only_with_an_audit_row(self, scene: Scene) -> None:
        s = scene
        v = s.other_volunteer
        client = Client()
        client.force_login(s.users["secretary"])
        page = client.get(f"/volunteers/{v.pk}/").content.decode()
        assert v.phone not in page and "135****9999" in page
        shown = client.post(f"/volunteers/{v.pk}/phone/")
        assert v.phone in shown.content.decode()
        row = AuditLog.objects.get(action="volunteer.phone_unmask")
        assert (row.actor_id, row.target_id) == (s.users["secretary"].pk, str(v.pk))
        assert v.phone not in str(row.detail)

    def test_a_volunteer_sees_their_own_phone_without_an_audit_row(self, scene: Scene) -> None:
        s = scene
        v = Volunteer.objects.get(user=s.users["volunteer"])
        client = Client()
        client.force_login(s.users["volunteer"])
        assert phone_display(v.phone) in client.get(f"/volunteers/{v.pk}/").content.decode()  # 135…, not +86135…
        assert not AuditLog.objects.filter(action="volunteer.phone_unmask").exists()
