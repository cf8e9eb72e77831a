"""Roster import: parse every row, report each bad one, write every good one in one transaction.

The roster's columns and its set-based write; reading, header mapping, row checking and the report
are the shared pipeline's (:mod:`fangzhou.lib.importing`)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, audit_record_many, audit_row, masked
from fangzhou.accounts.models import AuditLog, User
from fangzhou.lib.db import analyze
from fangzhou.lib.importing import Columns, ImportReport, Row, chunks, rows_check, sheet_map, sheet_read
from fangzhou.lib.sheets import Sheet
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


@dataclass
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

    def values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FIELD_COLUMNS}


def parse_row(row: Row, *, today: dt.date, area: str = nz.DEFAULT_AREA_CODE) -> RosterRow | None:
    """Check one row. Pure: returns the clean row, or None with every reason kept on ``row``.
    ``area`` is the community's area code, for a landline written without one."""
    number = row.number
    check = row.check
    parsed: dict[str, Any] = {}
    parsed["compound"] = nz.compound_name(row.get("compound"))
    parsed["building"] = check("building", nz.building_number)
    parsed["room"] = check("room", nz.room_number)
    parsed["name"] = check("name", nz.person_name)
    parsed["sex"] = check("sex", nz.sex)
    parsed["birth_date"] = check("birth_date", nz.birth_date, today=today)
    found_phone = check("phone", nz.phone_number, area=area)
    parsed["phone"] = found_phone.e164 if found_phone else ""
    parsed["phone_kind"] = found_phone.kind if found_phone else ""
    parsed["resident_type"] = check("resident_type", nz.resident_type)
    parsed["special"] = check("special", nz.special)
    parsed["note"] = nz.note(row.get("note"))
    parsed["grid"] = nz.compound_name(row.get("grid"))
    kind = check("id_type", nz.id_type)
    raw_number = row.get("id_number")
    has_number = nz.compact(raw_number) != "" or isinstance(raw_number, int | float)
    parsed["id_type"], parsed["id_number"] = "", ""
    if has_number and kind is not None:
        if not kind:
            guess = nz.compact(raw_number).upper()
            kind = "resident_id" if len(guess) == 18 or isinstance(raw_number, int | float) else ""
            if not kind:
                row.reject("id_type", "请填写证件类型", "the document type is missing for this number")
        if kind == "resident_id":
            facts = check("id_number", nz.resident_id, today=today)
            if facts is not None:
                parsed["id_number"] = facts.number
                if parsed["sex"] and parsed["sex"] != facts.sex:
                    row.reject("sex", "性别与身份证号不符", "sex does not match the ID number")
                if parsed["birth_date"] and parsed["birth_date"] != facts.birth_date:
                    row.reject("birth_date", "出生日期与身份证号不符", "birth date does not match the ID number")
                parsed["sex"] = facts.sex
                parsed["birth_date"] = facts.birth_date
        elif kind:
            parsed["id_number"] = check("id_number", functools.partial(nz.other_document, kind)) or ""
        parsed["id_type"] = kind or ""
    elif kind:
        parsed["id_type"] = kind
    if row.rejections:
        return None
    return RosterRow(row=number, **parsed)


@dataclass
class RosterReport(ImportReport):
    """An import's report, plus how many people registered elsewhere were sent to the subdistrict."""

    transfers_requested: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "transfers_requested": self.transfers_requested}


def parse_sheet(
    sheet: Sheet, *, today: dt.date, area: str = nz.DEFAULT_AREA_CODE
) -> tuple[list[RosterRow], RosterReport, set[str]]:
    """Every good row of the roster, the report with every bad one, and the columns present."""
    report = RosterReport()
    mapped = sheet_map(sheet, COLUMNS, report)
    seen_doc: dict[tuple[str, str], int] = {}
    seen_place: dict[tuple[str, str, str, str], int] = {}

    def parse(row: Row) -> RosterRow | None:
        parsed = parse_row(row, today=today, area=area)
        if parsed is None:
            return None
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

    good = rows_check(mapped, parse, report)
    return good, report, mapped.present


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
    rows, report, present = parse_sheet(sheet, today=today, area=community.phone_area_code)
    report.dry_run = dry_run
    columns = {f for f, col in FIELD_COLUMNS.items() if col in present}
    columns |= {"sex", "birth_date"} if "id_number" in present else set()
    digest = hashlib.sha256(data or repr(sheet.rows).encode()).hexdigest()

    with transaction.atomic(durable=True):
        # One import per community at a time: the row lock makes concurrent uploads queue up.
        Community.objects.select_for_update().filter(pk=community.pk).first()
        _write(community, rows, report, columns, actor, today)
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
    today: dt.date,
) -> None:
    rejected_rows: set[int] = set()

    def reject(row: RosterRow, column: str, zh: str, en: str) -> None:
        report.reject(row.row, column, zh, en)
        rejected_rows.add(row.row)

    # Documents already registered in another community are not moved silently.
    docs_by_type: dict[str, list[str]] = {}
    for r in rows:
        if r.id_number:
            docs_by_type.setdefault(r.id_type, []).append(r.id_number)
    elsewhere: dict[tuple[str, str], tuple[int, int]] = {}  # document → (resident id, its community id)
    # One look-up per document type where the database takes that many parameters (PostgreSQL).
    size = (connection.features.max_query_params or 20_000) - 10
    for kind, numbers in docs_by_type.items():
        for chunk in chunks(numbers, size):
            # id_type + id_number lets the database use the unique index on documents.
            for number, resident_id, community_id in (
                Resident.objects.filter(id_type=kind, id_number__in=chunk)
                .exclude(id_number="")
                .exclude(community=community)
                .values_list("id_number", "pk", "community_id")
            ):
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

    compounds = {c.name: c for c in Compound.objects.filter(community=community)}
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

    for name in sorted({r.compound for r in rows} - set(compounds)):
        compounds[name] = Compound.objects.create(community=community, name=name)
    grids = {g.name: g for g in Grid.objects.filter(community=community)}
    for name in sorted({r.grid for r in rows if r.grid} - set(grids)):
        grids[name] = Grid.objects.create(community=community, name=name)

    # Existing rows are read as tuples of the compared columns only: a no-op re-import builds no
    # model instances (issue 12: it cost more than a first import); instances are made for writes.
    building_ids: dict[tuple[int, str], int] = {}
    building_grids: dict[int, int | None] = {}
    for compound_id, number, pk, grid_id in Building.objects.filter(community=community).values_list(
        "compound_id", "number", "pk", "grid_id"
    ):
        building_ids[(compound_id, number)] = pk
        building_grids[pk] = grid_id
    new_buildings: dict[tuple[int, str], Building] = {}
    regrid: dict[int, Building] = {}
    for row in rows:
        compound = compounds[row.compound]
        key = (compound.pk, row.building)
        building_id = building_ids.get(key)
        grid = grids.get(row.grid) if row.grid else None
        if building_id is None:
            if key not in new_buildings:
                new_buildings[key] = Building(
                    community=community,
                    compound=compound,
                    number=row.building,
                    sort_key=nz.building_sort_key(row.building),
                    grid=grid,
                )
        elif grid is not None and building_grids[building_id] != grid.pk:
            building_grids[building_id] = grid.pk
            regrid[building_id] = Building(pk=building_id, grid=grid)
    Building.objects.bulk_create(list(new_buildings.values()), batch_size=500)
    building_ids.update({key: b.pk for key, b in new_buildings.items()})
    if regrid:
        Building.objects.bulk_update(list(regrid.values()), ["grid"], batch_size=500)

    households: dict[tuple[int, str], int] = {
        (building_id, room): pk
        for building_id, room, pk in Household.objects.filter(building__community=community).values_list(
            "building_id", "room", "pk"
        )
    }
    new_households: dict[tuple[int, str], Household] = {}
    for row in rows:
        key = (building_ids[(compounds[row.compound].pk, row.building)], row.room)
        if key not in households and key not in new_households:
            new_households[key] = Household(building_id=key[0], room=row.room)
    Household.objects.bulk_create(list(new_households.values()), batch_size=1000)
    households.update({key: h.pk for key, h in new_households.items()})

    # Each resident as a dict of the compared columns ("pk" None: created by an earlier row).
    existing = list(Resident.objects.filter(community=community).values("pk", "household_id", *FIELD_COLUMNS))
    by_doc = {(r["id_type"], r["id_number"]): r for r in existing if r["id_number"]}
    by_place: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for resident in existing:
        by_place.setdefault((resident["household_id"], resident["name"]), []).append(resident)

    to_create: list[Resident] = []
    to_update: dict[int, dict[str, Any]] = {}
    changed_fields: set[str] = set()
    audits: list[AuditLog] = []
    for row in rows:
        household_id = households[(building_ids[(compounds[row.compound].pk, row.building)], row.room)]
        match = by_doc.get((row.id_type, row.id_number)) if row.id_number else None
        if match is None:
            candidates = [
                r
                for r in by_place.get((household_id, row.name), [])
                if not r["id_number"] or not row.id_number or r["id_number"] == row.id_number
            ]
            match = candidates[0] if candidates else None
        values = row.values()
        if match is None:
            to_create.append(
                Resident(
                    community=community,
                    household_id=household_id,
                    search_key=name_search_key(values["name"]),
                    **values,
                )
            )
            created = {"pk": None, "household_id": household_id, **values}
            if row.id_number:
                by_doc[(row.id_type, row.id_number)] = created
            by_place.setdefault((household_id, row.name), []).append(created)
            report.created += 1
            continue
        if match["pk"] is None or match["pk"] in to_update:
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
    Resident.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        now = timezone.now()
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
    audit_record_many(audits)
