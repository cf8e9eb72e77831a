"""Roster import: parse every row, report each bad one, write every good one in one transaction.

The roster's columns and its set-based write; reading, header mapping, row checking and the report
are the shared pipeline's (:mod:`fangzhou.lib.importing`)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from fangzhou.accounts.audit import AuditAction, audit_record, audit_record_many, audit_row, masked
from fangzhou.accounts.models import AuditLog, User
from fangzhou.lib.bulk import rows_copy
from fangzhou.lib.db import analyze
from fangzhou.lib.importing import (
    CellError,
    Columns,
    ImportReport,
    Row,
    chunks,
    rows_check_known,
    sheet_header,
    sheet_read,
)
from fangzhou.lib.sheets import Cell, Sheet
from fangzhou.registry.models import (
    Building,
    Community,
    Compound,
    Grid,
    Household,
    Resident,
    ResidentTransfer,
    RosterImport,
)
from fangzhou.registry.namekeys import name_search_key
from fangzhou.registry.roster import normalize as nz

ROSTER_ALIASES: dict[str, tuple[str, ...]] = {
    "compound": ("小区", "小区名称", "小区名"),
    "building": ("楼号", "楼栋", "楼栋号", "楼", "栋号"),
    "room": ("室号", "房号", "门牌", "门牌号", "房间号", "室"),
    "name": ("姓名", "名字"),
    "id_type": ("证件类型",),
    "id_number": ("身份证号", "证件号码", "身份证号码", "证件号"),
    "sex": ("性别",),
    "birth_date": ("出生日期", "出生年月日", "生日"),
    "phone": ("手机号", "联系电话", "手机号码", "电话", "手机"),
    "resident_type": ("人员类型", "人口类型"),
    "special": ("特殊人群", "特殊关爱", "特殊情况"),
    "note": ("备注",),
    "grid": ("网格", "片区", "网格片区"),
}
REQUIRED = ("building", "room", "name")
# A community has 3,000–7,000 residents; a subdistrict's whole roster stays under 60,000 rows.
COLUMNS = Columns(ROSTER_ALIASES, REQUIRED, max_rows=60_000)
ELSEWHERE_ZH = "此人已登记在其他社区，请联系街道办理迁移"
ELSEWHERE_EN = "this person is registered in another community; ask the subdistrict to transfer them"
# Resident fields an import may set, each tied to the column that carries it.
FIELD_COLUMNS = {
    "name": "name",
    "id_type": "id_type",
    "id_number": "id_number",
    "sex": "sex",
    "birth_date": "birth_date",
    "phone": "phone",
    "phone_kind": "phone",
    "resident_type": "resident_type",
    "special": "special",
    "note": "note",
}
SENSITIVE = {"id_number": nz.mask_id, "phone": nz.mask_phone}
# A roster names the same few compounds, buildings and rooms thousands of times: their (pure)
# checks are remembered by cell value (a bad cell raises again each time: errors are not cached).
_compound_name = functools.lru_cache(maxsize=4096, typed=True)(nz.compound_name)
_building_number = functools.lru_cache(maxsize=4096, typed=True)(nz.building_number)
_room_number = functools.lru_cache(maxsize=4096, typed=True)(nz.room_number)
# The columns of a new resident's row, in the order the import builds it.
RESIDENT_COLUMNS = [
    "community_id",
    "household_id",
    *FIELD_COLUMNS,
    "search_key",
    "roster_digest",
    "created_at",
    "updated_at",
]
FIELDS = tuple(FIELD_COLUMNS)
DIGEST_BYTES = 12  # Resident.roster_digest, as hex: the cells the last import read


@dataclass(slots=True)
class RosterRow:
    row: int
    compound: str
    building: str
    room: str
    name: str
    id_type: str = ""
    id_number: str = ""
    sex: str = ""
    birth_date: dt.date | None = None
    phone: str = ""  # E.164
    phone_kind: str = ""  # mobile / landline
    resident_type: str = ""
    special: str = ""
    note: str = ""
    grid: str = ""
    digest: str = ""  # of the row's cells as read (see _Known)

    def values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FIELD_COLUMNS}

    def fields(self) -> tuple[Any, ...]:
        """:meth:`values` as a tuple, in the order of ``FIELDS``."""
        return (
            self.name,
            self.id_type,
            self.id_number,
            self.sex,
            self.birth_date,
            self.phone,
            self.phone_kind,
            self.resident_type,
            self.special,
            self.note,
        )


def parse_row(row: Row, *, today: dt.date, area: str = nz.DEFAULT_AREA_CODE) -> RosterRow | None:
    """Check one row. Pure: returns the clean row, or None with every reason kept on ``row``.
    ``area`` is the community's area code, for a landline written without one."""
    check = row.check
    get = row.cells.get
    reject = row.reject
    # The cells of every row are checked as row.check would, written out (a call less per cell):
    # a CellError becomes that column's rejection, and the other columns are still checked.
    compound = _compound_name(get("compound"))
    building: str | None = None
    room: str | None = None
    name: str | None = None
    try:
        building = _building_number(get("building"))
    except CellError as exc:
        reject("building", exc.zh, exc.en)
    try:
        room = _room_number(get("room"))
    except CellError as exc:
        reject("room", exc.zh, exc.en)
    try:
        name = nz.person_name(get("name"))
    except CellError as exc:
        reject("name", exc.zh, exc.en)
    # A blank optional cell is its column's empty value: no checker to call (most cells of a roster).
    value = get("sex")
    sex = "" if value is None or value == "" else check("sex", nz.sex)
    value = get("birth_date")
    birth_date = None if value is None or value == "" else check("birth_date", nz.birth_date, today=today)
    value = get("phone")
    found_phone = None
    if value is not None and value != "":
        try:
            found_phone = nz.phone_number(value, area=area)
        except CellError as exc:
            reject("phone", exc.zh, exc.en)
    value = get("resident_type")
    resident_type = "" if value is None or value == "" else check("resident_type", nz.resident_type)
    value = get("special")
    special = "" if value is None or value == "" else check("special", nz.special)
    value = get("note")
    note = "" if value is None or value == "" else check("note", nz.note)
    value = get("grid")
    grid = "" if value is None or value == "" else check("grid", _compound_name)
    value = get("id_type")
    kind = "" if value is None or value == "" else check("id_type", nz.id_type)
    raw_number = get("id_number")
    compact_number = nz.compact(raw_number)
    has_number = compact_number != "" or isinstance(raw_number, int | float)
    id_type = id_number = ""
    if has_number and kind is not None:
        if not kind:
            guess = compact_number.upper()
            kind = "resident_id" if len(guess) == 18 or isinstance(raw_number, int | float) else ""
            if not kind:
                reject("id_type", "请填写证件类型", "the document type is missing for this number")
        if kind == "resident_id":
            facts = None
            try:
                facts = nz.resident_id(raw_number, today=today)
            except CellError as exc:
                reject("id_number", exc.zh, exc.en)
            if facts is not None:
                id_number = facts.number
                if sex and sex != facts.sex:
                    reject("sex", "性别与身份证号不符", "sex does not match the ID number")
                if birth_date and birth_date != facts.birth_date:
                    reject("birth_date", "出生日期与身份证号不符", "birth date does not match the ID number")
                sex = facts.sex
                birth_date = facts.birth_date
        elif kind:
            id_number = check("id_number", functools.partial(nz.other_document, kind)) or ""
        id_type = kind or ""
    elif kind:
        id_type = kind
    if row.rejections:
        return None
    return RosterRow(
        row.number,
        compound,
        building,  # type: ignore[arg-type]  # not None: a None came with a rejection
        room,  # type: ignore[arg-type]
        name,  # type: ignore[arg-type]
        id_type,
        id_number,
        sex,  # type: ignore[arg-type]
        birth_date,
        found_phone.e164 if found_phone else "",
        found_phone.kind if found_phone else "",
        resident_type,  # type: ignore[arg-type]
        special,  # type: ignore[arg-type]
        note,  # type: ignore[arg-type]
        grid,  # type: ignore[arg-type]
    )


@dataclass
class RosterReport(ImportReport):
    """An import's report, plus how many people registered elsewhere were sent to the subdistrict."""

    transfers_requested: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "transfers_requested": self.transfers_requested}


def parse_sheet(
    sheet: Sheet, *, today: dt.date, area: str = nz.DEFAULT_AREA_CODE, known: _Known | None = None
) -> tuple[list[RosterRow], RosterReport, set[str]]:
    """Every good row of the roster, the report with every bad one, and the columns present.

    With ``known`` (what the community holds now), a row whose cells are exactly those the last
    import read for a resident who is still as that import left them is counted unchanged without
    being parsed again (a no-op re-import's cost was in parsing every row); it still takes part in
    the checks for duplicates within the file."""
    report = RosterReport()
    header = sheet_header(sheet, COLUMNS, report)
    seen_doc: dict[tuple[str, str], int] = {}
    seen_place: dict[tuple[str, str, str, str], int] = {}
    # A row's digest is of its cells as read (row_digest), salted with where each column is in the
    # sheet and the community's area code: the same cells under the same header are the same row.
    salt = repr((area, sorted(header.columns.items())))
    compound_at = header.columns.get("compound", -1)
    unchanged = known.unchanged if known is not None else {}
    claimed = known.claimed if known is not None else {}
    one_compound = known is not None and len(known.compounds) == 1
    rooms = known.rooms() if known is not None else {}

    digests: dict[int, str] = {}  # row number → its cells' digest, for the rows parsed

    def skipped(number: int, cells: Sequence[Cell]) -> bool:
        digest = row_digest(salt, cells)
        hit = unchanged.get(digest)
        if hit is None or hit[0] in claimed:
            digests[number] = digest
            return False
        pk, household_id, name, id_type, id_number = hit
        building, room = rooms[household_id]
        compound = _compound_name(cells[compound_at] if 0 <= compound_at < len(cells) else None)
        doc = (id_type, id_number)
        place = (compound, building, room, name)
        # Parsed in full: an empty compound (filled in only while the community has one), or a
        # repeat of an earlier row, to be reported as the duplicate it is.
        if (
            (not compound and not one_compound)
            or (id_number and doc in seen_doc)
            or (not id_number and place in seen_place)
        ):
            digests[number] = digest
            return False
        if id_number:
            seen_doc[doc] = number
        seen_place.setdefault(place, number)
        claimed[pk] = number
        report.unchanged += 1
        return True

    def parse(row: Row) -> RosterRow | None:
        digest = digests.pop(row.number)
        parsed = parse_row(row, today=today, area=area)
        if parsed is None:
            return None
        parsed.digest = digest
        number = row.number
        place = (parsed.compound, parsed.building, parsed.room, parsed.name)
        if parsed.id_number:
            earlier = seen_doc.get((parsed.id_type, parsed.id_number))
            if earlier:
                row.reject("id_number", f"证件号码与第 {earlier} 行重复", f"the same document number as row {earlier}")
                return None
            seen_doc[(parsed.id_type, parsed.id_number)] = number
        elif place in seen_place:
            earlier = seen_place[place]
            row.reject("name", f"与第 {earlier} 行是同一人（同楼同室同名）", f"the same person as row {earlier}")
            return None
        seen_place.setdefault(place, number)
        return parsed

    good = rows_check_known(sheet, header, skipped, parse, report)
    return good, report, set(header.columns)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).hexdigest()


def row_digest(salt: str, cells: Sequence[Cell]) -> str:
    """The digest of a row's cells as read, every column in the sheet's order (``salt`` says where
    each column is, and the community's area code).

    Taken from the cells' repr, which writes each text quoted and anything else (a number, a date,
    an empty cell) as what it is: two rows have the same digest only if their cells are the same
    values of the same types (tested). The row is not mapped to columns first: a known row of a
    re-import is recognised from its cells as they come from the sheet."""
    return _digest(salt + repr(cells))


# A resident as a re-import finds it, enough to count a row unchanged without parsing it: its id,
# household, name, document type and number (a plain tuple: one is made per resident).
_Resident = tuple[int, int, str, str, str]


@dataclass
class _Known:
    """What the community holds, read once per table as tuples before the rows are checked.

    ``Resident.roster_digest`` keeps the digest of the cells the last import read for the person
    (:func:`row_digest`), and the database clears it whenever anything the import compares changes
    afterwards: the resident's fields, its household's room or building, the building's number,
    compound or grid, the compound's or the grid's name (triggers, migration registry.0011). A
    digest still there leads to the resident in ``unchanged``: a row with the same cells would
    change nothing. Anyone editing the resident since has cleared it, and the row is parsed and
    compared in full again. The residents' fields are read only when rows are left to write."""

    compounds: dict[str, Compound]
    grids: dict[str, Grid]
    building_ids: dict[tuple[int, str], int]
    building_grids: dict[int, int | None]
    households: dict[tuple[int, str], int]
    unchanged: dict[str, _Resident]
    claimed: dict[int, int]  # resident id → the row counted unchanged for them

    def rooms(self) -> dict[int, tuple[str, str]]:
        """The building number and room of each household a resident in ``unchanged`` lives in, by
        the household's id: the community's from what was read, any other (a building moved to
        another community since) in one query."""
        if not self.unchanged:
            return {}
        numbers = {pk: number for (_, number), pk in self.building_ids.items()}
        rooms = {pk: (numbers[building_id], room) for (building_id, room), pk in self.households.items()}
        missing = {hit[1] for hit in self.unchanged.values()} - rooms.keys()
        if missing:
            for pk, number, room in Household.objects.filter(pk__in=missing).values_list(
                "pk", "building__number", "room"
            ):
                rooms[pk] = (number, room)
        return rooms


def _known(community: Community) -> _Known:
    compounds = {c.name: c for c in Compound.objects.filter(community=community)}
    grids = {g.name: g for g in Grid.objects.filter(community=community)}
    building_ids: dict[tuple[int, str], int] = {}
    building_grids: dict[int, int | None] = {}
    for compound_id, number, pk, grid_id in Building.objects.filter(community=community).values_list(
        "compound_id", "number", "pk", "grid_id"
    ):
        building_ids[(compound_id, number)] = pk
        building_grids[pk] = grid_id
    households = _households(community)
    return _Known(compounds, grids, building_ids, building_grids, households, _unchanged_read(community), {})


def _unchanged_read(community: Community) -> dict[str, _Resident]:
    """The community's residents still as their last import left them (a digest the triggers have
    not cleared), by the digest of the cells that import read, with only the columns a skipped
    row is checked with."""
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in ("id", "household_id", "name", "id_type", "id_number"))
    sql = (
        f"SELECT {q('roster_digest')}, {columns} FROM {q(Resident._meta.db_table)} "  # noqa: S608 - names from the model
        f"WHERE {q('community_id')} = %s AND {q('roster_digest')} <> ''"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [community.pk])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _households(community: Community) -> dict[tuple[int, str], int]:
    """The community's households' ids by (building id, room), from a plain cursor."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT h.{q('building_id')}, h.{q('room')}, h.{q('id')} FROM {q(Household._meta.db_table)} h "  # noqa: S608 - names from the models
            f"JOIN {q(Building._meta.db_table)} b ON b.{q('id')} = h.{q('building_id')} "
            f"WHERE b.{q('community_id')} = %s",
            [community.pk],
        )
        return {(building_id, room): pk for building_id, room, pk in cursor.fetchall()}


def _residents(community: Community) -> list[tuple[Any, ...]]:
    """The community's residents as (pk, household_id, *FIELDS, roster_digest), from a plain
    cursor (no model instances); a birth date as SQLite keeps it, its ISO text."""
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in ("id", "household_id", *FIELDS, "roster_digest"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {q(Resident._meta.db_table)} WHERE {q('community_id')} = %s",  # noqa: S608 - names from the model
            [community.pk],
        )
        residents: list[tuple[Any, ...]] = cursor.fetchall()
        return residents


def _mask(field_name: str, value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    masker = SENSITIVE.get(field_name)
    return masker(value) if masker and value else value


def roster_import(
    *,
    community: Community,
    actor: User | None,
    data: bytes | None = None,
    filename: str = "roster.xlsx",
    sheet: Sheet | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> RosterReport:
    """Import a roster into ``community``.

    Every row is checked; bad rows are reported (row, column, reason) and every good row is written.
    Compounds, buildings and households named by the roster are created. A resident is matched on
    the document number, else on building + room + name; changes are written to the audit log.
    The whole import is one transaction; ``dry_run`` computes the same report and writes nothing.
    Raises :class:`UnreadableFile` when the file cannot be read at all.
    """
    sheet = sheet_read(data=data, filename=filename, sheet=sheet, columns=COLUMNS)
    today = today or timezone.localdate()
    digest = hashlib.sha256(data or repr(sheet.rows).encode()).hexdigest()

    with transaction.atomic(durable=True):
        # One import per community at a time: the row lock makes concurrent uploads queue up.
        Community.objects.select_for_update().filter(pk=community.pk).first()
        known = _known(community)
        rows, report, present = parse_sheet(sheet, today=today, area=community.phone_area_code, known=known)
        report.dry_run = dry_run
        columns = {f for f, col in FIELD_COLUMNS.items() if col in present}
        columns |= {"sex", "birth_date"} if "id_number" in present else set()
        _write(community, rows, report, columns, actor, known)
        record = RosterImport.objects.create(
            community=community,
            actor=actor,
            filename=filename[:255],
            sha256=digest,
            dry_run=dry_run,
            **report.record(),
        )
        report.import_id = record.pk
        if dry_run:
            transaction.set_rollback(True)
            report.import_id = None
        else:
            _audit_import(community, actor, filename, report, dry_run=False)
            # A bulk write: fresh planner statistics once it commits (PostgreSQL; see lib/db.py).
            analyze(Resident, Household, Building, rows=report.created + report.updated)
    if dry_run:
        # A dry run writes nothing but its audit row: a check of 300,000 ID numbers is on the record too.
        with transaction.atomic(durable=True):
            _audit_import(community, actor, filename, report, dry_run=True)
    return report


def _audit_import(
    community: Community, actor: User | None, filename: str, report: RosterReport, *, dry_run: bool
) -> None:
    audit_record(
        action=AuditAction.ROSTER_IMPORT_DRY_RUN if dry_run else AuditAction.ROSTER_IMPORT,
        actor=actor,
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"filename": masked(filename), **report.counts(), "transfers_requested": report.transfers_requested},
    )


def _write(
    community: Community,
    rows: list[RosterRow],
    report: RosterReport,
    columns: set[str],
    actor: User | None,
    known: _Known,
) -> None:
    rejected_rows: set[int] = set()

    def reject(row: RosterRow, column: str, zh: str, en: str) -> None:
        report.reject(row.row, column, zh, en)
        rejected_rows.add(row.row)

    _elsewhere(community, rows, report, actor, reject)
    compounds = known.compounds
    for row in rows:
        if row.row in rejected_rows or row.compound:
            continue
        if len(compounds) == 1:
            row.compound = next(iter(compounds))
        elif not compounds:
            row.compound = community.name
        else:
            reject(row, "compound", "小区为空（本社区有多个小区）", "compound is empty (this community has several)")
    rows = [r for r in rows if r.row not in rejected_rows]
    if not rows:
        return

    for name in sorted({r.compound for r in rows} - set(compounds)):
        compounds[name] = Compound.objects.create(community=community, name=name)
    grids = known.grids
    for name in sorted({r.grid for r in rows if r.grid} - set(grids)):
        grids[name] = Grid.objects.create(community=community, name=name)

    building_ids, building_grids = known.building_ids, known.building_grids
    new_buildings: dict[tuple[int, str], Building] = {}
    regrid: dict[int, Building] = {}
    for row in rows:
        compound = compounds[row.compound]
        key = (compound.pk, row.building)
        building_id = building_ids.get(key)
        grid = grids.get(row.grid) if row.grid else None
        if building_id is None:
            building = new_buildings.get(key)
            if building is None:
                new_buildings[key] = Building(
                    community=community,
                    compound=compound,
                    number=row.building,
                    sort_key=nz.building_sort_key(row.building),
                    grid=grid,
                )
            elif grid is not None:  # a later row names the new building's grid: as for a stored one
                building.grid = grid
        elif grid is not None and building_grids[building_id] != grid.pk:
            building_grids[building_id] = grid.pk
            regrid[building_id] = Building(pk=building_id, grid=grid)
    Building.objects.bulk_create(list(new_buildings.values()), batch_size=500)
    building_ids.update({key: b.pk for key, b in new_buildings.items()})
    if regrid:
        Building.objects.bulk_update(list(regrid.values()), ["grid"], batch_size=500)

    # New households as plain rows (one COPY on PostgreSQL), their ids read back in one query.
    households = known.households
    compound_ids = {name: c.pk for name, c in compounds.items()}
    new_households: dict[tuple[int, str], None] = {}
    for row in rows:
        key = (building_ids[(compound_ids[row.compound], row.building)], row.room)
        if key not in households:
            new_households[key] = None
    if new_households:
        rows_copy(Household, ["building_id", "room"], list(new_households))
        households.update(_households(community))

    # Each resident as a dict of the compared columns ("pk" None: created by an earlier row).
    existing = [
        {"pk": r[0], "household_id": r[1], **dict(zip(FIELDS, r[2:-1], strict=True)), "digest": r[-1]}
        for r in _residents(community)
    ]
    for resident in existing:  # a birth date read as text (SQLite) compared as the date it is
        if type(resident["birth_date"]) is str:
            resident["birth_date"] = parse_date(resident["birth_date"])  # as Django reads it
    digest_of = {r["pk"]: r["digest"] for r in existing}
    by_doc = {(r["id_type"], r["id_number"]): r for r in existing if r["id_number"]}
    by_place: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for resident in existing:
        by_place.setdefault((resident["household_id"], resident["name"]), []).append(resident)

    now = timezone.now()
    to_create: list[tuple[Any, ...]] = []
    to_update: dict[int, dict[str, Any]] = {}
    digests: dict[int, str] = {}  # resident id → the digest of this import (unchanged rows too)
    changed_fields: set[str] = set()
    audits: list[AuditLog] = []
    for row in rows:
        household_id = households[(building_ids[(compound_ids[row.compound], row.building)], row.room)]
        match = by_doc.get((row.id_type, row.id_number)) if row.id_number else None
        if match is None:
            candidates = [
                r
                for r in by_place.get((household_id, row.name), [])
                if not r["id_number"] or not row.id_number or r["id_number"] == row.id_number
            ]
            match = candidates[0] if candidates else None
        fields = row.fields()
        if match is None:
            to_create.append(
                (
                    community.pk,
                    household_id,
                    *fields,
                    name_search_key(row.name),
                    row.digest,
                    now,
                    now,
                )
            )
            # Only what a later row of the file is matched on: a match with no pk is that repeat.
            created = {"pk": None, "id_number": row.id_number}
            if row.id_number:
                by_doc[(row.id_type, row.id_number)] = created
            by_place.setdefault((household_id, row.name), []).append(created)
            report.created += 1
            continue
        values = dict(zip(FIELDS, fields, strict=True))
        if match["pk"] is None or match["pk"] in to_update or match["pk"] in digests or match["pk"] in known.claimed:
            reject(row, "name", "与本文件前面的一行是同一人", "the same person as an earlier row of this file")
            continue
        diff: dict[str, list[Any]] = {}
        if match["household_id"] != household_id:
            diff["household"] = [str(match["household_id"]), str(household_id)]
            match["household_id"] = household_id
        for name in columns:
            new = values[name]
            if name in {"id_type", "id_number"} and not row.id_number:
                continue
            old = match[name]
            if old != new:
                diff[name] = [_mask(name, old), _mask(name, new)]
                match[name] = new
        digests[match["pk"]] = row.digest
        if not diff:
            report.unchanged += 1
            continue
        if "name" in diff:
            changed_fields.add("search_key")
        report.updated += 1
        to_update[match["pk"]] = match
        changed_fields.update("household" if k == "household" else k for k in diff)
        audits.append(
            audit_row(
                action=AuditAction.RESIDENT_UPDATE,
                actor=actor,
                target_type="resident",
                target_id=str(match["pk"]),
                community=community,
                detail={"source": "roster_import", "row": row.row, "changes": diff},
            )
        )
    # New residents as plain rows: one COPY on PostgreSQL, executemany elsewhere (no model instances).
    rows_copy(Resident, RESIDENT_COLUMNS, to_create)
    if to_update:
        updated = [
            Resident(
                pk=pk,
                community=community,
                household_id=r["household_id"],
                search_key=name_search_key(r["name"]),
                updated_at=now,
                **{f: r[f] for f in FIELD_COLUMNS},
            )
            for pk, r in to_update.items()
        ]
        Resident.objects.bulk_update(updated, sorted(changed_fields | {"updated_at"}), batch_size=500)
    # The digests last, in statements of their own: an update of a resident's fields clears its
    # digest (a trigger). A resident found unchanged whose digest is this row's keeps it.
    _digests_set({pk: d for pk, d in digests.items() if pk in to_update or digest_of[pk] != d})
    audit_record_many(audits)


def _elsewhere(
    community: Community,
    rows: list[RosterRow],
    report: RosterReport,
    actor: User | None,
    reject: Callable[[RosterRow, str, str, str], None],
) -> None:
    """Documents already registered in another community are not moved silently: each such row is
    rejected and a transfer requested of the subdistrict."""
    docs_by_type: dict[str, list[str]] = {}
    for r in rows:
        if r.id_number:
            docs_by_type.setdefault(r.id_type, []).append(r.id_number)
    elsewhere: dict[tuple[str, str], tuple[int, int]] = {}  # document → (resident id, its community id)
    q = connection.ops.quote_name
    table = q(Resident._meta.db_table)
    # One look-up per document type where the database takes that many parameters (PostgreSQL: one
    # array parameter), written as SQL: the ORM prepared each of thousands of parameters one by one.
    # id_type + id_number lets the database use the unique index on documents. That index is partial
    # (documents that are not blank): SQLite uses it only when the query repeats its condition word
    # for word, and scanned every resident of every community without it (10 µs a row of a 6,500-row
    # roster, growing with the district); PostgreSQL proves the condition from the array either way.
    size = (connection.features.max_query_params or 20_000) - 10
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for kind, numbers in docs_by_type.items():
            for chunk in [numbers] if postgres else chunks(numbers, size):
                among = "= ANY(%s)" if postgres else f"IN ({', '.join(['%s'] * len(chunk))})"
                cursor.execute(
                    f"SELECT {q('id_number')}, {q('id')}, {q('community_id')} FROM {table} "  # noqa: S608 - names from the model
                    f"WHERE {q('id_type')} = %s AND {q('id_number')} {among} AND NOT ({q('id_number')} = '') "
                    f"AND {q('community_id')} <> %s",
                    [kind, *([list(chunk)] if postgres else chunk), community.pk],
                )
                for number, resident_id, community_id in cursor.fetchall():
                    elsewhere[(kind, number)] = (resident_id, community_id)
    transfers: list[ResidentTransfer] = []
    for row in rows:
        other = elsewhere.get((row.id_type, row.id_number))
        if other:
            # Never name the other community: an upload of ID numbers must not tell where people live.
            reject(row, "id_number", ELSEWHERE_ZH, ELSEWHERE_EN)
            resident_id, from_id = other
            transfers.append(
                ResidentTransfer(
                    resident_id=resident_id,
                    from_community_id=from_id,
                    to_community=community,
                    compound=row.compound[:64],
                    building=row.building[:16],
                    room=row.room[:16],
                    requested_by=actor,
                )
            )
    # The subdistrict decides: one pending request per person and receiving community.
    ResidentTransfer.objects.bulk_create(transfers, ignore_conflicts=True)
    report.transfers_requested = len(transfers)


def _digests_set(digests: Mapping[int, str]) -> None:
    """Record this import's digest on residents it found unchanged (one executemany; no timestamps)."""
    if not digests:
        return
    q = connection.ops.quote_name
    table, digest, pk = q(Resident._meta.db_table), q("roster_digest"), q("id")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {digest} = %s WHERE {pk} = %s",  # noqa: S608 - names from the model
            [(d, resident_id) for resident_id, d in digests.items()],
        )
