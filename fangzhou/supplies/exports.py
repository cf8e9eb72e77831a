"""Per-building delivery lists to print (PDF, WeasyPrint, Noto Sans CJK SC) and to share (Excel)."""

from __future__ import annotations

import io

from django.template.loader import render_to_string
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from fangzhou.registry.models import Building
from fangzhou.supplies.models import Delivery, Distribution
from fangzhou.supplies.selectors import building_totals


def delivery_list_pdf(
    *, distribution: Distribution, building: Building, deliveries: list[Delivery], sealed: bool
) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        "supplies/print_list.html",
        {
            "distribution": distribution,
            "building": building,
            "deliveries": deliveries,
            "totals": building_totals(deliveries),
            "sealed": sealed,
            "printed_at": timezone.localtime(),
        },
    )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def delivery_list_xlsx(*, distribution: Distribution, building: Building, deliveries: list[Delivery]) -> bytes:
    totals = building_totals(deliveries)
    items = list(totals)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = building.label[:31]
    sheet.append([f"{distribution.name} — {building.compound.name} {building.label}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(["室号 Room", *items, "状态 Status", "签收 Signature"])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for delivery in deliveries:
        quantities = {line.item: line.quantity for line in delivery.lines.all()}
        sheet.append(
            [delivery.household.room, *(quantities.get(i, 0) for i in items), delivery.get_status_display(), ""]
        )
    sheet.append(["合计 Total", *(totals[i] for i in items), f"{len(deliveries)} 户 doors", ""])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 12
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
