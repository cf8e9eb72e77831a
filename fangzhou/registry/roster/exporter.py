"""Roster export: a workbook that imports back unchanged, safe against formula injection."""

from __future__ import annotations

from fangzhou.lib.sheetwrite import SheetWriter
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
    ("phone", "联系电话"),
    ("resident_type", "人员类型"),
    ("special", "特殊人群"),
    ("note", "备注"),
    ("grid", "网格"),
)
SEX_LABELS = {"M": "男", "F": "女"}


def roster_workbook(residents: list[Resident], *, title: str) -> bytes:
    book = SheetWriter("花名册")
    book.heading(title)
    book.row([label for _, label in EXPORT_COLUMNS])
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
            "phone": nz.phone_display(resident.phone),
            "resident_type": nz.RESIDENT_TYPE_LABELS.get(resident.resident_type, ""),
            "special": nz.special_labels(resident.special),
            "note": resident.note,
            "grid": building.grid.name if building.grid else "",
        }
        # Every cell is text, so Excel never turns an ID number or a phone into a float.
        book.row([values[key] for key, _ in EXPORT_COLUMNS], text=True)
    book.widths((14, 8, 8, 10, 12, 22, 6, 12, 14, 8, 14, 20, 10))
    return book.to_bytes()
