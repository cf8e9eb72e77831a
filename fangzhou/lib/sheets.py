"""Read the rows of a spreadsheet the way Excel numbers them, safely.

Shared by every import (rosters, lab results, samples, cases, group purchases) through
:mod:`fangzhou.lib.importing`: .xlsx and .csv (UTF-8, UTF-8 with BOM, GBK/GB18030). Hostile files
are refused before they are parsed: a size cap, a cap on the uncompressed size and compression
ratio of an .xlsx (zip bombs), and a clear message for a file that is not a spreadsheet at all.
No Django imports.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    if lower.endswith(".xls"):
        raise UnreadableFile(
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx",
            "old .xls files are not supported; save the file as .xlsx in Excel",
        )
    if lower.endswith((".csv", ".txt", ".tsv")) or not lower.rpartition(".")[1]:
        return "", _read_csv(data, limits)
    raise UnreadableFile("只支持 .xlsx 和 .csv 文件", "only .xlsx and .csv files can be read")


def _csv_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030, checked over the whole file a megabyte at a time."""
    view = memoryview(data)
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(view), 1 << 20):
                decoder.decode(view[start : start + (1 << 20)])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnreadableFile(  # pragma: no cover - gb18030 decodes almost anything
        "无法识别文件编码（请用 UTF-8 或 GBK）", "unknown text encoding (use UTF-8 or GBK)"
    )


def _read_csv(data: bytes, limits: ReadLimits) -> Iterator[tuple[int, list[Cell]]]:
    if b"\x00" in data[:4096]:
        raise UnreadableFile("这不是文本表格文件", "this is not a text spreadsheet (CSV) file")
    encoding = _csv_encoding(data)
    sample = data[:16384].decode(encoding, errors="ignore")[:4096]
    delimiter = ","
    counts = {d: sample.count(d) for d in (",", "\t", ";")}
    if counts[","] == 0 and max(counts.values()) > 0:
        delimiter = max(counts, key=lambda d: counts[d])
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for index, row in enumerate(reader, start=1):
                yield index, list(row[:MAX_COLUMNS])
        except csv.Error as exc:
            raise UnreadableFile(f"CSV 格式错误：{exc}", f"CSV format error: {exc}") from exc

    return _checked(rows(), limits)


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


def _read_xlsx(data: bytes, limits: ReadLimits) -> tuple[str, Iterator[tuple[int, list[Cell]]]]:
    _check_zip(data)
    _probe_xlsx(data, limits)
    # A small workbook is loaded whole so that merged cells can be filled in; a large one is streamed.
    small = len(data) <= MERGE_FILL_LIMIT_BYTES
    workbook = _open_workbook(data, read_only=not small)
    worksheet = workbook.worksheets[0]
    name = worksheet.title or ""

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            fills: dict[tuple[int, int], Cell] = {}
            if small:
                for merged in list(worksheet.merged_cells.ranges):
                    top = worksheet.cell(merged.min_row, merged.min_col).value
                    for r in range(merged.min_row, merged.max_row + 1):
                        for c in range(merged.min_col, merged.max_col + 1):
                            fills[(r, c)] = top
            for index, values in enumerate(worksheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
                cells: list[Cell] = list(values)
                if fills:
                    for c in range(len(cells)):
                        if cells[c] is None and (index, c + 1) in fills:
                            cells[c] = fills[(index, c + 1)]
                yield index, cells
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
        if number <= header.row:
            continue
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        yield number, {key: (cells[i] if i < len(cells) else None) for key, i in header.columns.items()}


def read_upload(stream: IO[bytes], limit: int = MAX_FILE_BYTES) -> bytes:
    """Read an upload without ever holding more than the limit (+1 byte) in memory."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(
            f"文件过大，上限 {limit // 1024 // 1024} MB", f"file too large; the limit is {limit // 1024 // 1024} MB"
        )
    return data
