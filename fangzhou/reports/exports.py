"""The daily report as it goes up: Excel (openpyxl) and PDF (WeasyPrint, Noto Sans CJK SC).

Bilingual labels (Chinese first) so the file reads the same whoever opens it. Counts only.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from fangzhou.lib.sheetwrite import SheetWriter
from fangzhou.reports.selectors import DailyReport, SubdistrictTable


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def report_lines(report: DailyReport) -> list[tuple[str, str, Any]]:
    """(section, label, value) rows of a community's report, in the order they are read out."""
    c, t, a, w, r = report.cases, report.testing, report.antigen, report.work_orders, report.requests
    rows: list[tuple[str, str, Any]] = [
        ("居民 Residents", "居民 Residents", report.residents),
        ("居民 Residents", "户 Households", report.households),
        ("病例 Cases", "当日新增病例 New cases today", c.new),
        ("病例 Cases", "累计病例 Cases in total", c.total),
        ("病例 Cases", "待转运 Awaiting transfer", c.awaiting_transfer),
        ("病例 Cases", "最长等待转运（小时）Longest wait for transfer (hours)", c.longest_wait_hours),
        ("病例 Cases", "隔离中 In isolation", c.in_isolation),
        ("病例 Cases", "居家健康监测 Home health monitoring", c.home_monitoring),
        ("病例 Cases", "密接 Close contacts", c.close_contacts),
    ]
    if t.round is not None:
        rnd = t.round
        rows += [
            ("核酸 Mass testing", "轮次日期 Round date", rnd.date.isoformat()),
            ("核酸 Mass testing", "已采 / 应采 Sampled / expected", f"{rnd.sampled} / {rnd.expected}"),
            ("核酸 Mass testing", "采样率 Sampling rate", _pct(rnd.rate)),
            ("核酸 Mass testing", "漏检 Missed", rnd.missing),
            ("核酸 Mass testing", "试管 Tubes", rnd.tubes),
            ("核酸 Mass testing", "已出结果 Tubes resulted", rnd.tubes_resulted),
            ("核酸 Mass testing", "阳性管 Positive tubes", rnd.positive_tubes),
        ]
    else:
        rows.append(("核酸 Mass testing", "轮次 Round", "—"))
    rows += [
        ("核酸 Mass testing", "待复查 Pending re-tests", t.pending_retests),
        ("抗原 Antigen", "已报告 / 居民 Reported / residents", f"{a.reported} / {a.residents}"),
        ("抗原 Antigen", "报告率 Reporting rate", _pct(a.rate)),
        ("抗原 Antigen", "阳性 Positive", a.positive),
        (
            "三区 Zones",
            "无新增病例天数 Days without a new case",
            "—" if report.zones.days_without_case is None else report.zones.days_without_case,
        ),
    ]
    for p in report.zones.places:
        kind = "小区 Compound" if p.kind == "compound" else "小封控区 Block"
        change = f"{p.next_change_on.isoformat()} → {p.next_label_zh} {p.next_label_en}" if p.next_change_on else "—"
        rows.append(("三区 Zones", f"{kind}: {p.name}", f"{p.label_zh} {p.label_en}; 下次变化 next change {change}"))
    rows += [
        ("工单 Work orders", "未完成工单 Orders open", w.open),
        ("工单 Work orders", "超时工单 Orders overdue", w.overdue),
        ("工单 Work orders", "当日完成工单 Orders done today", w.done),
        ("工单 Work orders", "当日新增工单 New orders today", w.new),
        ("诉求 Requests", "未办结诉求 Requests open", r.open),
        ("诉求 Requests", "当日办结诉求 Requests closed today", r.closed),
        ("诉求 Requests", "当日新增诉求 New requests today", r.new),
        ("物资 Supplies", "已送达 Doors done", report.deliveries_done),
        ("物资 Supplies", "待送达 Doors pending", report.deliveries_pending),
    ]
    for d in report.distributions:
        rows.append(("物资 Supplies", d.name, f"{d.done} / {d.total}"))
    rows += [
        ("特殊关爱 Special care", "48小时内有风险 At risk in the next 48 h", report.at_risk_48h),
        ("志愿者 Volunteers", "在册 Approved", report.volunteers_approved),
        ("志愿者 Volunteers", "当日在岗 On duty today", report.volunteers_on_duty),
    ]
    return rows


def report_xlsx(report: DailyReport) -> bytes:
    book = SheetWriter("日报 Daily report")
    book.heading(
        f"{report.community.name}（{report.community.code}）日报 Daily report {report.day.isoformat()}", size=13
    )
    at = timezone.localtime(report.as_of, report.community.tzinfo)  # the community's clock
    book.row([f"{report.community.subdistrict.name} · 截至 as of {at:%Y-%m-%d %H:%M}"])
    book.header(["项目 Section", "指标 Figure", "数值 Value"])
    for section, label, value in report_lines(report):
        book.row([section, label, value])
    book.widths([22, 44, 48])
    return book.to_bytes()


SUBDISTRICT_HEADER = [
    "社区代码 Code",
    "社区 Community",
    "街道 Subdistrict",
    "居民 Residents",
    "新增病例 New cases",
    "累计病例 Total cases",
    "待转运 Awaiting transfer",
    "隔离中 In isolation",
    "居家健康监测 Home health monitoring",
    "抗原已报 Antigen reported",
    "抗原报告率 Antigen rate",
    "抗原阳性 Antigen positive",
    "最近核酸 Latest round",
    "已采 Sampled",
    "阳性管 Positive tubes",
    "待复查 Pending re-tests",
    "三区 Zone",
    "封控区数 Sealed places",
    "无新增天数 Days without a case",
    "未完成工单 Open orders",
    "超时工单 Overdue orders",
    "未办结诉求 Open requests",
    "当日办结诉求 Requests closed",
]


def subdistrict_xlsx(table: SubdistrictTable) -> bytes:
    book = SheetWriter("街道汇总 Subdistrict")
    book.heading(f"街道日报汇总 Subdistrict daily report {table.day.isoformat()}", size=13)
    book.header(SUBDISTRICT_HEADER)
    for r in table.rows:
        book.row(
            [
                r.community.code,
                r.community.name,
                r.community.subdistrict.name,
                r.residents,
                r.cases.new,
                r.cases.total,
                r.cases.awaiting_transfer,
                r.cases.in_isolation,
                r.cases.home_monitoring,
                r.antigen.reported,
                _pct(r.antigen.rate),
                r.antigen.positive,
                r.round_date.isoformat() if r.round_date else "—",
                r.round_sampled,
                r.positive_tubes,
                r.pending_retests,
                f"{r.zone_label_zh} {r.zone_label_en}",
                r.sealed_places,
                "—" if r.days_without_case is None else r.days_without_case,
                r.work_orders.open,
                r.work_orders.overdue,
                r.requests.open,
                r.requests.closed,
            ]
        )
    book.row(
        [
            "合计 Total",
            f"{len(table.rows)}",
            "",
            table.total("residents"),
            table.total("cases.new"),
            table.total("cases.total"),
            table.total("cases.awaiting_transfer"),
            table.total("cases.in_isolation"),
            table.total("cases.home_monitoring"),
            table.total("antigen.reported"),
            "",
            table.total("antigen.positive"),
            "",
            table.total("round_sampled"),
            table.total("positive_tubes"),
            table.total("pending_retests"),
            "",
            table.total("sealed_places"),
            "",
            table.total("work_orders.open"),
            table.total("work_orders.overdue"),
            table.total("requests.open"),
            table.total("requests.closed"),
        ],
        bold=True,
    )
    book.widths([10, 16, 14] + [12] * (len(SUBDISTRICT_HEADER) - 3))
    return book.to_bytes()


def report_pdf(report: DailyReport) -> bytes:
    from weasyprint import HTML

    with timezone.override(report.community.tzinfo):  # the community's clock, wherever it is rendered
        html = render_to_string(
            "reports/print_daily.html",
            {"report": report, "lines": report_lines(report), "printed_at": timezone.localtime()},
        )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
