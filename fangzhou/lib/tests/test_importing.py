"""The import pipeline on tiny hand-made sheets: headers, rejections, kept rows, counts."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from fangzhou.lib import sheets
from fangzhou.lib.importing import (
    CellError,
    Columns,
    ImportReport,
    Rejection,
    Row,
    chunks,
    rows_check,
    sheet_map,
    sheet_read,
)
from fangzhou.lib.sheets import Cell, Sheet, UnreadableFile, read_table

COLUMNS = Columns({"room": ("室号", "房号"), "name": ("姓名",), "age": ("年龄",)}, required=("room", "name"))


def sheet(*rows: list[Cell]) -> Sheet:
    return Sheet([(number, list(cells)) for number, cells in enumerate(rows, start=1)])


def age(value: Cell) -> int | None:
    if value in (None, ""):
        return None
    try:
        years = int(str(value))
    except ValueError:
        raise CellError(f"年龄「{value}」不是整数", f"age {value!r} is not a whole number") from None
    if not 0 <= years <= 130:
        raise CellError(f"年龄「{years}」不合理", f"age {years} is not plausible")
    return years


def room(value: Cell) -> str:
    text = str(value or "").strip()
    if not text.isdigit():
        raise CellError(f"室号「{text}」无法识别", f"room {text!r} not understood")
    return text


def parse(row: Row) -> tuple[int, str, str, int | None]:
    """Every column checked, so a row reports each of its bad cells."""
    name = str(row.get("name") or "").strip()
    if not name:
        row.reject("name", "姓名为空", "name is empty")
    return row.number, row.check("room", room) or "", name, row.check("age", age)


def test_header_found_below_a_title_row_with_aliases_and_unknown_columns() -> None:
    report = ImportReport()
    mapped = sheet_map(
        sheet(["三号楼住户名单 2022-04"], ["房号", "姓名（必填）", "备注", "AGE"], ["101", "张伟", "", "30"]),
        COLUMNS,
        report,
    )
    assert mapped.header.row == report.header_row == 2
    assert mapped.header.columns == {"room": 0, "name": 1, "age": 3}  # a key is a heading too, in any case
    assert report.ignored_columns == ["备注"]
    assert mapped.present == {"room", "name", "age"}
    assert mapped.rows == [(3, {"room": "101", "name": "张伟", "age": "30"})]


def test_missing_required_column_refuses_the_file_and_names_it() -> None:
    with pytest.raises(UnreadableFile) as refused:
        sheet_map(sheet(["室号", "年龄"], ["101", "30"]), COLUMNS, ImportReport())
    assert "name" in refused.value.zh and "missing: name" in refused.value.en


def test_a_row_with_two_bad_columns_gives_two_rejections_and_good_rows_are_kept() -> None:
    report = ImportReport()
    mapped = sheet_map(
        sheet(
            ["室号", "姓名", "年龄"],
            ["101", "张伟", "30"],
            ["一零二", "李娜", "abc"],  # row 3: two bad cells
            [None, None, None],  # row 4: blank, skipped
            ["103", "", "200"],  # row 5: two bad cells, one of them an explicit reject
            ["104", "王芳", ""],
        ),
        COLUMNS,
        report,
    )
    good = rows_check(mapped, parse, report)
    assert good == [(2, "101", "张伟", 30), (6, "104", "王芳", None)]
    assert [(r.row, r.column) for r in report.rejected] == [(3, "room"), (3, "age"), (5, "name"), (5, "age")]
    assert report.rejected[0] == Rejection(3, "room", "室号「一零二」无法识别", "room '一零二' not understood")
    assert report.rejected[0].reason == "室号「一零二」无法识别 / room '一零二' not understood"
    assert report.rows_read == 4  # the blank row is not read as data


def test_a_rejected_row_is_dropped_even_when_parse_returns_it_and_none_keeps_nothing() -> None:
    report = ImportReport()
    mapped = sheet_map(sheet(["室号", "姓名"], ["101", "张伟"], ["102", "李娜"], ["103", "王芳"]), COLUMNS, report)

    def only_new(row: Row) -> str | None:
        if row.get("room") == "101":
            report.count("unchanged")  # already there: counted, not kept
            return None
        if row.get("room") == "102":
            row.reject("room", "重复", "duplicate")
        return str(row.get("name"))

    assert rows_check(mapped, only_new, report) == ["王芳"]
    assert (report.unchanged, len(report.rejected), report.rows_read) == (1, 1, 3)


def test_report_counts_and_dicts_in_row_order() -> None:
    report = ImportReport()
    report.count("created", 2)
    report.count("updated")
    report.reject(9, "name", "姓名为空", "name is empty")
    report.reject(4, "room", "室号为空", "room is empty")
    assert report.record() == {
        "created": 2,
        "updated": 1,
        "unchanged": 0,
        "rejected": [
            {
                "row": 4,
                "column": "room",
                "reason": "室号为空 / room is empty",
                "reason_zh": "室号为空",
                "reason_en": "room is empty",
            },
            {
                "row": 9,
                "column": "name",
                "reason": "姓名为空 / name is empty",
                "reason_zh": "姓名为空",
                "reason_en": "name is empty",
            },
        ],
    }
    out = report.as_dict()
    assert set(out) == {
        "created",
        "updated",
        "unchanged",
        "rejected",
        "rows_read",
        "header_row",
        "ignored_columns",
        "dry_run",
        "import_id",
    }
    assert report.rejected[0]["row"] == 9 and report.rejected[0]["reason_en"] == "name is empty"


def test_sheet_read_reads_gbk_csv_with_excel_row_numbers_and_refuses_no_file() -> None:
    data = "室号,姓名\n101,张伟\n\n102,李娜\n".encode("gb18030")
    report = ImportReport()
    rows = rows_check(sheet_map(sheet_read(data=data, filename="名单.csv"), COLUMNS, report), parse, report)
    assert [(number, name) for number, _, name, _ in rows] == [(2, "张伟"), (4, "李娜")]
    given = sheet(["室号", "姓名"])
    assert sheet_read(data=None, filename="x.xlsx", sheet=given) is given
    with pytest.raises(UnreadableFile):
        sheet_read(data=None, filename="x.xlsx")


def test_xlsx_merged_cells_fill_every_row_they_cover() -> None:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    for values in (["室号", "姓名"], ["101", "张伟"], [None, "李娜"]):
        ws.append(values)
    ws.merge_cells("A2:A3")  # one room written once for the two people in it
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = ImportReport()
    rows = rows_check(sheet_map(sheet_read(data=buffer.getvalue(), filename="r.xlsx"), COLUMNS, report), parse, report)
    assert [(number, r, name) for number, r, name, _ in rows] == [(2, "101", "张伟"), (3, "101", "李娜")]


@pytest.mark.parametrize("calamine", [True, False], ids=["calamine", "openpyxl, when calamine cannot read it"])
@pytest.mark.parametrize("merged", [False, True], ids=["no merged cells", "merged cells"])
def test_xlsx_rows_are_read_as_written_without_the_empty_cells_after_the_last(
    merged: bool, calamine: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not calamine:  # openpyxl: streamed, or loaded whole for its merged cells

        def cannot(*args: object, **kwargs: object) -> None:
            raise RuntimeError("calamine cannot read this workbook")

        monkeypatch.setattr(sheets, "_read_calamine", cannot)
    written: list[list[Cell]] = [
        ["室号", "姓名", None, "备注"],
        ["101", "张伟", 3, None],  # the last cell empty
        ["102", None, None, "老人", None, None, None, "右边很远的一格"],  # a cell far right of the header
        ["103", "李娜"],
    ]
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    for values in written:
        ws.append(values)
    ws.append(["标题"] if merged else [])
    if merged:
        ws.merge_cells("A5:B5")
    buffer = io.BytesIO()
    workbook.save(buffer)
    read = sheet_read(data=buffer.getvalue(), filename="r.xlsx").rows
    expected = [list(row) for row in written]
    expected[1] = ["101", "张伟", 3]
    assert read[:4] == [(n, cells) for n, cells in enumerate(expected, start=1)]
    assert read[4:] == ([(5, ["标题", "标题"])] if merged else [])


def test_a_small_xlsx_read_by_calamine_gives_the_cells_openpyxl_gives() -> None:
    """A small workbook is read by python-calamine: every kind of cell as openpyxl hands it over
    (what the importers and the roster's row digests were written for)."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws.append(["室号", "姓名", "数", "日期"])
    ws["B3"] = "张伟"  # row 2 empty, column A empty: row numbers and columns as Excel shows them
    ws["C3"] = 3
    ws["D3"] = 3.5
    ws["E3"] = True
    ws["F3"] = dt.datetime(2022, 4, 1)
    ws["G3"] = dt.datetime(2022, 4, 1, 8, 30)
    ws["H3"] = dt.time(8, 30)
    ws["I3"] = 13812345678
    ws["J3"] = "=1+2"  # a formula never calculated: no cached value
    ws["K3"] = " 101 "
    ws["A4"] = "102"
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    loaded = openpyxl.load_workbook(io.BytesIO(data), data_only=True).worksheets[0]
    expected = []
    for number, values in enumerate(loaded.iter_rows(values_only=True), start=1):
        cells = list(values)
        while cells and cells[-1] is None:
            cells.pop()
        expected.append((number, cells))
    read = read_table(data, "r.xlsx").rows
    assert read == expected
    assert [type(c) for c in read[2][1]] == [type(c) for c in expected[2][1]]


def test_an_xlsx_error_cell_is_read_as_its_text() -> None:
    """#N/A from a look-up formula is text a column's check refuses, never an empty cell."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws.append(["室号", "姓名", "电话"])
    ws.append(["101", "张伟", "#N/A"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read_table(buffer.getvalue(), "r.xlsx").rows[1] == (2, ["101", "张伟", "#N/A"])


def test_chunks_cover_every_item_once() -> None:
    assert [list(c) for c in chunks(list(range(5)), size=2)] == [[0, 1], [2, 3], [4]]
