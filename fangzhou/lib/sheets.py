"""Read the rows of a spreadsheet the way Excel numbers them, safely.

Shared by every import (rosters, lab results, samples, cases, group purchases) through
:mod:`fangzhou.lib.importing`: .xlsx, old .xls (python-calamine), and text: CSV or Excel's
"Unicode text" (UTF-16 with BOM, tab-separated), UTF-8 with or without BOM, GBK/GB18030. Text is
decoded strictly in a fixed order and checked to read as Chinese, so a Big5 or otherwise foreign
file is refused with what to do instead of being read as garbage (:func:`decode_text`). Hostile
files are refused before they are parsed: a size cap, a cap on the uncompressed size and
compression ratio of an .xlsx (zip bombs), the rows an .xls declares, and a clear message for a
file that is not a spreadsheet at all.
No Django imports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from fangzhou.lib.errors import Refused

# One cell as openpyxl or the CSV reader hands it over.
Cell = str | int | float | dt.date | dt.datetime | None

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 120
MAX_ROWS = 300_000
MAX_COLUMNS = 80
MAX_CELLS = 6_000_000
READ_SECONDS = 30.0
MERGE_FILL_LIMIT_BYTES = 3 * 1024 * 1024
HEADER_PROBE_ROWS = 10
MAX_MERGE_FILL_ROWS = 10_000


@dataclass(frozen=True)
class ReadLimits:
    """How much of a sheet one kind of import may read before it is refused, checked while reading:
    rows, cells and seconds; and a header check run on the first rows, so a file of junk is refused
    within the first rows instead of after all of them."""

    max_rows: int = MAX_ROWS
    max_cells: int = MAX_CELLS
    seconds: float = READ_SECONDS
    header_check: Callable[[Sheet], object] | None = None


def _too_many_rows(limit: int) -> UnreadableFile:
    return UnreadableFile(
        f"行数超过此类导入的上限 {limit}，请分成几个文件",
        f"more than {limit} rows for this kind of import; split the file",
    )


class _Budget:
    """Counts rows and cells as they are read and stops the read when a limit is passed.

    Keeps only the first rows (for the header check); the time counted is the reader's own, not
    what a caller streaming the rows does between them."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.cells = 0
        self.spent = 0.0
        self.top: list[tuple[int, list[Cell]]] = []
        self.probed = limits.header_check is None

    def add(self, index: int, cells: list[Cell], name: str = "") -> None:
        if index > self.limits.max_rows:
            raise _too_many_rows(self.limits.max_rows)
        self.cells += len(cells)
        if self.cells > self.limits.max_cells:
            raise UnreadableFile(
                f"单元格数超过上限 {self.limits.max_cells}", f"more than {self.limits.max_cells} cells; split the file"
            )
        if not self.probed:
            self.top.append((index, cells))
            if len(self.top) >= HEADER_PROBE_ROWS:
                self.probe(name)
        if index % 1000 == 0 and self.spent > self.limits.seconds:
            raise UnreadableFile(
                f"文件读取超过 {self.limits.seconds:.0f} 秒，已停止；请检查文件或分成几个文件",
                f"reading the file took more than {self.limits.seconds:.0f} s and was stopped; check or split it",
            )

    def probe(self, name: str = "") -> None:
        """Run the header check on the rows read so far (once)."""
        if not self.probed and self.limits.header_check is not None:
            self.probed = True
            self.limits.header_check(Sheet(list(self.top), name))
            self.top = []


def _checked(
    rows: Iterable[tuple[int, list[Cell]]], limits: ReadLimits, name: str = ""
) -> Iterator[tuple[int, list[Cell]]]:
    """``rows`` passed through the budget of ``limits``, one at a time."""
    budget = _Budget(limits)
    clock = time.monotonic
    t = clock()
    for index, cells in rows:
        budget.spent += clock() - t
        budget.add(index, cells, name)
        yield index, cells
        t = clock()
    budget.probe(name)


class UnreadableFile(Refused):
    """The file cannot be read at all (as opposed to a bad row)."""


@dataclass
class Sheet:
    """Rows as (row number as Excel shows it, cells)."""

    rows: list[tuple[int, list[Cell]]]
    name: str = ""


@dataclass
class Header:
    row: int
    columns: dict[str, int]  # canonical key -> column index
    ignored: list[str] = field(default_factory=list)


def read_table(data: bytes, filename: str, limits: ReadLimits | None = None) -> Sheet:
    """The first sheet's rows, refused as soon as a limit of ``limits`` is passed."""
    name, rows = _open_table(data, filename, limits or ReadLimits())
    return Sheet(list(rows), name)


def iter_table(data: bytes, filename: str, limits: ReadLimits | None = None) -> Iterator[tuple[int, list[Cell]]]:
    """The first sheet's rows one at a time, with every check of :func:`read_table`, none of them kept:
    a CSV is decoded and split as it is read, a large workbook streamed (openpyxl read-only)."""
    _, rows = _open_table(data, filename, limits or ReadLimits())
    return rows


def _open_table(data: bytes, filename: str, limits: ReadLimits) -> tuple[str, Iterator[tuple[int, list[Cell]]]]:
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"文件过大（{len(data) // 1024 // 1024} MB），上限 {MAX_FILE_BYTES // 1024 // 1024} MB",
            f"file too large ({len(data) // 1024 // 1024} MB); the limit is {MAX_FILE_BYTES // 1024 // 1024} MB",
        )
    if not data.strip():
        raise UnreadableFile("文件是空的", "the file is empty")
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return _read_xlsx(data, limits)
    if data[:8] == OLE2_MAGIC:
        xls = _read_xls(data, limits)  # the format itself stops at 65,536 rows: read whole
        return xls.name, iter(xls.rows)
    if lower.endswith(".xls"):
        # Many web systems export an "Excel" file that is a web page or tab-separated text.
        head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if head.startswith((b"<", b"\xff\xfe<", b"\xfe\xff\x00<")):
            raise UnreadableFile(
                "这个 .xls 文件其实是网页格式，请在 Excel 中打开后另存为 Excel 工作簿（.xlsx）",
                "this .xls file is really a web page; open it in Excel and save it as an Excel workbook (.xlsx)",
            )
        return "", _read_csv(data, limits)
    if lower.endswith((".csv", ".txt", ".tsv")) or not lower.rpartition(".")[1]:
        return "", _read_csv(data, limits)
    raise UnreadableFile(
        "只支持 .xlsx、.xls 和 .csv（或 Unicode 文本）文件",
        "only .xlsx, .xls and .csv (or Unicode text) files can be read",
    )


# --- text files -------------------------------------------------------------------------------

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old Excel (.xls, BIFF) workbook
_SAVE_AS = "请另存为 UTF-8 或 Excel 格式（.xlsx）后重新上传"
_SAVE_AS_EN = "save it as UTF-8 text or as an Excel workbook (.xlsx) and upload it again"
# A line of text a committee writes: CJK ideographs from GB 2312 (the 6,763 everyday characters),
# CJK and full-width punctuation, and a few marks names and notes use. GBK's rarer characters,
# kana, Cyrillic and box drawing appear in a roster only when the bytes were read with the wrong
# encoding (Big5 read as GBK puts them on almost every line).
_PLAUSIBLE_SHARE = 0.9


def _plausible_char(ch: str) -> bool:
    code = ord(ch)
    if 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E or ch in "·—…‘’“”、《》【】℃×÷±":
        return True
    if 0x4E00 <= code <= 0x9FFF:
        try:
            return len(ch.encode("gb2312")) == 2
        except UnicodeEncodeError:
            return False
    return False


def _plausible_chinese(content: str) -> bool:
    """Whether decoded text reads as Chinese a committee writes (see ``_PLAUSIBLE_SHARE``): at least
    nine in ten of its characters beyond ASCII are everyday ones. Sampled over the first 64 KB."""
    sample = [ch for ch in content[:65536] if ord(ch) > 0x7F and not ch.isspace()]
    if not sample:
        return True
    plausible = sum(1 for ch in sample if _plausible_char(ch))
    return plausible >= _PLAUSIBLE_SHARE * len(sample)


def _mojibake(content: str) -> bool:
    """UTF-8 Chinese that was once read as Latin-1/Windows-1252 and saved again ("å¼ ä¸‰" for 张三)."""
    latin = re.findall(r"[\u00c0-\u00ff][\u0080-\u00bf\u0152-\u02dc\u2013-\u2122]{1,3}", content[:65536])
    if len(latin) < 2:
        return False
    for chunk in latin[:20]:
        for codec in ("cp1252", "latin-1"):
            try:
                if any("\u4e00" <= ch <= "\u9fff" for ch in chunk.encode(codec).decode("utf-8")):
                    return True
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    return False


def _unreadable_text(name: tuple[str, str] | None) -> UnreadableFile:
    if name:
        return UnreadableFile(
            f"文件编码是 {name[0]}，读出来会是乱码，已拒绝；{_SAVE_AS}",
            f"the file is encoded in {name[1]} and would be read as garbled text, so it was refused; {_SAVE_AS_EN}",
        )
    return UnreadableFile(
        f"无法识别文件的文字编码（不是 UTF-8、UTF-16 或 GBK），读出来会是乱码，已拒绝；{_SAVE_AS}",
        f"the file's text encoding is not UTF-8, UTF-16 or GBK and it would be read as garbled text, "
        f"so it was refused; {_SAVE_AS_EN}",
    )


def _utf16_without_bom(data: bytes, high: int) -> bool:
    """UTF-16 without a byte-order mark: the digits, commas, tabs and line ends of a sheet put a 0
    in every high byte (odd bytes for little-endian), and text never has a 0 in the low byte."""
    sample = data[:4096]
    if len(sample) < 8:
        return False
    highs, lows = sample[high::2], sample[1 - high :: 2]
    return highs.count(0) >= 0.25 * len(highs) and lows.count(0) == 0


def decode_text(data: bytes) -> str:
    """The text of a CSV or "Unicode text" file, decoded strictly in a fixed order, never guessed
    into garbage: a byte-order mark (UTF-8, UTF-16 LE/BE: Excel's "Unicode text"), else UTF-16
    without one when every other byte is 0, else UTF-8, else GB18030 (which reads GBK and GB 2312)
    when what it reads is plausible Chinese. A Big5 (traditional) file, Latin-1, Shift-JIS, a file
    of "����" or of UTF-8 mojibake is refused with what to do instead."""
    if data.startswith(b"\xef\xbb\xbf"):
        attempts: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        attempts = ("utf-16",)
    elif _utf16_without_bom(data, 1):
        attempts = ("utf-16-le",)
    elif _utf16_without_bom(data, 0):
        attempts = ("utf-16-be",)
    else:
        attempts = ("utf-8", "gb18030")
    for encoding in attempts:
        try:
            content = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding in ("gb18030", "utf-16-le", "utf-16-be") and not _plausible_chinese(content):
            break
        if "\ufffd" in content[:65536] or _mojibake(content):
            raise UnreadableFile(
                f"文件中的文字已经是乱码（例如 � 或 å¼ ä¸‰），无法读取；请用原始表格重新导出：{_SAVE_AS}",
                "the text in the file is already garbled (such as � or å¼ ä¸‰); "
                f"from the original sheet, {_SAVE_AS_EN}",
            )
        if "\x00" in content[:4096]:
            raise UnreadableFile("这不是文本表格文件", "this is not a text spreadsheet (CSV) file")
        return content.lstrip("\ufeff")
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):  # a byte-order mark the bytes do not honour
        bom = attempts[0].removesuffix("-sig").upper()
        raise _unreadable_text((bom, bom))
    if b"\x00" in data[:4096]:
        raise UnreadableFile("这不是文本表格文件", "this is not a text spreadsheet (CSV) file")
    raise _unreadable_text(_other_encoding(data))


def _other_encoding(data: bytes) -> tuple[str, str] | None:
    """Which encoding a refused file most likely is, in Chinese and English (None: unknown)."""
    known = (("big5", "Big5（繁体中文）", "Big5 (traditional Chinese)"), ("shift_jis", "Shift-JIS", "Shift-JIS"))
    for codec, zh, en in known:
        try:
            data[:65536].decode(codec)
        except UnicodeDecodeError:
            continue
        return zh, en
    return None


def _read_csv(data: bytes, limits: ReadLimits) -> Iterator[tuple[int, list[Cell]]]:
    content = decode_text(data)
    sample = content[:4096]
    delimiter = ","
    counts = {d: sample.count(d) for d in (",", "\t", ";")}
    if counts["\t"] > counts[","] or (counts[","] == 0 and max(counts.values()) > 0):
        delimiter = max(counts, key=lambda d: counts[d])
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for index, row in enumerate(reader, start=1):
                yield index, list(row[:MAX_COLUMNS])
        except csv.Error as exc:
            raise UnreadableFile(f"CSV 格式错误：{exc}", f"CSV format error: {exc}") from exc

    return _checked(rows(), limits)


# --- old Excel (.xls) ---------------------------------------------------------------------------


def _xls_cell(value: object) -> Cell:
    if value == "" or value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str | int | float | dt.date | dt.datetime):
        return value
    return str(value)  # a time or a duration: kept as text


def _xlsx_cell(value: object) -> Cell:
    """A cell of a workbook read by python-calamine as openpyxl hands it over (what every importer
    and the roster's row digests were written for): a whole number as an int, a date as a datetime
    at midnight, an empty cell as None, a time or a duration as it is, anything else as text."""
    if value == "" or value is None:
        return None
    if type(value) is str or type(value) is int or type(value) is bool:
        return value  # a bool, as openpyxl gives it
    if type(value) is float:
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)  # noqa: DTZ001 - naive, as openpyxl reads it
    if isinstance(value, dt.datetime | dt.time | dt.timedelta):
        return value  # type: ignore[return-value]  # a time or a duration, as openpyxl gives it
    return str(value)


def _read_xls(data: bytes, limits: ReadLimits) -> Sheet:
    """An old Excel workbook (BIFF, .xls) through python-calamine, under the same limits as the
    others: the file's size was checked before (20 MB; the format itself stops at 65,536 rows and
    256 columns), the rows the sheet declares are checked before any row is handed on, then rows,
    cells, time and the header as they are read."""
    try:
        return _read_calamine(data, limits, _xls_cell, trim=False)
    except _CalamineCannot as exc:
        raise UnreadableFile(
            "无法读取旧版 Excel（.xls）文件（文件损坏、有密码或格式不对）；请在 Excel 中另存为 .xlsx",
            "the old Excel (.xls) file cannot be read (damaged, password-protected or not a workbook); "
            "save it as .xlsx in Excel",
        ) from exc.__cause__


class _CalamineCannot(Exception):
    """python-calamine could not open the workbook."""


def _read_calamine(data: bytes, limits: ReadLimits, cell: Callable[[object], Cell], *, trim: bool) -> Sheet:
    """The first sheet of a workbook python-calamine reads (.xls, a small .xlsx), merged cells filled,
    each cell through ``cell``; with ``trim``, each row without the empty cells after its last one."""
    from python_calamine import CalamineWorkbook  # imported lazily, like openpyxl

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        worksheet = book.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own kinds and ValueError on broken files
        raise _CalamineCannot from exc
    try:
        # Rows come from the first (row numbers kept); columns from the first used one (padded back).
        _, first_col = worksheet.start or (0, 0)
        last_row, _ = worksheet.end or (0, 0)
        if last_row + 1 > limits.max_rows:
            raise _too_many_rows(limits.max_rows)
        # Merged cells take the value of their top-left cell (read before the rows below it).
        spans: dict[int, list[tuple[int, int, int]]] = {}  # row -> (first col, last col, top row)
        for (r0, c0), (r1, c1) in worksheet.merged_cell_ranges or []:
            if r1 - r0 <= MAX_MERGE_FILL_ROWS:
                for r in range(r0, r1 + 1):
                    spans.setdefault(r, []).append((c0, min(c1, MAX_COLUMNS - 1), r0))
        collected: list[tuple[int, list[Cell]]] = []
        name = worksheet.name or ""
        pad: list[Cell] = [None] * first_col
        seen: dict[int, list[Cell]] = {}  # the rows that hold a merged range's top-left value
        tops = {top for row_spans in spans.values() for _, _, top in row_spans}
        if trim and not spans and not first_col:
            # The common sheet (no merged cells, from the first column): each row's cells made in
            # one pass, a text cell (most of a roster) as it is.
            collected = _plain_rows(worksheet.iter_rows(), cell)
            if sum(map(len, (cells for _, cells in collected))) <= limits.max_cells:
                if limits.header_check is not None:  # rows checked above, cells here: the header is left
                    limits.header_check(Sheet(collected[:HEADER_PROBE_ROWS], name))
                return Sheet(collected, name)
            return Sheet(list(_checked(collected, limits, name)), name)  # refused where the rows pass it
        for row, values in enumerate(worksheet.iter_rows()):
            cells = (pad + [cell(v) for v in values])[:MAX_COLUMNS]
            if row in tops:
                seen[row] = list(cells)
            for c0, c1, top in spans.get(row, ()):
                value = seen.get(top, [])[c0] if c0 < len(seen.get(top, [])) else None
                for c in range(c0, min(c1 + 1, len(cells))):
                    if cells[c] is None:
                        cells[c] = value
            collected.append((row + 1, _trimmed(cells) if trim else cells))
        # Rows, cells, time and the header checked as for the other formats.
        return Sheet(list(_checked(collected, limits, name)), name)
    finally:
        book.close()


def _plain_rows(rows: Iterable[Sequence[object]], cell: Callable[[object], Cell]) -> list[tuple[int, list[Cell]]]:
    """Each row numbered from 1, its cells through ``cell`` (a non-empty text as it is), without the
    empty cells after its last one and at most ``MAX_COLUMNS`` of them."""
    out: list[tuple[int, list[Cell]]] = []
    append = out.append
    for number, values in enumerate(rows, start=1):
        append((number, _trimmed([v if v.__class__ is str and v else cell(v) for v in values[:MAX_COLUMNS]])))
    return out


def _trimmed(cells: list[Cell]) -> list[Cell]:
    """``cells`` without the empty cells after the last one (the rows of one sheet read the same
    however wide the sheet or the read: an import's row digests are of these cells)."""
    end = len(cells)
    while end and cells[end - 1] is None:
        end -= 1
    if end < len(cells):
        del cells[end:]
    return cells


# --- Excel (.xlsx) ------------------------------------------------------------------------------


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnreadableFile(
            "文件不是有效的 Excel（.xlsx）文件", "the file is not a valid Excel (.xlsx) workbook"
        ) from None
    with archive:
        names = archive.namelist()
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
            raise UnreadableFile("文件不是有效的 Excel（.xlsx）文件", "the file is not a valid Excel (.xlsx) workbook")
        total = sum(info.file_size for info in archive.infolist())
        packed = max(1, sum(info.compress_size for info in archive.infolist()))
        if total > MAX_UNCOMPRESSED_BYTES or (total > 10 * 1024 * 1024 and total / packed > MAX_RATIO):
            raise UnreadableFile(
                "文件解压后过大，疑似压缩炸弹，已拒绝", "the workbook expands to an unsafe size (zip bomb); refused"
            )


def _open_workbook(data: bytes, *, read_only: bool) -> Any:
    import openpyxl  # imported lazily: the CSV path and the pure tests do not need it

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=read_only, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on broken files
        raise UnreadableFile(
            "无法读取 Excel 文件（文件损坏或格式不对）", "the Excel file cannot be read (damaged or wrong format)"
        ) from exc


def _probe_xlsx(data: bytes, limits: ReadLimits) -> None:
    """Before any full read: the rows the sheet declares, and the header among its first rows."""
    workbook = _open_workbook(data, read_only=True)
    try:
        worksheet = workbook.worksheets[0]
        declared = worksheet.max_row  # from the sheet's <dimension>, not counted
        if isinstance(declared, int) and declared > limits.max_rows:
            raise _too_many_rows(limits.max_rows)
        if limits.header_check is not None:
            top = list(worksheet.iter_rows(values_only=True, max_col=MAX_COLUMNS, max_row=HEADER_PROBE_ROWS))
            limits.header_check(Sheet([(i, list(r)) for i, r in enumerate(top, start=1)], worksheet.title or ""))
    finally:
        workbook.close()


def _sheets_mention(data: bytes, *needles: bytes) -> bool:
    """Whether any worksheet's XML of the (checked) workbook holds one of ``needles``: a look for
    the bytes, without parsing it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with archive.open(info) as part:
                    tail = b""
                    while chunk := part.read(1 << 20):
                        if any(needle in tail + chunk for needle in needles):
                            return True
                        tail = chunk[-16:]
    return False


def _has_merges(data: bytes) -> bool:
    """Whether any worksheet declares merged cells."""
    return _sheets_mention(data, b"<mergeCell", b":mergeCell")


def _has_error_cells(data: bytes) -> bool:
    """Whether any worksheet holds an error cell (#N/A …): python-calamine reads one as empty,
    openpyxl as its text, which a column's check refuses."""
    return _sheets_mention(data, b't="e"', b"t='e'")


def _read_xlsx(data: bytes, limits: ReadLimits) -> tuple[str, Iterator[tuple[int, list[Cell]]]]:
    _check_zip(data)
    _probe_xlsx(data, limits)
    if len(data) <= MERGE_FILL_LIMIT_BYTES and not _has_error_cells(data):
        # A small workbook is read whole by python-calamine (ten times openpyxl's speed: 0.06 s
        # against 0.6 s for a roster of 6,500 rows), its cells as openpyxl gives them; a file it
        # cannot read, or with an error cell, goes to openpyxl as before.
        try:
            whole = _read_calamine(data, limits, _xlsx_cell, trim=True)
        except UnreadableFile:
            raise  # a limit passed, or no header: refused, whoever reads it
        except Exception:  # noqa: S110 - calamine's own kinds on a workbook it cannot read
            pass
        else:
            return whole.name, iter(whole.rows)
    # A small workbook with merged cells is loaded whole so that they can be filled in; any other is
    # streamed (openpyxl's read-only mode: the whole load was slower by a third, and unneeded).
    small = len(data) <= MERGE_FILL_LIMIT_BYTES and _has_merges(data)
    workbook = _open_workbook(data, read_only=not small)
    worksheet = workbook.worksheets[0]
    name = worksheet.title or ""
    # Loaded whole, the sheet knows its width: asking for MAX_COLUMNS made a cell for every column
    # up to it on every row (80 cells a row: 2.3 s for a roster of 6,500 rows, 0.05 s at its width).
    # Streamed, its declared width may be wrong: rows are read up to MAX_COLUMNS, as before.
    width = min(MAX_COLUMNS, worksheet.max_column or MAX_COLUMNS) if small else MAX_COLUMNS

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            fills: dict[tuple[int, int], Cell] = {}
            if small:
                for merged in list(worksheet.merged_cells.ranges):
                    top = worksheet.cell(merged.min_row, merged.min_col).value
                    for r in range(merged.min_row, merged.max_row + 1):
                        for c in range(merged.min_col, merged.max_col + 1):
                            fills[(r, c)] = top
            for index, values in enumerate(worksheet.iter_rows(values_only=True, max_col=width), start=1):
                cells: list[Cell] = list(values)
                if fills:
                    for c in range(len(cells)):
                        if cells[c] is None and (index, c + 1) in fills:
                            cells[c] = fills[(index, c + 1)]
                yield index, _trimmed(cells)
        finally:
            workbook.close()

    return name, _checked(rows(), limits, name)


def header_key(value: Cell) -> str:
    raw = "" if value is None else unicodedata.normalize("NFKC", str(value))
    raw = raw.strip().lower().replace(" ", "").replace("*", "").replace("（必填）", "").replace("(必填)", "")
    return raw


def find_header(
    sheet: Sheet, aliases: Mapping[str, Iterable[str]], *, required: Iterable[str], scan: int = 10
) -> Header:
    """Find the header row among the first rows: the one that names the most known columns."""
    lookup: dict[str, str] = {}
    for key, names in aliases.items():
        lookup[header_key(key)] = key
        for name in names:
            lookup[header_key(name)] = key
    best: Header | None = None
    for number, cells in sheet.rows[:scan]:
        columns: dict[str, int] = {}
        ignored: list[str] = []
        for index, cell in enumerate(cells):
            found = lookup.get(header_key(cell))
            if found and found not in columns:
                columns[found] = index
            elif cell not in (None, ""):
                ignored.append(str(cell))
        if best is None or len(columns) > len(best.columns):
            best = Header(number, columns, ignored)
    missing = [key for key in required if best is None or key not in best.columns]
    if best is None or missing:
        wanted = ", ".join(missing)
        raise UnreadableFile(
            f"在前 {scan} 行找不到表头，缺少列：{wanted}", f"no header row in the first {scan} rows; missing: {wanted}"
        )
    return best


def data_rows(sheet: Sheet, header: Header) -> Iterator[tuple[int, dict[str, Cell]]]:
    """Rows below the header as {canonical key: cell}; blank rows are skipped."""
    for number, cells in sheet.rows:
        if number <= header.row or row_blank(cells):
            continue
        yield number, row_mapped(cells, header)


def row_blank(cells: Sequence[Cell]) -> bool:
    """Whether a row has nothing in it (every cell empty or only spaces): left out of the data."""
    for c in cells:  # a loop, not all(…): most rows stop at their first cell, without a generator
        if c is None or (isinstance(c, str) and not c.strip()):
            continue
        return False
    return True


def row_mapped(cells: Sequence[Cell], header: Header) -> dict[str, Cell]:
    """One row's cells as {canonical key: cell} (None where the row is shorter than the header)."""
    n = len(cells)
    return {key: (cells[i] if i < n else None) for key, i in header.columns.items()}


def read_upload(stream: IO[bytes], limit: int = MAX_FILE_BYTES) -> bytes:
    """Read an upload without ever holding more than the limit (+1 byte) in memory."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(
            f"文件过大，上限 {limit // 1024 // 1024} MB", f"file too large; the limit is {limit // 1024 // 1024} MB"
        )
    return data
