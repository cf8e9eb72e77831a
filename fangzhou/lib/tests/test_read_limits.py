"""Reading a sheet is bounded by rows, cells and time, and a file without its header is refused
within its first rows: an honest-looking file of 290,000 junk rows no longer holds a worker."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from fangzhou.lib.importing import Columns, sheet_read
from fangzhou.lib.sheets import ReadLimits, UnreadableFile, read_table

COLUMNS = Columns({"name": ["姓名"], "room": ["室号"]}, ("name", "room"), max_rows=1_000)


def _junk_csv(rows: int, *, poison_at_end: bool) -> bytes:
    lines = [f"{i},junk,{i * 7}" for i in range(rows)]
    if poison_at_end:
        # A field longer than the csv module allows: reading this far would fail with "CSV format error".
        lines.append("x," + "y" * 200_000)
    return "\n".join(lines).encode()


def test_a_file_of_junk_is_refused_on_its_first_rows_not_after_all_of_them() -> None:
    data = _junk_csv(290_000, poison_at_end=True)
    with pytest.raises(UnreadableFile) as refused:
        sheet_read(data=data, filename="roster.csv", columns=COLUMNS)
    assert "找不到表头" in refused.value.zh and "no header row" in refused.value.en  # not "CSV format error"


def test_more_rows_than_the_kind_allows_is_refused_with_the_limit() -> None:
    data = ("姓名,室号\n" + "\n".join(f"张{i},{100 + i}" for i in range(1_500))).encode()
    with pytest.raises(UnreadableFile) as refused:
        sheet_read(data=data, filename="roster.csv", columns=COLUMNS)
    assert "1000" in refused.value.zh and "split the file" in refused.value.en
    # The same file within the kind's limit is read whole.
    sheet = sheet_read(data=data, filename="roster.csv", columns=Columns(COLUMNS.aliases, COLUMNS.required))
    assert len(sheet.rows) == 1_501


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _claim_dimension(data: bytes, ref: str) -> bytes:
    """The same workbook whose sheet claims to span ``ref`` (its <dimension>)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), content)
            target.writestr(item, content)
    return out.getvalue()


def test_a_workbook_declaring_too_many_rows_is_refused_before_a_row_is_read() -> None:
    small = _xlsx([["姓名", "室号"], ["张三", "101"]])
    big = _claim_dimension(small, "A1:B5000000")  # says five million rows; reading them would take minutes
    with pytest.raises(UnreadableFile) as refused:
        read_table(big, "roster.xlsx", ReadLimits(max_rows=100_000))
    assert "100000" in refused.value.zh
    assert len(read_table(small, "roster.xlsx", ReadLimits(max_rows=10)).rows) == 2


def test_a_workbook_without_its_header_is_refused_on_the_first_rows() -> None:
    data = _xlsx([["备注", "x"], *([["junk", i] for i in range(50)])])
    with pytest.raises(UnreadableFile) as refused:
        sheet_read(data=data, filename="roster.xlsx", columns=COLUMNS)
    assert "no header row" in refused.value.en


def test_cells_are_capped_too() -> None:
    data = "\n".join(",".join(["v"] * 50) for _ in range(300)).encode()
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "wide.csv", ReadLimits(max_cells=10_000))
    assert "单元格" in refused.value.zh and "cells" in refused.value.en


def test_a_workbooks_cells_are_capped_and_a_workbook_under_the_cap_is_read_whole() -> None:
    rows = [
        ["姓名", "室号", *[f"列{i}" for i in range(48)]],
        *[["张三", str(100 + i), *["v"] * 48] for i in range(299)],
    ]
    data = _xlsx(rows)
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "wide.xlsx", ReadLimits(max_cells=10_000))
    assert "单元格" in refused.value.zh and "cells" in refused.value.en
    sheet = read_table(data, "wide.xlsx", ReadLimits(max_cells=15_000))
    assert len(sheet.rows) == 300 and sheet.rows[-1] == (300, ["张三", "398", *["v"] * 48])


def test_a_read_that_runs_past_its_time_is_stopped() -> None:
    data = "\n".join(f"{i},a,b" for i in range(5_000)).encode()
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "slow.csv", ReadLimits(seconds=-1.0))  # already past its deadline at row 1,000
    assert "秒" in refused.value.zh and "was stopped" in refused.value.en
