"""Times are the community's, whatever the server's TIME_ZONE: a page, an Excel cell and a PDF."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.registry.tests.factories import World
from fangzhou.reports.tests.helpers import client_for
from fangzhou.reports.tests.test_one_figure import _pdf_text

pytestmark = pytest.mark.django_db


def _stamps(before: dt.datetime, after: dt.datetime, tz: ZoneInfo) -> set[str]:
    return {timezone.localtime(t, tz).strftime("%Y-%m-%d %H:%M") for t in (before, after)}


@override_settings(TIME_ZONE="UTC")
def test_the_report_is_on_the_communitys_clock_not_the_servers(world: World) -> None:
    world.community.time_zone = "Asia/Shanghai"
    world.community.save(update_fields=["time_zone"])
    shanghai, utc = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")
    client = client_for(world.secretary)  # signs in after the change: the session keeps Shanghai
    day = timezone.localtime(timezone.now(), shanghai).date().isoformat()
    before = timezone.now()
    page = client.get(f"/reports/c/T01/?day={day}").content.decode()
    sheet = load_workbook(io.BytesIO(client.get(f"/reports/c/T01/daily.xlsx?day={day}").content)).active
    pdf = _pdf_text(client.get(f"/reports/c/T01/daily.pdf?day={day}").content)
    after = timezone.now()
    assert sheet is not None
    cell = str(sheet["A2"].value)
    local, server = _stamps(before, after, shanghai), _stamps(before, after, utc)
    for where, text in (("page", page), ("excel", cell), ("pdf", pdf)):
        assert any(s in text for s in local), (where, local, text[:400])
        assert not any(s in text for s in server), where


@override_settings(TIME_ZONE="UTC")
def test_an_officer_reading_a_community_sees_its_clock(world: World) -> None:
    """An officer has no community of their own: the community's page is on its clock."""
    world.community.time_zone = "Asia/Urumqi"  # UTC+6, two hours behind Shanghai
    world.community.save(update_fields=["time_zone"])
    client = client_for(world.officer)
    urumqi = ZoneInfo("Asia/Urumqi")
    day = timezone.localtime(timezone.now(), urumqi).date().isoformat()
    before = timezone.now()
    page = client.get(f"/reports/c/T01/?day={day}").content.decode()
    after = timezone.now()
    assert any(s in page for s in _stamps(before, after, urumqi))
