"""One import pipeline for every spreadsheet the committee uploads.

Read the sheet (:mod:`fangzhou.lib.sheets`: size caps, zip bombs, encodings, Excel row numbers),
map its header row to the importer's columns, check every data row, collect each problem as a
:class:`Rejection` (row, column, reason in Chinese and English), and count what the write did in
one :class:`ImportReport`. An importer declares its :class:`Columns`, a function that checks one
:class:`Row`, and its write; the write is set-based and goes through the importer's services::

    report = ImportReport()
    sheet = sheet_map(sheet_read(data=data, filename=filename), COLUMNS, report)
    good = rows_check(sheet, parse, report)   # every bad row reported, every good row kept
    write(good, report)                       # report.count("created") …

Nothing here imports an app.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from fangzhou.lib.errors import Refused
from fangzhou.lib.sheets import (
    MAX_ROWS,
    Cell,
    Header,
    ReadLimits,
    Sheet,
    UnreadableFile,
    data_rows,
    find_header,
    iter_table,
    read_table,
    row_blank,
    row_mapped,
)

T = TypeVar("T")
Outcome = Literal["created", "updated", "unchanged"]


class CellError(Refused):
    """A cell that cannot be accepted, with the reason in Chinese and English."""


@dataclass(frozen=True)
class Rejection:
    """One reason a row was not imported: the row as Excel numbers it, the column, why."""

    row: int
    column: str
    reason_zh: str
    reason_en: str

    @property
    def reason(self) -> str:
        return f"{self.reason_zh} / {self.reason_en}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }

    def __getitem__(self, key: str) -> Any:
        """Read a rejection like the dict it is stored and sent as (``r["row"]``)."""
        return self.as_dict()[key]


@dataclass(frozen=True)
class Columns:
    """What an importer reads: each column's key and the headings it goes by, and which must be there.

    A column's key is itself always accepted as a heading."""

    aliases: Mapping[str, Sequence[str]]
    required: tuple[str, ...]
    scan: int = 10  # the header row is looked for among this many top rows (a title may sit above)
    max_rows: int = MAX_ROWS  # more rows than this kind of file ever has: refused while reading

    def read_limits(self) -> ReadLimits:
        """Reading limits for this kind of sheet: its row cap, and its header looked for in the first rows."""

        def header_check(top: Sheet) -> None:
            find_header(top, self.aliases, required=self.required, scan=self.scan)

        return ReadLimits(max_rows=self.max_rows, header_check=header_check)


@dataclass
class ImportReport:
    """What one import did: counts of written rows, every rejection, and how the sheet was read."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    rows_read: int = 0
    header_row: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    import_id: int | None = None

    def reject(self, row: int, column: str, zh: str, en: str) -> None:
        self.rejected.append(Rejection(row, column, zh, en))

    def count(self, outcome: Outcome, n: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)

    def rejections(self) -> list[dict[str, Any]]:
        """The rejections as stored and sent: plain dicts, in row order."""
        return [r.as_dict() for r in sorted(self.rejected, key=lambda r: r.row)]

    def record(self) -> dict[str, Any]:
        """The fields an import record keeps (``RosterImport``, ``GroupPurchaseImport`` …)."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejections(),
        }

    def counts(self) -> dict[str, int]:
        """The counts an import's audit row keeps (never a cell's value)."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "rows_read": self.rows_read,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.record(),
            "rows_read": self.rows_read,
            "header_row": self.header_row,
            "ignored_columns": self.ignored_columns,
            "dry_run": self.dry_run,
            "import_id": self.import_id,
        }


class Row:
    """One data row while it is checked: its cells by column key and every problem found so far.

    ``check`` runs a cell checker and turns its :class:`CellError` into a rejection of that column,
    so one pass reports every bad column of the row; ``reject`` records any other problem. A row
    with a rejection is dropped whatever the parse function returns."""

    __slots__ = ("cells", "number", "rejections")

    def __init__(self, number: int, cells: Mapping[str, Cell]) -> None:
        self.number = number
        self.cells = cells
        self.rejections: list[Rejection] = []

    def get(self, column: str) -> Cell:
        return self.cells.get(column)

    def check(self, column: str, checker: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return checker(self.cells.get(column), *args, **kwargs)
        except CellError as exc:
            self.reject(column, exc.zh, exc.en)
            return None

    def reject(self, column: str, zh: str, en: str) -> None:
        self.rejections.append(Rejection(self.number, column, zh, en))


@dataclass
class MappedSheet:
    """The data rows below the header, as {column key: cell}, blank rows left out."""

    header: Header
    rows: list[tuple[int, dict[str, Cell]]]

    @property
    def present(self) -> set[str]:
        """The columns the sheet has."""
        return set(self.header.columns)

    def values(self, column: str) -> Iterator[Cell]:
        """One column down the sheet, to look up what the rows name in one query."""
        return (cells.get(column) for _, cells in self.rows)


@dataclass
class MappedStream:
    """The data rows below the header as they are read, never all held: a large import takes them a
    chunk at a time (:meth:`chunks`), looks up what a chunk names in one query per kind, checks and
    keeps only what it needs of each row."""

    header: Header
    rows: Iterator[tuple[int, dict[str, Cell]]]

    @property
    def present(self) -> set[str]:
        return set(self.header.columns)

    def chunks(self, size: int = 5000) -> Iterator[MappedSheet]:
        """The rows ``size`` at a time, each slice a :class:`MappedSheet` for :func:`rows_check`."""
        while batch := list(itertools.islice(self.rows, size)):
            yield MappedSheet(self.header, batch)


def sheet_stream(*, data: bytes | None, filename: str, columns: Columns, report: ImportReport) -> MappedStream:
    """An uploaded file's data rows mapped to ``columns``, read as they are asked for (the limits of
    :meth:`Columns.read_limits` still apply; the header is found among the first rows)."""
    if data is None:
        raise UnreadableFile("没有文件", "no file given")
    rows = iter_table(data, filename, columns.read_limits())
    top = list(itertools.islice(rows, columns.scan))
    header = find_header(Sheet(top), columns.aliases, required=columns.required, scan=columns.scan)
    report.header_row = header.row
    report.ignored_columns = header.ignored
    return MappedStream(header, data_rows(Sheet(itertools.chain(top, rows)), header))  # type: ignore[arg-type]


def rows_stream(rows: Iterable[Mapping[str, Cell]], columns: Columns, report: ImportReport) -> MappedStream:
    """:func:`rows_map` as a stream: posted rows go through the same chunked checks as a file."""
    keys = set(columns.aliases)
    header = Header(row=0, columns={key: i for i, key in enumerate(columns.aliases)})
    report.header_row = 0
    return MappedStream(header, ((n, {k: v for k, v in row.items() if k in keys}) for n, row in enumerate(rows, 1)))


def sheet_read(
    *, data: bytes | None, filename: str, sheet: Sheet | None = None, columns: Columns | None = None
) -> Sheet:
    """The sheet given, else the file read (refused with :class:`UnreadableFile` if it cannot be).

    With ``columns``, reading stops early: a file without the header in its first rows, or with more
    rows than this kind of import ever has, is refused within seconds instead of after every row."""
    if sheet is not None:
        return sheet
    if data is None:
        raise UnreadableFile("没有文件", "no file given")
    return read_table(data, filename, columns.read_limits() if columns is not None else None)


def sheet_map(sheet: Sheet, columns: Columns, report: ImportReport) -> MappedSheet:
    """Find the header row and map it to ``columns``; a missing required column refuses the file."""
    header = sheet_header(sheet, columns, report)
    return MappedSheet(header, list(data_rows(sheet, header)))


def rows_map(rows: Sequence[Mapping[str, Cell]], columns: Columns, report: ImportReport) -> MappedSheet:
    """Rows a machine client posted (JSON objects keyed by the columns' keys) as a mapped sheet, so
    that they go through the same row checks and write as an uploaded file; row ``n`` is the n-th
    object (from 1). Keys that are not columns are ignored."""
    keys = set(columns.aliases)
    header = Header(row=0, columns={key: i for i, key in enumerate(columns.aliases)})
    report.header_row = 0
    return MappedSheet(header, [(n, {k: v for k, v in row.items() if k in keys}) for n, row in enumerate(rows, 1)])


def rows_check(sheet: MappedSheet, parse: Callable[[Row], T | None], report: ImportReport) -> list[T]:
    """Check every row with ``parse``: a row with rejections is reported and dropped, every other
    row ``parse`` returns is kept (``None`` keeps nothing, e.g. a row that is already there)."""
    good: list[T] = []
    for number, cells in sheet.rows:
        _row_check(number, cells, parse, report, good)
    return good


def _row_check(
    number: int, cells: Mapping[str, Cell], parse: Callable[[Row], T | None], report: ImportReport, good: list[T]
) -> None:
    report.rows_read += 1
    row = Row(number, cells)
    parsed = parse(row)
    if row.rejections:
        report.rejected.extend(row.rejections)
    elif parsed is not None:
        good.append(parsed)


def sheet_header(sheet: Sheet, columns: Columns, report: ImportReport) -> Header:
    """:func:`sheet_map`'s header alone, the rows left as they were read (for
    :func:`rows_check_known`)."""
    header = find_header(sheet, columns.aliases, required=columns.required, scan=columns.scan)
    report.header_row = header.row
    report.ignored_columns = header.ignored
    return header


def rows_check_known(
    sheet: Sheet,
    header: Header,
    known: Callable[[int, Sequence[Cell]], bool],
    parse: Callable[[Row], T | None],
    report: ImportReport,
) -> list[T]:
    """:func:`rows_check` of the data rows below ``header`` (as :func:`sheet_map` maps them), where
    a row that ``known(number, cells)`` answers True for, given its cells as read, is counted read
    and left there before it is mapped to columns or a :class:`Row` is made for it (a re-import of
    rows already imported and still as they were: most of a re-import). Rows go to ``known`` and
    ``parse`` in sheet order; blank rows to neither."""
    good: list[T] = []
    for number, cells in sheet.rows:
        if number <= header.row or row_blank(cells):
            continue
        if known(number, cells):
            report.rows_read += 1
            continue
        _row_check(number, row_mapped(cells, header), parse, report, good)
    return good


def chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """Slices for ``__in`` look-ups and bulk writes that stay under the database's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rejected_rows_workbook(
    *, data: bytes, filename: str, columns: Columns, rejections: Sequence[Mapping[str, Any]]
) -> bytes | None:
    """Exactly the rows an import sent back, as the file had them (its own header row, every cell)
    with a reason column, to fix and upload again; None when no data row was sent back.

    The importers are idempotent, so the second upload takes the fixed rows and leaves the rows
    already imported as they are."""
    from fangzhou.lib.sheetwrite import SheetWriter

    reasons: dict[int, list[str]] = {}
    for r in rejections:
        if int(r.get("row") or 0) > 0:
            reasons.setdefault(int(r["row"]), []).append(str(r.get("reason", "")))
    if not reasons:
        return None
    sheet = sheet_read(data=data, filename=filename, columns=columns)
    header = find_header(sheet, columns.aliases, required=columns.required, scan=columns.scan)
    head = next((cells for number, cells in sheet.rows if number == header.row), [])
    out = SheetWriter("退回的行 Rejected")
    width = max([len(head), *(len(cells) for number, cells in sheet.rows if number in reasons)])
    out.header([*(str(c) if c is not None else "" for c in head), *[""] * (width - len(head)), "退回原因 Reason"])
    for number, cells in sheet.rows:
        if number in reasons:
            values = [c if isinstance(c, str | int | float) or c is None else str(c) for c in cells]
            out.row([*values, *[None] * (width - len(values)), "；".join(reasons[number])], text=True)
    return out.to_bytes()
