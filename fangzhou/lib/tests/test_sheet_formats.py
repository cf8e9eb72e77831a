"""Every file format a committee office has, as a real file written here: Excel's "Unicode text"
(UTF-16 with BOM, tab-separated), UTF-8 with and without BOM, GBK/GB18030, old .xls (written by
xlwt). Big5 and other text that would be read as garbage is refused with a message that names the
problem and says what to do, in Chinese and English."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import xlwt

from fangzhou.lib.importing import Columns, ImportReport, rows_check, sheet_map, sheet_read
from fangzhou.lib.sheets import ReadLimits, Sheet, UnreadableFile, read_table

HEADER = ["楼号", "室号", "姓名", "电话"]
ROWS = [
    ["3号楼", "501", "张伟", "13812345678"],
    ["3号楼", "502", "李秀英", "021-6431 8888"],
    ["3号楼", "503", "王芳", "+852 6123 4567"],
]


def _text(delimiter: str = ",", newline: str = "\n") -> str:
    return newline.join(delimiter.join(row) for row in [HEADER, *ROWS]) + newline


def _cells(sheet: Sheet) -> list[list[object]]:
    return [[c for c in cells if c not in (None, "")] for _, cells in sheet.rows]


# name, bytes, filename
READABLE = [
    (
        "Excel Unicode text (UTF-16 LE, BOM, tabs, CRLF)",
        b"\xff\xfe" + _text("\t", "\r\n").encode("utf-16-le"),
        "名单.txt",
    ),
    ("UTF-16 BE with BOM", b"\xfe\xff" + _text("\t").encode("utf-16-be"), "名单.txt"),
    ("UTF-16 LE without BOM", _text("\t").encode("utf-16-le"), "名单.txt"),
    ("UTF-8", _text().encode("utf-8"), "名单.csv"),
    ("UTF-8 with BOM", b"\xef\xbb\xbf" + _text().encode("utf-8"), "名单.csv"),
    ("GBK", _text().encode("gbk"), "名单.csv"),
    ("GB18030", _text().encode("gb18030"), "名单.csv"),
    ("tab-separated saved as .xls by a web system", _text("\t").encode("gbk"), "名单.xls"),
]


@pytest.mark.parametrize(("data", "filename"), [(d, f) for _, d, f in READABLE], ids=[n for n, _, _ in READABLE])
def test_every_text_format_reads_the_same_rows(data: bytes, filename: str) -> None:
    sheet = read_table(data, filename)
    assert _cells(sheet) == [HEADER, *ROWS]
    assert [number for number, _ in sheet.rows] == [1, 2, 3, 4]  # row numbers as Excel shows them


def test_a_gbk_roster_with_a_rare_name_character_is_still_read() -> None:
    # 喆, 堃 and 玥 are GBK, not GB 2312: a real roster has a few of them among everyday characters.
    rows = [HEADER, *ROWS, ["3号楼", "504", "陈喆", ""], ["3号楼", "505", "刘堃", ""], ["3号楼", "506", "赵玥", ""]]
    data = "\n".join(",".join(r) for r in rows).encode("gbk")
    assert _cells(read_table(data, "r.csv"))[-1] == ["3号楼", "506", "赵玥"]


TRADITIONAL = "樓號,室號,姓名,電話\n3號樓,501,張偉,13812345678\n3號樓,502,陳國華,021-64318888\n"


def _refusal(data: bytes, filename: str = "名单.csv") -> UnreadableFile:
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, filename)
    return refused.value


def test_big5_is_refused_by_name_not_read_as_gbk_garbage() -> None:
    data = TRADITIONAL.encode("big5")
    data.decode("gb18030")  # the trap: GBK "reads" these bytes without an error
    refused = _refusal(data)
    assert "Big5" in refused.zh and "乱码" in refused.zh
    assert "请另存为 UTF-8 或 Excel 格式" in refused.zh
    assert "Big5" in refused.en and "save it as UTF-8" in refused.en


UNREADABLE = [
    ("Shift-JIS", "部屋,氏名\n101,山田太郎\n102,佐藤花子\n".encode("shift_jis"), "Shift-JIS"),
    ("Latin-1", "chambre,nom\n101,Hélène Müller\n102,Françoise Lefèvre\n".encode("latin-1"), "编码"),
    ("UTF-8 read once as Latin-1 (mojibake)", _text().encode("utf-8").decode("latin-1").encode("utf-8"), "乱码"),
    ("already garbled (U+FFFD)", "楼号,室号,姓名\n3,501,\ufffd\ufffd\n".encode(), "乱码"),
    ("UTF-16 BOM over bytes that are not UTF-16", b"\xff\xfe" + b"\x00\xd8" + b"a\x00", "UTF-16"),
]


@pytest.mark.parametrize(("data", "named"), [(d, n) for _, d, n in UNREADABLE], ids=[n for n, _, _ in UNREADABLE])
def test_unreadable_text_is_refused_with_what_to_do(data: bytes, named: str) -> None:
    refused = _refusal(data)
    assert named in refused.zh
    assert "另存为 UTF-8 或 Excel 格式" in refused.zh
    assert "save it as UTF-8" in refused.en or "from the original sheet" in refused.en


def test_a_binary_file_named_csv_is_not_text() -> None:
    assert "不是文本" in _refusal(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20).zh


# --- old Excel (.xls) ---------------------------------------------------------------------------


def _xls(rows: list[list[object]], *, merge: tuple[int, int, int, int] | None = None, title: str = "") -> bytes:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("名单")
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    start = 0
    if title:
        sheet.write(0, 0, title)
        start = 1
    for r, row in enumerate(rows, start=start):
        for c, value in enumerate(row):
            if value is None or (merge and merge[0] < r <= merge[1] and merge[2] <= c <= merge[3]):
                continue
            if merge and (r, c) == (merge[0], merge[2]):
                sheet.write_merge(merge[0], merge[1], merge[2], merge[3], value)
            elif isinstance(value, dt.date):
                sheet.write(r, c, value, dates)
            else:
                sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_old_xls_reads_text_numbers_dates_and_merged_cells_with_excel_row_numbers() -> None:
    rows: list[list[object]] = [
        ["楼号", "室号", "姓名", "电话", "出生日期"],
        ["3号楼", "501", "张伟", 13812345678, dt.date(1950, 3, 1)],
        [None, "502", "李秀英", "021-6431 8888", None],  # 3号楼 merged down from the row above
        ["4号楼", 601, "王芳", "+852 6123 4567", None],
    ]
    data = _xls(rows, merge=(2, 3, 0, 0), title="华新居民区人员名单")
    assert data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a real BIFF workbook
    sheet = read_table(data, "名单.xls")
    assert sheet.name == "名单"
    by_row = dict(sheet.rows)
    assert by_row[1][0] == "华新居民区人员名单"  # the title row stays row 1
    assert by_row[2][:3] == ["楼号", "室号", "姓名"]
    assert by_row[3][:4] == ["3号楼", "501", "张伟", 13812345678]
    assert by_row[3][4] in (dt.date(1950, 3, 1), dt.datetime(1950, 3, 1))
    assert by_row[4][:3] == ["3号楼", "502", "李秀英"]  # the merged cell filled in
    assert by_row[5][:2] == ["4号楼", 601]


def test_an_xls_keeps_the_reading_limits() -> None:
    many = [["楼号", "室号", "姓名"]] + [["3", str(100 + i), "张伟"] for i in range(60)]
    data = _xls(many)
    with pytest.raises(UnreadableFile, match="行数超过"):
        read_table(data, "r.xls", ReadLimits(max_rows=50))
    with pytest.raises(UnreadableFile, match="单元格数超过"):
        read_table(data, "r.xls", ReadLimits(max_cells=100))
    columns = Columns({"name": ["姓名"], "phone": ["手机号"]}, ("name", "phone"), max_rows=1_000)
    with pytest.raises(UnreadableFile, match="表头"):  # the header check runs on the first rows
        sheet_read(data=data, filename="r.xls", columns=columns)


def test_a_damaged_xls_is_refused_with_what_to_do() -> None:
    refused = _refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "名单.xls")
    assert ".xls" in refused.zh and "另存为 .xlsx" in refused.zh and "save it as .xlsx" in refused.en


def test_a_web_page_named_xls_is_refused_with_what_to_do() -> None:
    page = "<html><body><table><tr><td>楼号</td></tr></table></body></html>".encode()
    refused = _refusal(page, "导出.xls")
    assert "网页" in refused.zh and "web page" in refused.en


def test_bad_rows_of_an_xls_are_reported_one_by_one_and_good_rows_kept() -> None:
    columns = Columns({"room": ["室号"], "name": ["姓名"]}, ("room", "name"), max_rows=1_000)
    data = _xls([["室号", "姓名"], ["501", "张伟"], ["", "李娜"], ["503", "王芳"]])
    report = ImportReport()
    mapped = sheet_map(read_table(data, "r.xls"), columns, report)

    def parse(row: object) -> str | None:
        cells = row.cells  # type: ignore[attr-defined]
        if not cells.get("room"):
            row.reject("room", "室号为空", "room is empty")  # type: ignore[attr-defined]
            return None
        return str(cells["name"])

    assert rows_check(mapped, parse, report) == ["张伟", "王芳"]
    assert [(r.row, r.column) for r in report.rejected] == [(3, "room")]
