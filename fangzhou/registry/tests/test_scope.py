"""Privacy: every page and endpoint is scoped on the server; outsiders get nothing."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fangzhou.accounts.models import AuditLog, User
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def endpoints(world: World) -> list[tuple[str, str, int]]:
    """(method, url, what an outsider gets) for every registry page and endpoint of community T01."""
    zhang = Resident.objects.get(name="张伟")
    code = world.community.code
    return [
        ("get", f"/c/{code}/", 404),
        ("get", f"/c/{code}/roster/", 404),
        ("get", f"/c/{code}/roster.xlsx", 404),
        ("get", f"/b/{world.b3.pk}/", 404),
        ("post", f"/r/{zhang.pk}/unmask/", 404),
        ("get", f"/api/communities/{code}/overview", 404),
        ("get", f"/api/buildings/{world.b3.pk}/residents", 404),
        ("get", f"/api/residents/{zhang.pk}", 404),
        ("post", f"/api/residents/{zhang.pk}/unmask", 404),
        ("post", f"/api/communities/{code}/roster", 404),
        ("get", f"/api/communities/{code}/roster.xlsx", 404),
    ]


class TestOutsiders:
    def test_anonymous_is_sent_to_sign_in_or_refused(self, world: World) -> None:
        client = client_for(None)
        for method, url, _ in endpoints(world) + [
            ("get", "/", 0),
            ("get", "/residents/?q=张", 0),
            ("get", "/api/communities", 0),
        ]:
            response = getattr(client, method)(url)
            if url.startswith("/api/"):
                assert response.status_code == 401, url
            else:
                assert response.status_code == 302 and "/accounts/login/" in response["Location"], url

    def test_secretary_of_another_community_gets_nothing(self, world: World) -> None:
        client = client_for(world.outsider)
        for method, url, status in endpoints(world):
            data = {"file": io.BytesIO(b"x")} if url.endswith("/roster") else {}
            response = getattr(client, method)(url, data)
            assert response.status_code == status, url
            assert "张伟" not in response.content.decode(errors="ignore"), url
        assert client.get("/api/residents", {"q": "张伟"}).json()["items"] == []
        assert "no-results" in client.get("/residents/", {"q": "张伟"}).content.decode()
        assert [c["code"] for c in client.get("/api/communities").json()["items"]] == ["T02"]
        assert not AuditLog.objects.filter(action="resident.unmask").exists()

    def test_volunteer_sees_no_residents(self, world: World) -> None:
        client = client_for(world.volunteer)
        assert client.get("/")["Location"] == "/orders/"
        assert client.get(f"/b/{world.b3.pk}/").status_code == 404
        assert client.get("/api/residents", {"q": "张"}).json()["items"] == []
        assert client.get("/api/communities").json()["items"] == []


class TestBuildingLeader:
    def test_sees_own_building_only(self, world: World) -> None:
        client = client_for(world.leader)
        assert client.get(f"/b/{world.b3.pk}/").status_code == 200
        assert client.get(f"/b/{world.b5.pk}/").status_code == 404
        liu = Resident.objects.get(name="刘洋")  # lives in building 5
        assert client.get(f"/api/residents/{liu.pk}").status_code == 404
        assert client.post(f"/api/residents/{liu.pk}/unmask").status_code == 404
        assert client.get(f"/api/buildings/{world.b5.pk}/residents").status_code == 404
        names = {r["name"] for r in client.get("/api/residents", {"q": "刘"}).json()["items"]}
        assert names == set()
        overview = client.get(f"/api/communities/{world.community.code}/overview").json()
        assert [b["label"] for b in overview["buildings"]] == ["3号楼"]
        assert overview["residents"] == 3

    def test_may_not_import_or_export_the_roster(self, world: World) -> None:
        client = client_for(world.leader)
        code = world.community.code
        assert client.get(f"/c/{code}/roster/").status_code == 403
        assert client.get(f"/api/communities/{code}/roster.xlsx").status_code == 403
        upload = io.BytesIO("楼号,室号,姓名\n3,101,新人\n".encode())
        upload.name = "r.csv"
        assert client.post(f"/api/communities/{code}/roster", {"file": upload}).status_code == 403
        assert not Resident.objects.filter(name="新人").exists()

    def test_lists_are_masked_and_unmasking_is_logged(self, world: World) -> None:
        client = client_for(world.leader)
        zhang = Resident.objects.get(name="张伟")
        page = client.get(f"/b/{world.b3.pk}/").content.decode()
        assert zhang.id_number not in page and zhang.phone not in page
        assert zhang.id_number[:4] + "*" * 10 + zhang.id_number[-4:] in page
        api_list = client.get(f"/api/buildings/{world.b3.pk}/residents").json()
        assert zhang.id_number not in str(api_list) and "138****1234" in str(api_list)
        # A building leader reveals the phone (to call), never the ID number (docs/security.md).
        revealed = client.post(f"/api/residents/{zhang.pk}/unmask").json()
        assert revealed["phone"] == zhang.phone and revealed["id_number"] != zhang.id_number
        log = AuditLog.objects.get(action="resident.unmask")
        assert log.actor == world.leader and log.target_id == str(zhang.pk)
        assert zhang.id_number not in str(log.detail) and zhang.phone not in str(log.detail)


class TestGridLeaderAndOfficer:
    def test_grid_leader_sees_own_grid(self, world: World) -> None:
        client = client_for(world.grid_leader)
        assert client.get(f"/b/{world.b3.pk}/").status_code == 200
        assert client.get(f"/b/{world.b5.pk}/").status_code == 404

    def test_officer_sees_the_subdistrict_but_not_another(self, world: World) -> None:
        client = client_for(world.officer)
        assert client.get(f"/b/{world.b5.pk}/").status_code == 200
        assert client.get(f"/b/{world.other_building.pk}/").status_code == 404
        assert client.get(f"/c/{world.community.code}/roster/").status_code == 403


class TestSearch:
    def test_by_name_room_and_phone_digits(self, world: World) -> None:
        client = client_for(world.secretary)

        def names(q: str) -> set[str]:
            return {r["name"] for r in client.get("/api/residents", {"q": q}).json()["items"]}

        assert names("王秀") == {"王秀英"}
        assert names("1234") == {"张伟"}
        assert names("3-101") == {"张伟", "李娜"}
        assert names("201") == {"刘洋"}
        assert names("赵敏") == set()  # another community


class TestQueryCounts:
    def test_overview_does_not_grow_with_the_community(self, world: World) -> None:
        client = client_for(world.secretary)
        url = f"/c/{world.community.code}/"
        client.get(url)
        with CaptureQueriesContext(connection) as small:
            assert client.get(url).status_code == 200
        from fangzhou.registry.services import roster_import
        from fangzhou.registry.tests.factories import roster_sheet

        rows: list[list[object]] = [
            ["阳光小区", str(b), str(r), f"住户{chr(0x4E00 + b * 50 + r)}", "", "", "", ""]
            for b in range(10, 30)
            for r in range(101, 106)
        ]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="more.xlsx")
        with CaptureQueriesContext(connection) as large:
            assert client.get(url).status_code == 200
        # Session and user (with the community), the community (with its deputyship), the buildings
        # with their counts, the zone plan (compounds with the zone settings, cases, blocks,
        # overrides), the at-risk list and the day's figures: at most 10 whatever the size.
        assert len(large) == len(small) <= 10

    def test_building_page_is_a_fixed_number_of_queries(self, world: World) -> None:
        client = client_for(world.secretary)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/b/{world.b3.pk}/").status_code == 200
        assert len(queries) <= 6


class TestPublicLanding:
    def test_building_landing_page_is_public_and_shows_no_one(self, world: World) -> None:
        from fangzhou.registry.services import building_token_rotate

        token = building_token_rotate(building=world.b3, actor=world.secretary)
        page = Client().get(f"/p/{token}/").content.decode()
        assert "3号楼" in page and "张伟" not in page and "1380000" not in page
        assert f"/testing/a/{token}/" in page and f"/orders/p/{token}/" in page

    def test_revoked_or_guessed_token_is_refused(self, world: World) -> None:
        from fangzhou.registry.services import building_token_rotate

        old = building_token_rotate(building=world.b3, actor=world.secretary)
        building_token_rotate(building=world.b3, actor=world.secretary)
        assert Client().get(f"/p/{old}/").status_code == 404
        assert Client().get("/p/guess/").status_code == 404
