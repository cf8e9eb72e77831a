"""Each chart drawn in Chromium at a phone's and a desk's width, from the JSON its table shares:
a canvas with something painted on it, and the table's numbers equal to the JSON's. The site plan
slider re-colours the plan; the big screen draws its curve and refreshes in place."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.reports.tests.helpers import busy_day
from fangzhou.zones.siteplan_io import site_plan_import
from tests.browser.conftest import shot, sign_in

WIDE = {"width": 1366, "height": 900}
CHARTS = {
    "cases": "#chart-cases [data-chart=cases]",
    "antigen": "#chart-antigen [data-chart=antigen]",
    "pcr": "#chart-pcr [data-chart=pcr]",
    "orders": "#chart-orders [data-chart=orders]",
    "ages": "#chart-orders [data-chart=ages]",
}

# How many pixels of the chart's canvas are painted (not transparent): a drawn chart has many.
PAINTED = """(sel) => {
  const c = document.querySelector(sel + ' canvas');
  if (!c) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""

# The JSON the chart drew, fetched again in the page with the page's own session.
JSON = "async (sel) => (await fetch(document.querySelector(sel).dataset.src)).json()"

# A table's body as numbers: one list per row, the row header left out.
TABLE = """(name) => [...document.querySelectorAll(`table[data-table="${name}"] tbody tr`)].map(
  tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))"""


@pytest.fixture
def live_world(transactional_db: None) -> World:
    world = build_world()
    plan = [{"building": "3号楼", "x": 20, "y": 20}, {"building": "5号楼", "x": 60, "y": 20}]
    site_plan_import(
        community=world.community, document={"compounds": [{"name": "阳光小区", "buildings": plan}]}, actor=None
    )
    busy_day(world)
    case_confirm(
        resident=world.resident("张伟"),
        report_date=timezone.localdate() - dt.timedelta(days=2),
        source="district",
        actor=world.secretary,
    )
    return world


def _columns(data: dict[str, Any], keys: list[list[str]]) -> list[list[str]]:
    """The JSON as the table shows it: one row per day, the series' values in the table's order."""
    series = [data[k[0]] if len(k) == 1 else data[k[0]][int(k[1])] for k in keys]
    return [[str(s["values"][i]) for s in series] for i in range(len(data["days"]))]


def _walk(page: Any, base: str, width_name: str) -> None:
    sign_in(page, base, "sec", PASSWORD)
    page.goto(f"{base}/reports/c/T01/charts/?days=14")
    for name, sel in CHARTS.items():
        page.wait_for_selector(f"{sel}[data-rendered]")
        assert page.evaluate(PAINTED, sel) > 500, name
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

    cases = page.evaluate(JSON, CHARTS["cases"])
    order = [["total"], *[["by_source", str(i)] for i in range(len(cases["by_source"]))]]
    order += [["by_place", str(i)] for i in range(len(cases["by_place"]))]
    assert page.evaluate(TABLE, "cases") == _columns(cases, order)
    assert sum(cases["total"]["values"]) == 2
    assert page.inner_text("#curve-days-without-case") == str(cases["days_without_case"])

    antigen = page.evaluate(JSON, CHARTS["antigen"])
    rows = page.evaluate(TABLE, "antigen")
    assert rows == [
        [
            str(antigen["reported"]["values"][i]),
            str(antigen["positive"]["values"][i]),
            str(antigen["rate"]["values"][i]),
        ]
        for i in range(len(antigen["days"]))
    ]
    assert rows[-1][0] == "2"

    pcr = page.evaluate(JSON, CHARTS["pcr"])
    pcr_rows = [[*row[:-1], float(row[-1])] for row in page.evaluate(TABLE, "pcr")]
    assert pcr_rows == [
        [
            str(r["sampled"]),
            str(r["missing"]),
            str(r["exempt"]),
            f"{r['tubes_resulted']} / {r['tubes']}",
            str(r["positive_tubes"]),
            float(r["positivity"]),
        ]
        for r in pcr["rounds"]
    ]

    orders = page.evaluate(JSON, CHARTS["orders"])
    assert page.evaluate(TABLE, "orders") == _columns(orders, [["opened"], ["done"], ["deliveries"]])
    assert page.evaluate(TABLE, "ages") == [[str(a["value"])] for a in orders["ages"]]

    # The site plan: the slider goes back before the first case and the compound turns back.
    page.wait_for_selector("[data-plan-series][data-painted]")
    sealed = page.get_attribute("#chart-plan polygon.bldg", "fill")
    page.evaluate("""() => { const s = document.querySelector('[data-plan-slider]'); s.value = 0;
      s.dispatchEvent(new Event('input')); }""")
    assert page.get_attribute("#chart-plan polygon.bldg", "fill") != sealed
    page.check("input[name=plan-mode][value=since]")
    assert page.is_visible("[data-legend=since]") and not page.is_visible("[data-legend=zone]")
    shot(page, f"charts-{width_name}")


def test_every_chart_on_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    _walk(phone, live_server.url, "phone")


def test_every_chart_at_a_desk(live_server: Any, browser: Any, live_world: World) -> None:
    context = browser.new_context(viewport=WIDE, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        _walk(page, live_server.url, "desk")
    finally:
        context.close()


@pytest.mark.parametrize(
    "size", [{"width": 1920, "height": 1080}, {"width": 390, "height": 844}], ids=["wall", "phone"]
)
def test_the_big_screen_draws_and_refreshes_in_place(
    live_server: Any, browser: Any, live_world: World, size: dict[str, int], settings: Any
) -> None:
    settings.FANGZHOU_SCREEN_REFRESH_S = 2
    context = browser.new_context(viewport=size, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in(page, live_server.url, "officer", PASSWORD)
        sid = live_world.community.subdistrict_id
        page.goto(f"{live_server.url}/reports/s/{sid}/screen/")
        sel = "#screen-curve [data-chart=cases]"
        page.wait_for_selector(f"{sel}[data-rendered]")
        assert page.evaluate(PAINTED, sel) > 500
        assert page.inner_text("#row-T01 [data-figure=new]") == "1"
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        page.evaluate("document.querySelector('#screen-body').dataset.old = '1'")
        # A new case arrives; the screen shows it without a reload (the marked element is replaced).
        case_confirm(
            resident=live_world.resident("王秀英"),
            report_date=timezone.localdate(),
            source="pooled_pcr",
            actor=live_world.secretary,
        )
        expect(page.locator("#row-T01 [data-figure=new]")).to_have_text("2", timeout=15000)
        assert page.evaluate("document.querySelector('#screen-body').dataset.old") is None
        page.wait_for_selector(f"{sel}[data-rendered]")
        assert page.evaluate(PAINTED, sel) > 500
        shot(page, f"big-screen-{size['width']}")
    finally:
        context.close()
