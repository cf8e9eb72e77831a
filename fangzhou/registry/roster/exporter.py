"""Roster export: a workbook that imports back unchanged, safe against formula injection."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from fangzhou.registry.models import Resident
from fangzhou.registry.roster import normalize as nz

EXPORT_COLUMNS = (
    ("compound", "小区"),
    ("building", "楼号"),
    ("room", "室号"),
    ("name", "姓名"),
    ("id_type", "证件类型"),
    ("id_number", "证件号码"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    ("phone", "手机号"),
    ("resident_type", "人员类型"),
    ("special", "特殊人群"),
    ("note", "备注"),
    ("grid", "网格"),
)
SEX_LABELS = {"M": "男", "F": "女"}


def safe_cell(value: str) -> str:
    """Stop a spreadsheet from treating text as a formula (CSV/formula injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def roster_workbook(residents: list[Resident], *, title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "花名册"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([label for _, label in EXPORT_COLUMNS])
    for resident in residents:
        building = resident.household.building
        values = {
            "compound": building.compound.name,
            "building": f"{building.number}号楼",
            "room": resident.household.room,
            "name": resident.name,
            "id_type": nz.ID_TYPE_LABELS.get(resident.id_type, "") if resident.id_number else "",
            "id_number": resident.id_number,
            "sex": SEX_LABELS.get(resident.sex, ""),
            "birth_date": resident.birth_date.isoformat() if resident.birth_date else "",
            "phone": resident.phone,
            "resident_type": nz.RESIDENT_TYPE_LABELS.get(resident.resident_type, ""),
            "special": nz.special_labels(resident.special),
            "note": resident.note,
            "grid": building.grid.name if building.grid else "",
        }
        sheet.append([safe_cell(values[key]) for key, _ in EXPORT_COLUMNS])
    # Every cell is text, so Excel never turns an ID number or a phone into a float.
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.number_format = "@"
    for letter, width in zip("ABCDEFGHIJKLM", (14, 8, 8, 10, 12, 22, 6, 12, 14, 8, 14, 20, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
