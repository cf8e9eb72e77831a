"""Writes for cases. The testing work confirms positives through ``case_confirm``.

Every step of a case creates the committee's tasks through ``work_order_create`` with a
``source_key`` per cause, so that repeating a step never doubles a task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from fangzhou.accounts.models import AuditLog, User
from fangzhou.cases.discharge import DischargeCheck, PcrFact, discharge_check
from fangzhou.cases.models import Case, CaseEvent, CaseSettings, CloseContact, PcrResult, SiteKind, Source
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Community, Resident
from fangzhou.workorders.models import Kind, Priority
from fangzhou.workorders.services import work_order_create


class CaseError(Refused):
    """Refused by the case rules (reason in Chinese and English)."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CaseRules:
    discharge_gap_hours: int
    discharge_min_ct: float
    monitoring_days: int
    contact_days: int


def default_case_rules() -> CaseRules:
    return CaseRules(
        discharge_gap_hours=settings.FANGZHOU_DISCHARGE_GAP_HOURS,
        discharge_min_ct=settings.FANGZHOU_DISCHARGE_MIN_CT,
        monitoring_days=settings.FANGZHOU_MONITORING_DAYS,
        contact_days=settings.FANGZHOU_CONTACT_DAYS,
    )


def case_rules(community: Community) -> CaseRules:
    """The community's own numbers if the committee set them, else the project defaults."""
    row = CaseSettings.objects.filter(community=community).first()
    if row is None:
        return default_case_rules()
    return CaseRules(row.discharge_gap_hours, row.discharge_min_ct, row.monitoring_days, row.contact_days)


@transaction.atomic
def case_settings_update(
    *,
    community: Community,
    actor: User | None,
    discharge_gap_hours: int,
    discharge_min_ct: float,
    monitoring_days: int,
    contact_days: int,
) -> CaseSettings:
    if not (1 <= discharge_gap_hours <= 240 and 0 < discharge_min_ct <= 45):
        raise CaseError("出舱规则数值无效", "invalid discharge numbers")
    if not (0 <= monitoring_days <= 60 and 0 <= contact_days <= 60):
        raise CaseError("天数无效（0–60）", "invalid number of days (0-60)")
    before = case_rules(community)
    row, _ = CaseSettings.objects.select_for_update().get_or_create(community=community)
    row.discharge_gap_hours = discharge_gap_hours
    row.discharge_min_ct = discharge_min_ct
    row.monitoring_days = monitoring_days
    row.contact_days = contact_days
    row.save()
    AuditLog.objects.create(
        actor=actor,
        action="case_settings.update",
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"before": before.__dict__, "after": case_rules(community).__dict__},
    )
    return row


# --------------------------------------------------------------------------- confirm


def _event(case: Case, resident: Resident, kind: str, on: dt.date, actor: User | None, **detail: Any) -> None:
    CaseEvent.objects.create(case=case, resident=resident, kind=kind, on=on, actor=actor, detail=detail)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _case_followups(case: Case, actor: User | None) -> None:
    """Tasks and close contacts that follow a new case (idempotent through source keys)."""
    resident = case.resident
    household = resident.household
    building = household.building
    where = f"{building.compound.name} {building.label} {household.room}室"
    work_order_create(
        community=case.community,
        kind=Kind.TRANSFER,
        title=f"安排转运 Arrange transfer: {where}",
        actor=actor,
        priority=Priority.EMERGENCY,
        resident=resident,
        due_at=_at(case.report_date, 23),
        source_key=f"case:{case.pk}:transfer",
    )
    work_order_create(
        community=case.community,
        kind=Kind.DISINFECTION,
        title=f"环境消杀（住所及楼道） Disinfect home and stairwell: {where}",
        actor=actor,
        priority=Priority.URGENT,
        household=household,
        source_key=f"case:{case.pk}:disinfect",
    )
    work_order_create(
        community=case.community,
        kind=Kind.HOUSEHOLD_CHECK,
        title=f"联系同住家属 Check on household: {where}",
        actor=actor,
        priority=Priority.URGENT,
        household=household,
        source_key=f"case:{case.pk}:household",
    )
    rules = case_rules(case.community)
    if rules.contact_days <= 0:
        return
    until = case.report_date + dt.timedelta(days=rules.contact_days - 1)
    members = list(Resident.objects.filter(household=household).exclude(pk=resident.pk))
    for member in members:
        _contact, created = CloseContact.objects.get_or_create(
            case=case, resident=member, defaults={"since": case.report_date, "until": until}
        )
        if created:
            _event(case, member, CaseEvent.Kind.CONTACT, case.report_date, actor, until=until.isoformat())
    if not members:
        return
    for i in range(rules.contact_days):
        day = case.report_date + dt.timedelta(days=i)
        work_order_create(
            community=case.community,
            kind=Kind.RETEST,
            title=f"密接居家隔离 上门核酸 第{i + 1}天 Close contacts' daily test, day {i + 1}: {where}",
            actor=actor,
            priority=Priority.NORMAL,
            household=household,
            due_at=_at(day, 10),
            detail=f"{len(members)} 人 / person(s), {day.isoformat()}",
            source_key=f"case:{case.pk}:contact-test:{day.isoformat()}",
        )


def case_confirm(
    *, resident: Resident, report_date: dt.date, source: str, actor: User | None, note: str = ""
) -> tuple[Case, bool]:
    """Record a confirmed case. Idempotent: the same resident and report date give the same case.

    Returns (case, created). A new case gets its tasks (arrange transfer, disinfect home and
    stairwell, check on household) and its household members become close contacts with daily
    door-to-door tests for the community's number of days.
    """
    if source not in Source.values:
        raise ValueError(f"unknown case source {source!r}")
    existing = Case.objects.filter(resident=resident, report_date=report_date).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            case = Case.objects.create(
                community_id=resident.community_id,
                resident=resident,
                building_id=resident.household.building_id,
                source=source,
                report_date=report_date,
                note=note,
                created_by=actor,
            )
            AuditLog.objects.create(
                actor=actor,
                action="case.confirm",
                target_type="case",
                target_id=str(case.pk),
                community_id=resident.community_id,
                detail={"resident": resident.pk, "report_date": report_date.isoformat(), "source": source},
            )
            _event(case, resident, CaseEvent.Kind.REPORTED, report_date, actor, source=source)
            _case_followups(case, actor)
    except IntegrityError:
        return Case.objects.get(resident=resident, report_date=report_date), False
    return case, True


# --------------------------------------------------------------------------- isolation


@transaction.atomic
def case_transfer(*, case_id: int, site_kind: str, site_name: str, transferred_on: dt.date, actor: User | None) -> Case:
    """Record the transfer to an isolation site. Repeating it with the same facts changes nothing."""
    if site_kind not in SiteKind.values:
        raise CaseError("请选择隔离场所类型", "choose the kind of isolation site")
    site_name = site_name.strip()[:100]
    if not site_name:
        raise CaseError("请填写隔离点名称", "name the isolation site")
    case = Case.objects.select_for_update().select_related("resident").get(pk=case_id)
    if transferred_on < case.report_date:
        raise CaseError("转运日期早于报告日期", "the transfer date is before the report date")
    if case.discharged_on is not None:
        raise CaseError("已出舱，不能再登记转运", "already discharged")
    facts = (site_kind, site_name, transferred_on)
    if (case.site_kind, case.site_name, case.transferred_on) == facts:
        return case
    before = {"site_kind": case.site_kind, "site_name": case.site_name, "transferred_on": str(case.transferred_on)}
    case.site_kind, case.site_name, case.transferred_on = facts
    case.save(update_fields=["site_kind", "site_name", "transferred_on"])
    _event(case, case.resident, CaseEvent.Kind.TRANSFERRED, transferred_on, actor, site=site_name, site_kind=site_kind)
    AuditLog.objects.create(
        actor=actor,
        action="case.transfer",
        target_type="case",
        target_id=str(case.pk),
        community_id=case.community_id,
        detail={"before": before, "after": {"site_kind": site_kind, "site_name": site_name}},
    )
    return case


@transaction.atomic
def case_pcr_record(
    *, case_id: int, sampled_at: dt.datetime, negative: bool, ct: float | None, actor: User | None
) -> PcrResult:
    """Record a PCR result of a case in isolation (idempotent per sampling time)."""
    if timezone.is_naive(sampled_at):
        sampled_at = timezone.make_aware(sampled_at)
    if ct is not None and not (0 < ct <= 50):
        raise CaseError("Ct 值应在 0–50 之间", "Ct must be between 0 and 50")
    case = Case.objects.select_for_update().select_related("resident").get(pk=case_id)
    if sampled_at.date() < case.report_date:
        raise CaseError("采样时间早于报告日期", "sampled before the report date")
    result = PcrResult.Result.NEGATIVE if negative else PcrResult.Result.POSITIVE
    row, created = PcrResult.objects.get_or_create(
        case=case, sampled_at=sampled_at, defaults={"result": result, "ct": ct, "created_by": actor}
    )
    if not created:
        if (row.result, row.ct) != (result, ct):
            raise CaseError("同一采样时间已有不同结果", "a different result is already recorded for this sample")
        return row
    local = timezone.localtime(sampled_at)
    _event(case, case.resident, CaseEvent.Kind.PCR, local.date(), actor, result=result, ct=ct, at=local.isoformat())
    return row


def case_discharge_check(case: Case) -> DischargeCheck:
    rules = case_rules(case.community)
    facts = [
        PcrFact(r.sampled_at, r.result == PcrResult.Result.NEGATIVE, r.ct) for r in PcrResult.objects.filter(case=case)
    ]
    return discharge_check(facts, gap_hours=rules.discharge_gap_hours, min_ct=rules.discharge_min_ct)


def _discharge(case: Case, discharged_on: dt.date, actor: User | None, *, checked: bool) -> Case:
    rules = case_rules(case.community)
    case.discharged_on = discharged_on
    case.monitoring_until = discharged_on + dt.timedelta(days=rules.monitoring_days)
    case.save(update_fields=["discharged_on", "monitoring_until"])
    _event(case, case.resident, CaseEvent.Kind.DISCHARGED, discharged_on, actor, checked=checked)
    _event(case, case.resident, CaseEvent.Kind.MONITORING_END, case.monitoring_until, actor)
    household = case.resident.household
    work_order_create(
        community=case.community,
        kind=Kind.HOUSEHOLD_CHECK,
        title=f"出舱后居家健康监测（至 {case.monitoring_until:%m-%d}） Home health monitoring after discharge",
        actor=actor,
        household=household,
        resident=case.resident,
        source_key=f"case:{case.pk}:monitoring",
    )
    AuditLog.objects.create(
        actor=actor,
        action="case.discharge",
        target_type="case",
        target_id=str(case.pk),
        community_id=case.community_id,
        detail={"discharged_on": discharged_on.isoformat(), "checked": checked},
    )
    return case


@transaction.atomic
def case_discharge(*, case_id: int, discharged_on: dt.date, actor: User | None) -> Case:
    """Discharge (出舱): only after two consecutive qualifying negatives (see cases.discharge)."""
    case = Case.objects.select_for_update().select_related("resident__household", "community").get(pk=case_id)
    if case.discharged_on is not None:
        if case.discharged_on == discharged_on:
            return case
        raise CaseError("该病例已出舱", "this case is already discharged")
    check = case_discharge_check(case)
    if not check.ok or check.pair is None:
        raise CaseError(check.reason_zh, check.reason_en)
    second = timezone.localtime(check.pair[1].sampled_at).date()
    if discharged_on < second:
        raise CaseError("出舱日期早于第二次阴性采样", "the discharge date is before the second negative sample")
    return _discharge(case, discharged_on, actor, checked=True)


# --------------------------------------------------------------------------- import

CASE_ALIASES: dict[str, tuple[str, ...]] = {
    "id_number": ("证件号码", "身份证号", "身份证号码", "证件号", "id_number"),
    "name": ("姓名", "name"),
    "report_date": ("报告日期", "report_date"),
    "source": ("来源", "source"),
    "isolation_site": ("隔离点", "isolation_site", "隔离场所"),
    "transferred_on": ("转运日期", "transferred_on"),
    "discharged_on": ("出舱日期", "discharged_on"),
}
SOURCE_WORDS = {
    "pooled_pcr": Source.POOLED_PCR,
    "混检": Source.POOLED_PCR,
    "混采": Source.POOLED_PCR,
    "核酸": Source.POOLED_PCR,
    "单采": Source.POOLED_PCR,
    "antigen_pcr": Source.ANTIGEN_PCR,
    "抗原": Source.ANTIGEN_PCR,
    "district": Source.DISTRICT,
    "区里": Source.DISTRICT,
    "区推送": Source.DISTRICT,
    "社会面": Source.DISTRICT,
    "staff": Source.STAFF,
}


@dataclass
class CaseImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows_read: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: int, zh: str, en: str) -> None:
        self.rejected.append({"row": row, "reason": f"{zh} / {en}"})

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rows_read": self.rows_read,
            "rejected": sorted(self.rejected, key=lambda r: int(r["row"])),
        }


def parse_date(value: Any) -> dt.date | None:
    """Dates as spreadsheets carry them: date cells, 2022-04-05, 2022/4/5, 2022年4月5日, 20220405."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and 30000 < float(value) < 80000:  # an Excel serial day
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?", text) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", text
    )
    if not match:
        raise ValueError(text)
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def _site_kind(name: str) -> str:
    if "方舱" in name:
        return SiteKind.SHELTER
    if "医院" in name or "hospital" in name.lower():
        return SiteKind.HOSPITAL
    return SiteKind.ISOLATION_POINT


@transaction.atomic
def cases_import(*, community: Community, actor: User | None, data: bytes, filename: str) -> CaseImportReport:
    """Import the district's list of cases (CSV or xlsx). Rows numbered as Excel shows them."""
    import unicodedata

    from fangzhou.registry.roster.reader import data_rows, find_header, read_table

    sheet = read_table(data, filename)
    header = find_header(sheet, CASE_ALIASES, required=("id_number", "report_date"))
    report = CaseImportReport()
    seen: dict[tuple[int, dt.date], int] = {}
    Community.objects.select_for_update().filter(pk=community.pk).first()
    for number, cells in data_rows(sheet, header):
        report.rows_read += 1
        raw_id = unicodedata.normalize("NFKC", str(cells.get("id_number") or "")).strip().upper().replace(" ", "")
        if not raw_id:
            report.reject(number, "缺少证件号码", "missing ID number")
            continue
        resident = (
            Resident.objects.select_related("household__building__compound")
            .filter(community=community, id_number=raw_id)
            .first()
        )
        if resident is None:
            report.reject(number, "本社区花名册中没有这个证件号码", "no resident of this community has this ID number")
            continue
        name = unicodedata.normalize("NFKC", str(cells.get("name") or "")).strip()
        if name and name != resident.name:
            report.reject(number, f"姓名与花名册不符（{resident.name[:1]}**）", "the name does not match the roster")
            continue
        try:
            report_date = parse_date(cells.get("report_date"))
            transferred_on = parse_date(cells.get("transferred_on"))
            discharged_on = parse_date(cells.get("discharged_on"))
        except ValueError as exc:
            report.reject(number, f"日期无法识别：{exc}", f"unreadable date: {exc}")
            continue
        if report_date is None:
            report.reject(number, "缺少报告日期", "missing report date")
            continue
        if report_date > timezone.localdate() + dt.timedelta(days=1):
            report.reject(number, "报告日期在未来", "the report date is in the future")
            continue
        raw_source = str(cells.get("source") or "").strip()
        source = SOURCE_WORDS.get(raw_source.lower()) if raw_source else Source.DISTRICT
        if source is None:
            source = next((v for k, v in SOURCE_WORDS.items() if k in raw_source), Source.DISTRICT)
        site = str(cells.get("isolation_site") or "").strip()[:100]
        if transferred_on and transferred_on < report_date:
            report.reject(number, "转运日期早于报告日期", "the transfer date is before the report date")
            continue
        if discharged_on and discharged_on < (transferred_on or report_date):
            report.reject(number, "出舱日期早于转运或报告日期", "the discharge date is before transfer or report")
            continue
        key = (resident.pk, report_date)
        if key in seen:
            report.reject(number, f"与第 {seen[key]} 行重复", f"duplicate of row {seen[key]}")
            continue
        seen[key] = number
        case, created = case_confirm(resident=resident, report_date=report_date, source=source, actor=actor)
        changed = False
        if transferred_on:
            if case.transferred_on and case.transferred_on != transferred_on:
                report.reject(
                    number,
                    f"与已登记的转运日期 {case.transferred_on} 冲突",
                    f"conflicts with the recorded transfer date {case.transferred_on}",
                )
                continue
            if case.transferred_on is None or (site and case.site_name != site):
                case_transfer(
                    case_id=case.pk,
                    site_kind=case.site_kind or _site_kind(site),
                    site_name=site or case.site_name or "—",
                    transferred_on=transferred_on,
                    actor=actor,
                )
                changed = True
        if discharged_on:
            case.refresh_from_db()
            if case.discharged_on and case.discharged_on != discharged_on:
                report.reject(
                    number,
                    f"与已登记的出舱日期 {case.discharged_on} 冲突",
                    f"conflicts with the recorded discharge date {case.discharged_on}",
                )
                continue
            if case.discharged_on is None:
                # The district's word: its list is the record of discharge.
                _discharge(
                    Case.objects.select_related("resident__household", "community").get(pk=case.pk),
                    discharged_on,
                    actor,
                    checked=False,
                )
                changed = True
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    AuditLog.objects.create(
        actor=actor,
        action="cases.import",
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"filename": filename, **{k: v for k, v in report.as_dict().items() if k != "rejected"}},
    )
    return report
