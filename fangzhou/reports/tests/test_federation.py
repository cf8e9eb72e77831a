"""The city view as a federation: a district instance pulls a peer's counts-only daily table over
the peer's API with a reports:read key, on the schedule, and shows it below its own table.

The peer is a real instance: this app served by pytest-django's live server (the same API a peer
answers), with a key made the way a peer's operator makes one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.services import api_token_create
from fangzhou.cases.services import case_confirm
from fangzhou.ops.scheduler import entry_named, run_entry
from fangzhou.registry.tests.factories import World
from fangzhou.reports.federation import federation_pull
from fangzhou.reports.models import FederatedReport

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer(world: World, live_server: Any, settings: Any) -> str:
    made = api_token_create(
        name="市级汇总", scopes=["reports:read"], subdistrict=world.community.subdistrict, actor=world.officer
    )
    settings.FANGZHOU_FEDERATION_PEERS = [{"name": "徐汇区", "url": live_server.url, "token": made.key}]
    return str(live_server.url)


def test_the_peers_counts_are_pulled_on_the_schedule_and_shown_in_the_table(world: World, peer: str) -> None:
    case_confirm(
        resident=world.resident("刘洋"), report_date=timezone.localdate(), source="staff", actor=world.secretary
    )
    fired = run_entry(entry_named("federation"))
    assert fired.ran and fired.outcome == "ok"
    report = FederatedReport.objects.get(peer="徐汇区", day=timezone.localdate())
    [row] = report.communities  # the key reads its own subdistrict: one community
    assert row["code"] == world.community.code and row["cases"] == {"new": 1, "total": 1}
    assert row["residents"] == 4 and report.error == ""
    assert "刘洋" not in str(report.communities) and "13700009999" not in str(report.communities)

    client = Client()
    client.force_login(world.officer)
    page = client.get("/reports/").content.decode()
    assert 'id="federated"' in page and f'id="peer-徐汇区-{world.community.code}"' in page
    assert "其他实例（联邦）" in page
    # the subdistrict's big screen shows the federation too
    screen = client.get(f"/reports/s/{world.community.subdistrict_id}/screen/").content.decode()
    assert f'id="peer-徐汇区-{world.community.code}"' in screen


def test_a_wrong_key_or_a_dead_peer_is_recorded_and_the_last_table_kept(world: World, peer: str, settings: Any) -> None:
    assert federation_pull() == {"徐汇区": "ok"}
    settings.FANGZHOU_FEDERATION_PEERS = [{"name": "徐汇区", "url": peer, "token": "fz_wrong"}]
    assert federation_pull() == {"徐汇区": "http 401"}
    report = FederatedReport.objects.get(peer="徐汇区")
    assert report.error == "http 401" and len(report.communities) == 1  # the last good table stays
    settings.FANGZHOU_FEDERATION_PEERS = [{"name": "徐汇区", "url": "http://127.0.0.1:9", "token": "fz_x"}]
    assert federation_pull(day=timezone.localdate() + dt.timedelta(days=1))["徐汇区"] != "ok"


def test_a_volunteer_sees_no_federated_table(world: World, peer: str) -> None:
    federation_pull()
    client = Client()
    client.force_login(world.volunteer)
    assert client.get("/reports/").status_code == 403
