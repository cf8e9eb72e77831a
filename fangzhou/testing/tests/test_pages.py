"""Pages and endpoints: scope (outsiders refused everywhere, leaders see their buildings), desk, antigen."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.registry.models import Resident
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.testing import selectors
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Retest, Sample, Tube
from fangzhou.testing.services import round_create, sample_take
from fangzhou.testing.tests.helpers import DAY, csv_bytes
from fangzhou.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def endpoints(world: World, round_id: int, tube_id: int) -> list[tuple[str, str]]:
    zhang = Resident.objects.get(name="张伟")
    code = world.community.code
    b = world.b3.pk
    return [
        ("get", f"/testing/c/{code}/"),
        ("post", f"/testing/c/{code}/"),
        ("get", f"/testing/r/{round_id}/"),
        ("post", f"/testing/r/{round_id}/sites/"),
        ("post", f"/testing/r/{round_id}/schedule/"),
        ("get", f"/testing/r/{round_id}/desk/?q=张"),
        ("post", f"/testing/r/{round_id}/desk/take/"),
        ("get", f"/testing/r/{round_id}/missing/"),
        ("get", f"/testing/r/{round_id}/doors/"),
        ("get", f"/testing/r/{round_id}/manifest.csv"),
        ("get", f"/testing/r/{round_id}/results/"),
        ("post", f"/testing/r/{round_id}/results/"),
        ("get", f"/testing/r/{round_id}/samples/"),
        ("post", f"/testing/tubes/{tube_id}/close/"),
        ("get", f"/testing/qr/{zhang.pk}.svg"),
        ("get", f"/testing/b/{b}/cards/"),
        ("get", f"/testing/antigen/c/{code}/"),
        ("get", f"/testing/antigen/b/{b}/"),
        ("post", f"/testing/antigen/b/{b}/"),
        ("get", f"/testing/antigen/b/{b}/poster.pdf"),
        ("post", f"/api/testing/communities/{code}/rounds"),
        ("get", f"/api/testing/rounds/{round_id}"),
        ("get", f"/api/testing/rounds/{round_id}/missing"),
        ("post", f"/api/testing/rounds/{round_id}/samples"),
        ("post", f"/api/testing/tubes/{tube_id}/close"),
        ("post", f"/api/testing/rounds/{round_id}/results"),
        ("post", f"/api/testing/rounds/{round_id}/samples-file"),
        ("get", f"/api/testing/communities/{code}/retests"),
        ("get", f"/api/testing/communities/{code}/antigen"),
    ]


@pytest.fixture
def setup(world: World) -> tuple[World, int, int]:
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    taken = sample_take(round=rnd, residents=[world.resident("刘洋")], actor=world.secretary, station="s1")
    return world, rnd.pk, taken.tube.pk


class TestScope:
    def test_anonymous_refused_everywhere(self, setup: tuple[World, int, int]) -> None:
        world, round_id, tube_id = setup
        client = client_for(None)
        for method, url in endpoints(world, round_id, tube_id):
            response = getattr(client, method)(url)
            if url.startswith("/api/"):
                assert response.status_code == 401, url
            else:
                assert response.status_code == 302 and "/accounts/login/" in response["Location"], url

    def test_secretary_of_another_community_gets_404(self, setup: tuple[World, int, int]) -> None:
        world, round_id, tube_id = setup
        client = client_for(world.outsider)
        for method, url in endpoints(world, round_id, tube_id):
            kwargs = (
                {"content_type": "application/json", "data": "{}"}
                if url.startswith("/api/") and method == "post"
                else {}
            )
            response = getattr(client, method)(url, **kwargs)
            assert response.status_code in (404, 422), (url, response.status_code)
            assert "刘洋" not in response.content.decode("utf-8", "replace"), url
        assert Tube.objects.get(pk=tube_id).status == Tube.Status.OPEN

    def test_building_leader_sees_only_their_buildings(self, setup: tuple[World, int, int]) -> None:
        world, round_id, _ = setup
        client = client_for(world.leader)  # leader of building 3; 刘洋 lives in building 5
        page = client.get(f"/testing/r/{round_id}/").content.decode()
        assert "3号楼" in page and "5号楼" not in page
        missing = client.get(f"/testing/r/{round_id}/missing/").content.decode()
        assert "张伟" in missing and "刘洋" not in missing
        assert client.get(f"/testing/r/{round_id}/desk/?q=刘洋").content.decode().count("刘洋") <= 1  # the query only
        assert client.get(f"/testing/antigen/b/{world.b5.pk}/").status_code == 404
        assert client.get(f"/testing/antigen/b/{world.b3.pk}/").status_code == 200
        liu = world.resident("刘洋")
        assert client.get(f"/testing/qr/{liu.pk}.svg").status_code == 404
        # Committee actions are refused to a building leader.
        assert client.get(f"/testing/r/{round_id}/results/").status_code == 403
        assert client.get(f"/testing/r/{round_id}/manifest.csv").status_code == 403
        api = client.get(f"/api/testing/rounds/{round_id}").json()
        assert [b["name"] for b in api["buildings"]] == ["阳光小区 3号楼"]
        taken = client.post(
            f"/api/testing/rounds/{round_id}/samples", {"resident_ids": [liu.pk]}, content_type="application/json"
        )
        assert taken.status_code == 404


class TestDesk:
    def test_find_and_sample_with_one_tap(self, world: World) -> None:
        rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
        client = client_for(world.secretary)
        page = client.get(f"/testing/r/{rnd.pk}/desk/?q=5678&desk=2", HTTP_HX_REQUEST="true").content.decode()
        assert "李娜" in page and page.count('name="resident"') == 2  # one tap for the whole household
        zhang, li = world.resident("张伟"), world.resident("李娜")
        response = client.post(f"/testing/r/{rnd.pk}/desk/take/", {"resident": [zhang.pk, li.pk], "desk": "2"})
        assert response.status_code == 200 and response["HX-Trigger"] == "sampled"
        assert Sample.objects.get(resident=zhang).tube == Sample.objects.get(resident=li).tube
        again = client.post(f"/testing/r/{rnd.pk}/desk/take/", {"resident": [zhang.pk], "desk": "2"})
        body = again.content.decode()
        assert again.status_code == 409 and "张伟" in body and "already sampled" in body
        # A QR code payload finds the resident too.
        payload = selectors.resident_qr_payload(zhang.pk)
        found = client.get(f"/testing/r/{rnd.pk}/desk/", {"q": payload}, HTTP_HX_REQUEST="true").content.decode()
        assert "张伟" in found and "tag done" in found  # shown as sampled, no button
        assert client.get(f"/testing/r/{rnd.pk}/desk/", {"q": payload[:-2] + "xx"}).content.decode().count("张伟") == 0
        svg = client.get(f"/testing/qr/{zhang.pk}.svg")
        assert svg.status_code == 200 and svg.content.startswith(b"<?xml")

    def test_desk_search_query_count_is_fixed(self, world: World) -> None:
        rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
        client = client_for(world.secretary)
        client.get(f"/testing/r/{rnd.pk}/desk/?q=张")
        with CaptureQueriesContext(connection) as one:
            client.get(f"/testing/r/{rnd.pk}/desk/?q=阳", HTTP_HX_REQUEST="true")
        with CaptureQueriesContext(connection) as many:
            client.get(f"/testing/r/{rnd.pk}/desk/?q=1", HTTP_HX_REQUEST="true")
        assert len(one) <= 10 and len(many) <= 10, [q["sql"] for q in many.captured_queries]

    def test_round_page_results_upload_and_schedule(self, world: World) -> None:
        rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
        client = client_for(world.secretary)
        assert (
            client.post(
                f"/testing/r/{rnd.pk}/sites/",
                {"name": "北广场", "desks": "2", "opens_at": "07:00", "closes_at": "09:00"},
            ).status_code
            == 302
        )
        client.post(f"/testing/r/{rnd.pk}/schedule/")
        page = client.get(f"/testing/r/{rnd.pk}/").content.decode()
        assert "北广场" in page and "07:00" in page
        bad = io.BytesIO(csv_bytes([["试管编码", "检测结果"], ["NOPE", "阴性"]]))
        bad.name = "lab.csv"
        response = client.post(f"/testing/r/{rnd.pk}/results/", {"file": bad})
        assert response.status_code == 200 and "unknown tube" in response.content.decode()
        junk = io.BytesIO(b"\x00\x01garbage")
        junk.name = "lab.xlsx"
        assert client.post(f"/testing/r/{rnd.pk}/results/", {"file": junk}).status_code == 400


class TestAntigen:
    def _public(self, world: World) -> str:
        building_tokens_ensure(community=world.community)
        world.b3.refresh_from_db()
        return world.b3.public_token

    def test_submit_is_idempotent_latest_wins_and_positive_raises_retest(self, world: World) -> None:
        token = self._public(world)
        cache.clear()
        client = Client()
        assert client.get(f"/testing/a/{token}/").status_code == 200
        wrong = client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "0000"})
        assert wrong.status_code == 404 and "不匹配" in wrong.json()["detail"]
        ok = client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "1234"}).json()
        assert sorted(m["name"] for m in ok["members"]) == ["张伟", "李娜"]
        assert "王秀英" not in json.dumps(ok, ensure_ascii=False)  # another household: nothing of them
        zhang, li = world.resident("张伟"), world.resident("李娜")
        today = timezone.localdate().isoformat()
        form = {"room": "101", "phone4": "1234", "day": today, "client_id": "client-aaaa-0001"}
        first = client.post(
            f"/testing/a/{token}/submit/", {**form, "results": json.dumps({zhang.pk: "negative", li.pk: "negative"})}
        )
        stored_at = timezone.localtime(AntigenSubmission.objects.get().received_at).strftime("%H:%M")
        # The page shows when it was stored on the server's clock (a phone's clock may be wrong).
        assert first.json() == {
            "ok": True,
            "stored": True,
            "client_id": "client-aaaa-0001",
            "duplicate": False,
            "reported_at": first.json()["reported_at"],
        }
        assert first.json()["reported_at"] in {stored_at, timezone.localtime().strftime("%H:%M")}
        retry = client.post(
            f"/testing/a/{token}/submit/", {**form, "results": json.dumps({zhang.pk: "negative", li.pk: "negative"})}
        )
        assert retry.json()["duplicate"] is True and retry.json()["reported_at"] == stored_at  # the first's time
        assert AntigenSubmission.objects.count() == 1 and AntigenReport.objects.count() == 2
        later = client.post(
            f"/testing/a/{token}/submit/",
            {**form, "client_id": "client-aaaa-0002", "results": json.dumps({li.pk: "positive"})},
        )
        assert later.json()["ok"]
        assert AntigenReport.objects.get(resident=li).result == "positive"  # latest answer wins
        assert AntigenReport.objects.count() == 2 and AntigenSubmission.objects.count() == 2  # history kept
        assert Retest.objects.get(resident=li, status="pending").reason == "antigen"
        assert WorkOrder.objects.filter(kind="retest", resident=li).count() == 1
        # The committee's screen shows the alert; the building grid shows a positive household.
        secretary = client_for(world.secretary)
        glance = secretary.get(f"/testing/antigen/c/{world.community.code}/?wall=1").content.decode()
        assert 'id="alerts"' in glance and "李娜" in glance and "cell positive" in glance
        # Someone else's resident id is refused; a bad day is refused.
        wang = world.resident("王秀英")
        foreign = client.post(
            f"/testing/a/{token}/submit/",
            {**form, "client_id": "client-aaaa-0003", "results": json.dumps({wang.pk: "negative"})},
        )
        assert foreign.status_code == 400 and "不属于本户" in foreign.json()["detail"]
        old = (timezone.localdate() - dt.timedelta(days=5)).isoformat()
        stale = client.post(
            f"/testing/a/{token}/submit/",
            {**form, "day": old, "client_id": "client-aaaa-0004", "results": json.dumps({zhang.pk: "negative"})},
        )
        assert stale.status_code == 400
        assert Client().get("/testing/a/not-a-valid-token-at-all/").status_code == 404

    def test_a_household_submission_costs_at_most_two_statements_on_postgresql(self, world: World) -> None:
        """The public submit: one query resolves building, household and the phone check, with the
        members, an earlier submission of the client id and today's re-tests; then one statement
        writes the submission, the upsert of every report and the audit row (PostgreSQL; SQLite
        writes the three separately). Transaction control (BEGIN, SAVEPOINT, RELEASE) is not
        counted: on PostgreSQL a household without a positive sends none (the one write statement
        is atomic by itself); SQLite's BEGIN only opens the transaction. Never more than five."""
        token = self._public(world)
        cache.clear()
        client = Client()
        zhang, li = world.resident("张伟"), world.resident("李娜")
        form = {"room": "101", "phone4": "1234", "day": timezone.localdate().isoformat()}
        limit = 2 if connection.vendor == "postgresql" else 4

        def statements(client_id: str, results: dict[int, str]) -> list[str]:
            with CaptureQueriesContext(connection) as queries:
                answer = client.post(
                    f"/testing/a/{token}/submit/", {**form, "client_id": client_id, "results": json.dumps(results)}
                )
            assert answer.json()["ok"], answer.content
            control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
            return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(control)]

        first = statements("client-bbbb-0001", {zhang.pk: "negative", li.pk: "negative"})
        assert 1 <= len(first) <= limit, "\n".join(first)  # the hot cursor's statements are seen too
        again = statements("client-bbbb-0002", {zhang.pk: "invalid", li.pk: "negative"})  # both rows upserted
        assert len(again) <= limit, "\n".join(again)
        assert AntigenReport.objects.filter(resident=zhang).get().result == "invalid"
        assert AntigenReport.objects.count() == 2
        retry = statements("client-bbbb-0002", {zhang.pk: "invalid", li.pk: "negative"})
        assert len(retry) <= 2 and AntigenSubmission.objects.count() == 2
        # A positive adds its re-test and work order, in the same request.
        positive = statements("client-bbbb-0003", {li.pk: "positive"})
        assert Retest.objects.filter(resident=li, status="pending").count() == 1
        assert len(positive) <= 5 + 12, "\n".join(positive)
        # Corrected to negative the same day: the re-test the lookup found ends with it.
        corrected = statements("client-bbbb-0004", {li.pk: "negative"})
        assert Retest.objects.filter(resident=li, status="pending").count() == 0
        assert len(corrected) <= 5 + 12, "\n".join(corrected)

    def test_the_public_write_from_plain_values_stores_what_it_answers(self, world: World) -> None:
        """The public page's lookup gives plain values (``HouseholdKey``), its one-statement write
        builds no model instance: the submission the outcome builds when asked is the stored row,
        and the audit row is the one ``audit_row`` would have made."""
        from fangzhou.accounts.models import AuditLog
        from fangzhou.testing.services import antigen_report_submit

        token = self._public(world)
        zhang, li = world.resident("张伟"), world.resident("李娜")
        today = timezone.localdate()
        building, household, read = selectors.public_antigen_lookup(
            token, "101", "1234", client_id="plain-values-0001", day=today
        )
        assert household is not None and read is not None and building == zhang.household.building_id
        assert (household.pk, household.building_id, household.room) == (zhang.household_id, building, "101")
        assert read.members == {zhang.pk: world.community.pk, li.pk: world.community.pk}
        outcome = antigen_report_submit(
            household=household,
            day=today,
            results={zhang.pk: "negative", li.pk: "invalid"},
            client_id="plain-values-0001",
            known=read,
        )
        assert outcome.created and outcome.client_id == "plain-values-0001"
        stored = AntigenSubmission.objects.get(client_id="plain-values-0001")
        built = outcome.submission
        fields = ("pk", "client_id", "community_id", "building_id", "household_id", "day", "received_at", "results")
        assert [getattr(built, f) for f in fields] == [getattr(stored, f) for f in fields]
        assert stored.results == {str(zhang.pk): "negative", str(li.pk): "invalid"} and not stored.photo
        assert stored.recorded_by_id is None
        reports = {r.resident_id: r for r in AntigenReport.objects.filter(submission=stored)}
        assert {k: r.result for k, r in reports.items()} == {zhang.pk: "negative", li.pk: "invalid"}
        assert {(r.day, r.household_id, r.community_id) for r in reports.values()} == {
            (today, zhang.household_id, world.community.pk)
        }
        audit = AuditLog.objects.get(action="antigen.submit", target_id=str(zhang.household_id))
        assert (audit.actor_id, audit.target_type, audit.community_id) == (None, "household", world.community.pk)
        assert audit.detail == {"day": today.isoformat(), "reported": 2, "positive": 0}
        if connection.vendor == "postgresql":  # one statement, one clock (SQLite's inserts read their own)
            assert {r.reported_at for r in reports.values()} == {audit.at} == {stored.received_at}

    def test_rate_limited_with_chinese_message(self, world: World, settings: Any) -> None:
        token = self._public(world)
        cache.clear()
        settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 3
        client = Client()
        codes = [
            client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "0000"}).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [404, 404, 404] and codes[3:] == [429, 429]
        refused = client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "1234"})
        assert refused.status_code == 429 and "请稍后再试" in refused.json()["detail"]
        cache.clear()

    def test_glance_query_count_and_poster(self, world: World) -> None:
        client = client_for(world.secretary)
        url = f"/testing/antigen/c/{world.community.code}/"
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and len(queries) <= 10, [q["sql"] for q in queries.captured_queries]
        leader = client_for(world.leader)
        page = leader.get(url).content.decode()
        assert "3号楼" in page and "5号楼" not in page
        pdf = leader.get(f"/testing/antigen/b/{world.b3.pk}/poster.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        building = leader.get(f"/testing/antigen/b/{world.b3.pk}/").content.decode()
        assert "王秀英" in building  # not reported yet
        household = world.resident("王秀英").household
        leader.post(f"/testing/antigen/b/{world.b3.pk}/", {"household": household.pk, "kits": "2"})
        assert household.kit_handouts.get().kits == 2


def test_pool_planner_recommendation_on_the_rounds_page(world: World) -> None:
    from fangzhou.testing.services import results_import

    client = client_for(world.secretary)
    assert 'id="plan"' not in client.get(f"/testing/c/{world.community.code}/").content.decode()  # no data yet
    rnd = round_create(community=world.community, date=timezone.localdate(), pool_size=10, actor=world.secretary)
    taken = sample_take(
        round=rnd, residents=list(Resident.objects.filter(community=world.community)), actor=None, station="s"
    )
    lab = csv_bytes([["tube_code", "result"], [taken.tube.code, "negative"]])
    results_import(round=rnd, data=lab, filename="l.csv", actor=None)
    page = client.get(f"/testing/c/{world.community.code}/").content.decode()
    assert 'id="plan"' in page and 'id="plan-tubes">1<' in page
    assert 'id="plan"' not in client_for(world.leader).get(f"/testing/c/{world.community.code}/").content.decode()


@pytest.mark.django_db
def test_kits_are_reconciled_with_the_results_reported(world: World) -> None:
    import datetime as dt

    from fangzhou.testing.selectors import kit_reconciliation
    from fangzhou.testing.services import antigen_report_submit, kit_handout_record

    zhang, li = world.resident("张伟"), world.resident("李娜")
    wang = world.resident("王秀英")
    day1, day2 = dt.date(2022, 4, 10), dt.date(2022, 4, 11)
    kit_handout_record(household=zhang.household, day=day1, kits=4, actor=world.leader)
    kit_handout_record(household=wang.household, day=day1, kits=1, actor=world.leader)
    for n, day in enumerate((day1, day2)):
        antigen_report_submit(
            household=zhang.household,
            day=day,
            results={zhang.pk: "negative", li.pk: "negative"},
            client_id=f"kitsreconcile{n:04d}aaaa",
        )
    antigen_report_submit(
        household=wang.household, day=day1, results={wang.pk: "not_tested"}, client_id="kitsreconcilewangaaaa"
    )
    rows = {r.room: r for r in kit_reconciliation(world.leader, world.b3, day2)}
    assert (rows["101"].handed, rows["101"].used, rows["101"].left, rows["101"].state) == (4, 4, 0, "short")
    assert (rows["102"].used, rows["102"].left, rows["102"].state) == (0, 1, "ok")
    # Another building's leader sees nothing of it; the page shows the table to this one.
    assert kit_reconciliation(world.outsider, world.b3, day2) == []
    client = client_for(world.leader)
    page = client.get(f"/testing/antigen/b/{world.b3.pk}/?day={day2.isoformat()}").content.decode()
    assert 'id="kit-balance"' in page
