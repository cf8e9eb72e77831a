"""Per-building delivery lists to print (PDF, WeasyPrint, Noto Sans CJK SC) and to share (Excel)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from fangzhou.lib.sheetwrite import SheetWriter
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
    book = SheetWriter(building.full_label)
    book.heading(f"{distribution.name} — {building.full_label}", size=13)
    book.header(["室号 Room", *items, "状态 Status", "签收 Signature"])
    for delivery in deliveries:
        quantities = {line.item: line.quantity for line in delivery.lines.all()}
        book.row([delivery.household.room, *(quantities.get(i, 0) for i in items), delivery.get_status_display(), ""])
    book.row(["合计 Total", *(totals[i] for i in items), f"{len(deliveries)} 户 doors", ""], bold=True)
    book.widths([12])
    return book.to_bytes()
