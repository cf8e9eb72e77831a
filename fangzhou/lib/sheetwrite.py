"""The one way a workbook or CSV leaves the system: every text cell escaped against formula injection.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, WPS and LibreOffice (and openpyxl itself stores ``"=…"`` as a formula). A resident's note,
a volunteer's name or an item of a group purchase is typed by someone; opened by the secretary, a
formula could fetch a URL with the sheet's contents. Every export goes through this module, which
prefixes such text with an apostrophe (shown as text, and read back unchanged by our importer).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Value = str | int | float | dt.date | dt.datetime | None

BOLD = Font(bold=True)


def safe_cell(value: Any) -> Any:
    """The value as it may be written: text that a spreadsheet would run as a formula is escaped."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SheetWriter:
    """A workbook of one or more sheets, written row by row."""

    def __init__(self, title: str) -> None:
        self.book = Workbook()
        sheet = self.book.active
        assert sheet is not None
        self.sheet: Worksheet = sheet
        self.sheet.title = title[:31]

    def add_sheet(self, title: str) -> Worksheet:
        self.sheet = self.book.create_sheet(title[:31])
        return self.sheet

    def heading(self, text: str, *, size: int = 14) -> None:
        self.sheet.append([safe_cell(text)])
        self.sheet.cell(row=self.sheet.max_row, column=1).font = Font(bold=True, size=size)

    def row(
        self,
        values: Sequence[Value],
        *,
        bold: bool = False,
        fill: str | None = None,
        wrap: Iterable[int] = (),
        text: bool = False,
    ) -> None:
        """Append one row. ``fill`` is a hex colour; ``wrap`` the 0-based columns to wrap;
        ``text`` stores every cell as text (ID numbers and phones never become floats)."""
        self.sheet.append([safe_cell(v) for v in values])
        cells = self.sheet[self.sheet.max_row]
        pattern = PatternFill("solid", fgColor=fill) if fill else None
        wrapped = set(wrap)
        for index, cell in enumerate(cells):
            if bold:
                cell.font = BOLD
            if pattern is not None:
                cell.fill = pattern
            if index in wrapped:
                cell.alignment = Alignment(wrap_text=True)
            if text:
                cell.number_format = "@"

    def header(self, values: Sequence[str]) -> None:
        self.row(values, bold=True)

    def widths(self, widths: Sequence[float]) -> None:
        for index, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.book.save(out)
        return out.getvalue()


def csv_text(rows: Iterable[Sequence[Value]]) -> str:
    """Rows as CSV text, each text cell escaped like a workbook's."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def import_template(
    title: str, aliases: Mapping[str, Sequence[str]], required: Sequence[str], example: Mapping[str, Value]
) -> bytes:
    """An import's template: its Chinese headers (each column's first heading) in the order the
    importer lists them, one example row, and a second sheet saying which columns must be filled."""
    sheet = SheetWriter(title)
    keys = list(aliases)
    sheet.header([aliases[k][0] for k in keys])
    sheet.row([example.get(k, "") for k in keys], text=True)
    sheet.widths([max(12.0, 2.2 * len(str(aliases[k][0]))) for k in keys])
    sheet.add_sheet("说明 Notes")
    sheet.row(["列 Column", "必填 Required", "也认得 Also read as"], bold=True)
    for k in keys:
        sheet.row([aliases[k][0], "是 yes" if k in required else "", "、".join(str(a) for a in aliases[k][1:])])
    sheet.row([])
    sheet.row(["第 2 行是示例，请替换或删除 / row 2 is an example: replace or delete it"])
    return sheet.to_bytes()
