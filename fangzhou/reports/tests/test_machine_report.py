"""A district system pulls the counts-only daily report and the subdistrict table with its API key."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog
from fangzhou.accounts.services import api_token_create
from fangzhou.registry.services import community_create
from fangzhou.registry.tests.factories import World
from fangzhou.reports.tests.helpers import busy_day, client_for
from fangzhou.reports.tests.test_scope_privacy import _digits_and_names

pytestmark = pytest.mark.django_db


def _get(key: str, url: str) -> Any:
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_district_key_reads_the_same_counts_as_the_officer_and_nothing_personal(world: World) -> None:
    busy_day(world)
    today = timezone.localdate().isoformat()
    community_create(code="T08", name="同街道居民区", subdistrict_name=world.community.subdistrict.name)
    key = api_token_create(
        name="区日报系统", scopes=["reports:read"], subdistrict=world.community.subdistrict, actor=world.officer
    ).key
    officer = client_for(world.officer)
    daily = _get(key, f"/api/reports/communities/T01/daily?day={today}")
    assert daily.status_code == 200
    report, seen_by_officer = daily.json(), officer.get(f"/api/reports/communities/T01/daily?day={today}").json()
    for figures in ("residents", "cases", "testing", "antigen", "work_orders"):
        assert report[figures] == seen_by_officer[figures], figures
    assert report["testing"]["round"]["positive_tubes"] == 1
    table = _get(key, f"/api/reports/subdistrict?day={today}").json()
    assert sorted(row["code"] for row in table["communities"]) == ["T01", "T08"]  # not T02 (another subdistrict)
    text = daily.content.decode() + str(table)
    assert not [s for s in _digits_and_names() if s in text]
    # Another subdistrict's community: 404, as if it did not exist, and audited.
    assert _get(key, "/api/reports/communities/T02/daily").status_code == 404
    assert _get(key, "/api/reports/communities/NOPE/daily").status_code == 404
    assert AuditLog.objects.filter(action=AuditAction.API_TOKEN_REFUSE, detail__reason="other_place").count() == 2


def test_a_community_key_reads_its_own_community_only(world: World) -> None:
    key = api_token_create(name="x", scopes=["reports:read"], community=world.community, actor=world.secretary).key
    community_create(code="T08", name="同街道居民区", subdistrict_name=world.community.subdistrict.name)
    table = _get(key, "/api/reports/subdistrict").json()
    assert [row["code"] for row in table["communities"]] == ["T01"]
    assert _get(key, "/api/reports/communities/T08/daily").status_code == 404
    assert _get(key, "/api/reports/communities/T01/daily").status_code == 200
