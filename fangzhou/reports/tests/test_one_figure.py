"""One figure, one answer: for the same community and day, the daily report page, its Excel and
PDF, the API, the subdistrict table (page and Excel) and the overview give the same numbers,
because each figure is computed once (``reports.selectors.community_row``)."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.cases.models import Case
from fangzhou.cases.services import case_confirm, case_transfer
from fangzhou.registry.tests.factories import World
from fangzhou.reports.tests.helpers import busy_day, client_for

pytestmark = pytest.mark.django_db

# figure -> (id on the daily page, label in the daily Excel/PDF, column in the subdistrict Excel,
#            data-figure cell of the subdistrict page, id in the overview panel)
FIGURES = {
    "new": ("new-cases", "当日新增病例 New cases today", "新增病例 New cases", None, "ov-new-cases"),
    "total": (None, "累计病例 Cases in total", "累计病例 Total cases", None, None),
    "awaiting_transfer": (
        None,
        "待转运 Awaiting transfer",
        "待转运 Awaiting transfer",
        "awaiting_transfer",
        "ov-awaiting-transfer",
    ),
    "in_isolation": (None, "隔离中 In isolation", "隔离中 In isolation", "in_isolation", "ov-in-isolation"),
    "home_monitoring": (
        None,
        "居家健康监测 Home health monitoring",
        "居家健康监测 Home health monitoring",
        "home_monitoring",
        "ov-home-monitoring",
    ),
}


def _cases_in_every_state(world: World) -> dt.date:
    """刘洋 reported today (awaiting transfer), 张伟 transferred (in isolation), 李娜 discharged
    and in home monitoring, 王秀英 discharged long ago (closed)."""
    today = timezone.localdate()
    busy_day(world)  # 刘洋 today, a round with a positive tube, antigen reports
    zhang, _ = case_confirm(
        resident=world.resident("张伟"), report_date=today - dt.timedelta(days=4), source="staff", actor=None
    )
    case_transfer(
        case_id=zhang.pk,
        site_kind="shelter",
        site_name="世博方舱",
        transferred_on=today - dt.timedelta(days=3),
        actor=None,
    )
    li, _ = case_confirm(
        resident=world.resident("李娜"), report_date=today - dt.timedelta(days=12), source="staff", actor=None
    )
    Case.objects.filter(pk=li.pk).update(
        transferred_on=today - dt.timedelta(days=11),
        discharged_on=today - dt.timedelta(days=2),
        monitoring_until=today + dt.timedelta(days=5),
    )
    wang, _ = case_confirm(
        resident=world.resident("王秀英"), report_date=today - dt.timedelta(days=30), source="staff", actor=None
    )
    Case.objects.filter(pk=wang.pk).update(
        transferred_on=today - dt.timedelta(days=29),
        discharged_on=today - dt.timedelta(days=20),
        monitoring_until=today - dt.timedelta(days=13),
    )
    return today


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def _by_id(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}"[^>]*>\s*(\d+)', html)
    assert match, element_id
    return int(match[1])


def test_every_screen_and_file_gives_the_same_case_figures(world: World) -> None:
    today = _cases_in_every_state(world)
    expected = {"new": 1, "total": 4, "awaiting_transfer": 1, "in_isolation": 1, "home_monitoring": 1}
    secretary, officer = client_for(world.secretary), client_for(world.officer)
    day = f"?day={today.isoformat()}"

    api = secretary.get(f"/api/reports/communities/T01/daily{day}").json()["cases"]
    page = secretary.get(f"/reports/c/T01/{day}").content.decode()
    overview = secretary.get("/c/T01/").content.decode()
    sheet = load_workbook(io.BytesIO(secretary.get(f"/reports/c/T01/daily.xlsx{day}").content)).active
    assert sheet is not None
    cells = {row[1]: row[2] for row in sheet.iter_rows(values_only=True) if row and len(row) > 2}
    pdf = _pdf_text(secretary.get(f"/reports/c/T01/daily.pdf{day}").content)
    table = officer.get(f"/reports/{day}").content.decode()
    row_html = table[table.index('id="row-T01"') :].split("</tr>", 1)[0]
    book = load_workbook(io.BytesIO(officer.get(f"/reports/subdistrict.xlsx{day}").content)).active
    assert book is not None
    rows = list(book.iter_rows(values_only=True))
    header = next(r for r in rows if r and r[0] == "社区代码 Code")
    t01 = dict(zip(header, next(r for r in rows if r and r[0] == "T01"), strict=False))

    for name, (page_id, label, column, cell, overview_id) in FIGURES.items():
        want = expected[name]
        assert api[name] == want, name
        assert cells[label] == want, name
        assert re.search(rf"{re.escape(label)}\s*{want}\b", pdf), (name, pdf)
        assert t01[column] == want, name
        if page_id:
            assert _by_id(page, page_id) == want, name
        assert re.search(rf"<th>{re.escape(label.split(' ', 1)[1])}</th>|{re.escape(label.split(' ', 1)[0])}", page)
        if cell:
            assert re.search(rf'data-figure="{cell}">{want}<', row_html), name
        if overview_id:
            assert _by_id(overview, overview_id) == want, name
    # the daily page's own table rows carry the same numbers (zh labels on a zh page)
    for label_zh, want in (("待转运", 1), ("隔离中", 1), ("居家健康监测", 1), ("累计病例", 4)):
        assert re.search(rf"<th>{label_zh}</th><td class=\"n\">{want}</td>", page), label_zh


def test_the_round_figures_match_the_round_page(world: World) -> None:
    """The report's sampled / expected is the round page's total (one definition of "expected")."""
    day = busy_day(world)
    secretary = client_for(world.secretary)
    report = secretary.get("/api/reports/communities/T01/daily").json()["testing"]["round"]
    from fangzhou.testing.selectors import round_counts

    counts = round_counts(world.secretary, day.round).total
    assert (report["sampled"], report["expected"], report["missing"]) == (
        counts.sampled,
        counts.expected,
        counts.missing,
    )
    assert report["positive_tubes"] == 1
    overview = secretary.get("/c/T01/").content.decode()
    assert (
        _by_id(overview, "ov-retests")
        == secretary.get("/api/reports/communities/T01/daily").json()["testing"]["pending_retests"]
    )
