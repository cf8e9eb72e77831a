"""Who may read a daily report, what the report never carries, and what it costs the database."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from fangzhou.accounts.models import User
from fangzhou.registry.models import Resident
from fangzhou.registry.services import roster_import
from fangzhou.registry.tests.factories import World, roster_sheet
from fangzhou.reports.tests.helpers import busy_day, client_for
from fangzhou.reports.tests.test_report import pdf_text

pytestmark = pytest.mark.django_db

COMMUNITY_PAGES = [
    "/reports/c/T01/",
    "/reports/c/T01/daily.xlsx",
    "/reports/c/T01/daily.pdf",
    "/api/reports/communities/T01/daily",
]
TOKEN = re.compile(r"[A-Za-z0-9]{32,}")
ALL_PAGES = [*COMMUNITY_PAGES, "/reports/", "/reports/subdistrict.xlsx", "/api/reports/subdistrict"]


class TestScope:
    def test_anonymous_is_refused_everywhere(self, world: World) -> None:
        client = Client()
        for url in ALL_PAGES:
            response = client.get(url)
            if url.startswith("/api/"):
                assert response.status_code == 401, url
            else:
                assert response.status_code == 302 and "/accounts/login/" in response["Location"], url

    def test_a_secretary_of_another_community_gets_nothing_of_this_one(self, world: World) -> None:
        busy_day(world)
        client = client_for(world.outsider)
        for url in COMMUNITY_PAGES:
            assert client.get(url).status_code == 404, url
        # Their own pages show their own community only.
        assert client.get("/reports/")["Location"] == "/reports/c/T02/"
        table = client.get("/api/reports/subdistrict").json()
        assert [c["code"] for c in table["communities"]] == ["T02"]
        sheet = load_workbook(io.BytesIO(client.get("/reports/subdistrict.xlsx").content)).active
        assert sheet is not None
        assert [r[0] for r in sheet.iter_rows(min_row=3, values_only=True)] == ["T02", "合计 Total"]

    @pytest.mark.parametrize("persona", ["leader", "grid_leader", "volunteer"])
    def test_leaders_and_volunteers_are_refused(self, world: World, persona: str) -> None:
        user: User = getattr(world, persona)
        client = client_for(user)
        for url in ALL_PAGES:
            assert client.get(url).status_code == 403, (persona, url)

    def test_the_officer_sees_the_communities_of_their_subdistrict_only(self, world: World) -> None:
        client = client_for(world.officer)
        for url in COMMUNITY_PAGES:
            assert client.get(url).status_code == 200, url
        for url in (u.replace("T01", "T02") for u in COMMUNITY_PAGES):
            assert client.get(url).status_code == 404, url
        page = client.get("/reports/").content.decode()
        assert "测试居民区" in page and "另一居民区" not in page

    def test_the_report_of_an_unknown_community_is_not_found(self, world: World) -> None:
        assert client_for(world.secretary).get("/reports/c/NOPE/").status_code == 404


def _digits_and_names() -> list[str]:
    """What must never leave the community: names, phones (and their last four digits), ID numbers."""
    secrets: list[str] = []
    for r in Resident.objects.all():
        secrets.append(r.name)
        if r.phone:
            secrets += [r.phone, r.phone[-4:]]
        if r.id_number:
            secrets += [r.id_number, r.id_number[-4:]]
    return secrets


class TestNoPersonalData:
    def test_page_json_excel_and_pdf_carry_counts_only(self, world: World) -> None:
        busy_day(world)
        secrets = _digits_and_names()
        assert "张伟" in secrets and "1234" in secrets  # the world has them
        for user in (world.secretary, world.officer):
            client = client_for(user)
            texts = {
                "page": client.get("/reports/c/T01/").content.decode(),
                "json": client.get("/api/reports/communities/T01/daily").content.decode(),
                "table": client.get("/reports/").content.decode()
                if user == world.officer
                else client.get("/reports/", follow=True).content.decode(),
                "table json": client.get("/api/reports/subdistrict").content.decode(),
            }
            for name, url in (("excel", "/reports/c/T01/daily.xlsx"), ("table excel", "/reports/subdistrict.xlsx")):
                book = load_workbook(io.BytesIO(client.get(url).content))
                texts[name] = "\n".join(
                    str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
                )
            pdf = pdf_text(client.get("/reports/c/T01/daily.pdf").content)
            if pdf is not None:
                assert "阳光小区" in pdf  # the text is readable, so the check below means something
                texts["pdf"] = pdf
            for where, text in texts.items():
                text = TOKEN.sub("", text)  # CSRF tokens are random letters and digits
                leaked = [s for s in secrets if s in text]
                assert leaked == [], (user.username, where, leaked)
            assert "张伟" not in texts["json"]


class TestQueryCount:
    def _count(self, client: Client, url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def test_the_report_costs_the_same_for_a_larger_community(self, world: World) -> None:
        busy_day(world)
        client = client_for(world.secretary)
        officer = client_for(world.officer)
        urls = ["/reports/c/T01/", "/api/reports/communities/T01/daily"]
        small = [self._count(client, u) for u in urls] + [self._count(officer, "/reports/")]
        more = [["阳光小区", "3", str(300 + n), f"新住户{chr(0x4E00 + n)}", "", "", "", ""] for n in range(20)]
        more += [["阳光小区", str(20 + n), "101", f"新楼户{chr(0x4F00 + n)}", "", "", "", ""] for n in range(10)]
        more += [["新建小区", str(n), "101", f"新区户{chr(0x5000 + n)}", "", "", "", ""] for n in range(5)]
        roster_import(community=world.community, actor=None, sheet=roster_sheet(more), filename="more.xlsx")
        large = [self._count(client, u) for u in urls] + [self._count(officer, "/reports/")]
        assert client.get("/api/reports/communities/T01/daily").json()["residents"] == 4 + 35
        assert large == small
