"""Line lists of cases and contacts for the district and the CDC, in their column layout.

A layout is data (``LineListLayout``: field and header per column), so each district's sheet is
matched without code. Who may export: the community's committee only (the people who already see
the cases by name); the subdistrict officer works with counts and is refused. ID numbers and
phones are masked unless the exporter asks for full values and may reveal both (``can_unmask``).
Every export is audited with its kind, layout, row count and whether values were full — never a
value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_manage_community, can_unmask
from fangzhou.cases.models import Case, CloseContact, LineListLayout
from fangzhou.lib.errors import Refused
from fangzhou.lib.personal import mask_id, mask_phone, phone_display
from fangzhou.lib.sheetwrite import SheetWriter
from fangzhou.registry.models import Community, Resident


class LineListError(Refused):
    """Refused by the line-list rules (reason in Chinese and English)."""


@dataclass(frozen=True)
class Field:
    key: str
    label: Any  # lazy translation
    sensitive: str = ""  # "id_number" or "phone": masked unless full values are allowed
    read: Callable[[Any, dt.date], Any] = lambda _row, _day: ""


def _age(resident: Resident | None, day: dt.date) -> Any:
    if resident is None or resident.birth_date is None:
        return ""
    born = resident.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _sex(resident: Resident | None) -> str:
    return str(resident.get_sex_display()) if resident is not None and resident.sex else ""


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


STAGES = {
    "reported": gettext_lazy("Awaiting transfer"),
    "isolated": gettext_lazy("In isolation"),
    "monitoring": gettext_lazy("Home health monitoring"),
    "closed": gettext_lazy("Closed"),
}

CASE_FIELDS: tuple[Field, ...] = (
    Field("name", gettext_lazy("Name"), read=lambda c, _d: c.resident.name),
    Field("sex", gettext_lazy("Sex"), read=lambda c, _d: _sex(c.resident)),
    Field("age", gettext_lazy("Age"), read=lambda c, d: _age(c.resident, d)),
    Field("id_number", gettext_lazy("ID number"), "id_number", read=lambda c, _d: c.resident.id_number),
    Field("phone", gettext_lazy("Phone"), "phone", read=lambda c, _d: c.resident.phone),
    Field("address", gettext_lazy("Address"), read=lambda c, _d: c.resident.household.full_label),
    Field("report_date", gettext_lazy("Report date"), read=lambda c, _d: _iso(c.report_date)),
    Field("source", gettext_lazy("Found by"), read=lambda c, _d: str(c.get_source_display())),
    Field("stage", gettext_lazy("Stage"), read=lambda c, d: str(STAGES[c.stage(d)])),
    Field("site", gettext_lazy("Isolation site"), read=lambda c, _d: c.site_name),
    Field("transferred_on", gettext_lazy("Transferred on"), read=lambda c, _d: _iso(c.transferred_on)),
    Field("discharged_on", gettext_lazy("Discharged on"), read=lambda c, _d: _iso(c.discharged_on)),
    Field("monitoring_until", gettext_lazy("Home monitoring until"), read=lambda c, _d: _iso(c.monitoring_until)),
)


def _person(contact: CloseContact) -> Resident | None:
    return contact.resident


CONTACT_FIELDS: tuple[Field, ...] = (
    Field("case_name", gettext_lazy("Case"), read=lambda c, _d: c.case.resident.name),
    Field("name", gettext_lazy("Name"), read=lambda c, _d: c.resident.name if c.resident else c.outside_name),
    Field("degree", gettext_lazy("Kind"), read=lambda c, _d: str(c.get_degree_display())),
    Field("sex", gettext_lazy("Sex"), read=lambda c, _d: _sex(c.resident)),
    Field("age", gettext_lazy("Age"), read=lambda c, d: _age(c.resident, d)),
    Field(
        "id_number",
        gettext_lazy("ID number"),
        "id_number",
        read=lambda c, _d: c.resident.id_number if c.resident else "",
    ),
    Field(
        "phone", gettext_lazy("Phone"), "phone", read=lambda c, _d: c.resident.phone if c.resident else c.outside_phone
    ),
    Field(
        "address",
        gettext_lazy("Address"),
        read=lambda c, _d: c.resident.household.full_label if c.resident else _("not our resident"),
    ),
    Field("since", gettext_lazy("Date of contact"), read=lambda c, _d: _iso(c.since)),
    Field("until", gettext_lazy("Isolation ends"), read=lambda c, _d: _iso(c.until)),
    Field("place", gettext_lazy("Isolation place"), read=lambda c, _d: c.place or _("at home")),
    Field("origin", gettext_lazy("Listed by"), read=lambda c, _d: str(c.get_origin_display())),
)

FIELDS: dict[str, tuple[Field, ...]] = {"cases": CASE_FIELDS, "contacts": CONTACT_FIELDS}

# The built-in layouts: every field under its Chinese label.
DEFAULT_HEADERS = {
    "name": "姓名",
    "sex": "性别",
    "age": "年龄",
    "id_number": "证件号码",
    "phone": "联系电话",
    "address": "现住址",
    "report_date": "报告日期",
    "source": "发现途径",
    "stage": "当前状态",
    "site": "隔离场所",
    "transferred_on": "转运日期",
    "discharged_on": "出舱日期",
    "monitoring_until": "健康监测截止",
    "case_name": "关联病例",
    "degree": "类别",
    "since": "末次接触日期",
    "until": "隔离截止",
    "place": "隔离地点",
    "origin": "来源",
}


def default_columns(kind: str) -> list[dict[str, str]]:
    return [{"field": f.key, "header": DEFAULT_HEADERS[f.key]} for f in FIELDS[kind]]


def _field_names(kind: str) -> dict[str, str]:
    """What a person may write for a field: its usual Chinese header, its English or Chinese
    label, or its key."""
    names: dict[str, str] = {}
    for f in FIELDS[kind]:
        for name in (f.key, DEFAULT_HEADERS[f.key], str(f.label)):
            names.setdefault(name.strip().lower(), f.key)
    return names


def layout_parse(kind: str, text: str) -> list[dict[str, str]]:
    """Columns from lines "header = field" (the page's text box; the field by its usual header,
    e.g. "身份证号 = 证件号码"); every error said with its line."""
    names = _field_names(kind)
    columns: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        header, sep, written = (part.strip() for part in line.replace("＝", "=").partition("="))
        if not sep or not header or not written:
            raise LineListError(f"第 {number} 行应为「表头 = 字段」", f"line {number} must read 'header = field'")
        field = names.get(written.lower())
        if field is None:
            raise LineListError(
                f"第 {number} 行：没有字段「{written}」", f"line {number}: there is no field {written!r}"
            )
        columns.append({"field": field, "header": header[:64]})
    if not columns:
        raise LineListError("至少需要一列", "a layout needs at least one column")
    if len(columns) > 60:
        raise LineListError("最多 60 列", "at most 60 columns")
    return columns


@transaction.atomic(durable=True)
def layout_save(*, community: Community, kind: str, name: str, text: str, actor: User | None) -> LineListLayout:
    """Add or replace a named layout (idempotent)."""
    if kind not in FIELDS:
        raise LineListError("名单类型无效", "unknown kind of list")
    name = " ".join(name.split())[:64]
    if not name:
        raise LineListError("请为格式命名（如「区疾控 2022 版」）", "name the layout (e.g. the district CDC's)")
    columns = layout_parse(kind, text)
    layout, _created = LineListLayout.objects.update_or_create(
        community=community, kind=kind, name=name, defaults={"columns": columns}
    )
    audit_record(
        action=AuditAction.LINE_LIST_LAYOUT,
        actor=actor,
        target_type="line_list_layout",
        target_id=layout.pk,
        community_id=community.pk,
        detail={"kind": kind, "name": name, "columns": len(columns)},
    )
    return layout


def layout_text(columns: Sequence[dict[str, str]]) -> str:
    return "\n".join(f"{c['header']} = {DEFAULT_HEADERS.get(c['field'], c['field'])}" for c in columns)


def may_export(user: User, community: Community) -> bool:
    return can_manage_community(user, community.pk)


def may_export_full(user: User, community: Community) -> bool:
    return all(can_unmask(user, community.pk, field=f) for f in ("id_number", "phone"))


def _rows(kind: str, community: Community) -> list[Any]:
    if kind == LineListLayout.Kind.CASES:
        return list(
            Case.objects.filter(community=community)
            .select_related("resident__household__building__compound")
            .order_by("report_date", "pk")
        )
    return list(
        CloseContact.objects.filter(case__community=community)
        .select_related("case__resident", "resident__household__building__compound")
        .order_by("since", "pk")
    )


def _cell(field: Field, value: Any, *, full: bool) -> Any:
    """A value as the list shows it: phones as people write them (13812345678), masked unless full."""
    if not value or not field.sensitive:
        return value
    if field.sensitive == "phone":
        return phone_display(value) if full else mask_phone(value)
    return value if full else mask_id(value)


def line_list_export(
    *, user: User, community: Community, kind: str, layout: LineListLayout | None, full: bool
) -> tuple[bytes, int]:
    """The line list as an .xlsx (bytes, rows); audited. Full values only for who may reveal them."""
    if not may_export(user, community):
        raise LineListError("只有居委会可以导出个案名单", "only the committee may export line lists")
    if kind not in FIELDS:
        raise LineListError("名单类型无效", "unknown kind of list")
    if full and not may_export_full(user, community):
        raise LineListError("您不能导出完整证件号码和电话", "you may not export full ID numbers and phones")
    columns = layout.columns if layout is not None else default_columns(kind)
    by_key = {f.key: f for f in FIELDS[kind]}
    fields = [(by_key[c["field"]], c["header"]) for c in columns if c["field"] in by_key]
    day = timezone.localdate()
    sheet = SheetWriter("个案" if kind == LineListLayout.Kind.CASES else "密接")
    sheet.header([header for _field, header in fields])
    rows = _rows(kind, community)
    for row in rows:
        sheet.row([_cell(field, field.read(row, day), full=full) for field, _header in fields], text=True)
    audit_record(
        action=AuditAction.LINE_LIST_EXPORT,
        actor=user,
        target_type="community",
        target_id=community.pk,
        community_id=community.pk,
        detail={"kind": kind, "layout": layout.name if layout else "", "rows": len(rows), "full": full},
    )
    return sheet.to_bytes(), len(rows)
