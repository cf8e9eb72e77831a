"""Writes for cases. The testing work confirms positives through ``case_confirm``.

Every step of a case creates the committee's tasks through ``work_order_create_in_transaction`` with
a ``source_key`` per cause, so that repeating a step never doubles a task.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import User
from fangzhou.cases import signals
from fangzhou.cases.discharge import DischargeCheck, PcrFact, discharge_check
from fangzhou.cases.models import Case, CaseEvent, CaseSettings, CloseContact, PcrResult, SiteKind, Source
from fangzhou.lib.db import analyze
from fangzhou.lib.errors import Refused
from fangzhou.lib.importing import Columns, ImportReport, Outcome, Row, chunks, rows_check, sheet_map, sheet_read
from fangzhou.registry.models import Community, Resident
from fangzhou.workorders.models import Kind, Priority
from fangzhou.workorders.services import work_order_create_in_transaction


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


@transaction.atomic(durable=True)
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
    audit_record(
        action=AuditAction.CASE_SETTINGS_UPDATE,
        actor=actor,
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
    where = household.full_label
    work_order_create_in_transaction(
        community=case.community,
        kind=Kind.TRANSFER,
        title=f"安排转运 Arrange transfer: {where}",
        title_code="case.transfer",
        title_args={"where": where},
        actor=actor,
        priority=Priority.EMERGENCY,
        resident=resident,
        due_at=_at(case.report_date, 23),
        source_key=f"case:{case.pk}:transfer",
    )
    work_order_create_in_transaction(
        community=case.community,
        kind=Kind.DISINFECTION,
        title=f"环境消杀（住所及楼道） Disinfect home and stairwell: {where}",
        title_code="case.disinfect",
        title_args={"where": where},
        actor=actor,
        priority=Priority.URGENT,
        household=household,
        source_key=f"case:{case.pk}:disinfect",
    )
    work_order_create_in_transaction(
        community=case.community,
        kind=Kind.HOUSEHOLD_CHECK,
        title=f"联系同住家属 Check on household: {where}",
        title_code="case.household",
        title_args={"where": where},
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
            case=case, resident=member, defaults={"since": case.report_date, "until": until, "key": f"r:{member.pk}"}
        )
        if created:
            _event(case, member, CaseEvent.Kind.CONTACT, case.report_date, actor, until=until.isoformat())
    if not members:
        return
    for i in range(rules.contact_days):
        day = case.report_date + dt.timedelta(days=i)
        work_order_create_in_transaction(
            community=case.community,
            kind=Kind.RETEST,
            title=f"密接居家隔离 上门核酸 第{i + 1}天 Close contacts' daily test, day {i + 1}: {where}",
            title_code="case.contact_test",
            title_args={"day": i + 1, "where": where},
            actor=actor,
            priority=Priority.NORMAL,
            household=household,
            due_at=_at(day, 10),
            detail=f"{len(members)} 人 / person(s), {day.isoformat()}",
            source_key=f"case:{case.pk}:contact-test:{day.isoformat()}",
        )


def case_confirm_in_transaction(
    *, resident: Resident, report_date: dt.date, source: str, actor: User | None, note: str = ""
) -> tuple[Case, bool]:
    """Record a confirmed case. Idempotent: the same resident and report date give the same case.

    Returns (case, created). A new case gets its tasks (arrange transfer, disinfect home and
    stairwell, check on household) and its household members become close contacts with daily
    door-to-door tests for the community's number of days. This form runs inside the caller's
    transaction (a lab-result import); :func:`case_confirm` is the same in a transaction of its own.
    """
    if source not in Source.values:
        raise ValueError(f"unknown case source {source!r}")
    existing = Case.objects.filter(resident=resident, report_date=report_date).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a savepoint: of two concurrent confirms, the unique constraint keeps one
            case = Case.objects.create(
                community_id=resident.community_id,
                resident=resident,
                building_id=resident.household.building_id,
                source=source,
                report_date=report_date,
                note=note,
                created_by=actor,
            )
            audit_record(
                action=AuditAction.CASE_CONFIRM,
                actor=actor,
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


case_confirm = transaction.atomic(durable=True)(case_confirm_in_transaction)


# --------------------------------------------------------------------------- isolation


def case_transfer_in_transaction(
    *, case_id: int, site_kind: str, site_name: str, transferred_on: dt.date, actor: User | None
) -> Case:
    """Record the transfer to an isolation site. Repeating it with the same facts changes nothing.

    This form runs inside the caller's transaction (the cases import); :func:`case_transfer` is its own.
    """
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
    audit_record(
        action=AuditAction.CASE_TRANSFER,
        actor=actor,
        target_type="case",
        target_id=str(case.pk),
        community_id=case.community_id,
        detail={"before": before, "after": {"site_kind": site_kind, "site_name": site_name}},
    )
    return case


case_transfer = transaction.atomic(durable=True)(case_transfer_in_transaction)


@transaction.atomic(durable=True)
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
    audit_record(
        action=AuditAction.CASE_PCR_RECORD,
        actor=actor,
        target_type="case",
        target_id=case.pk,
        community_id=case.community_id,
        detail={"sampled_at": local.isoformat(), "result": result, "ct": ct},
    )
    return row


def case_discharge_check(case: Case) -> DischargeCheck:
    rules = case_rules(case.community)
    tz = case.community.tzinfo  # the core writes its times into the message: the community's clock
    facts = [
        PcrFact(timezone.localtime(r.sampled_at, tz), r.result == PcrResult.Result.NEGATIVE, r.ct)
        for r in PcrResult.objects.filter(case=case)
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
    work_order_create_in_transaction(
        community=case.community,
        kind=Kind.HOUSEHOLD_CHECK,
        title=f"出舱后居家健康监测（至 {case.monitoring_until:%m-%d}） Home health monitoring after discharge",
        title_code="case.monitoring",
        title_args={"until": f"{case.monitoring_until:%m-%d}"},
        actor=actor,
        household=household,
        resident=case.resident,
        source_key=f"case:{case.pk}:monitoring",
    )
    audit_record(
        action=AuditAction.CASE_DISCHARGE,
        actor=actor,
        target_type="case",
        target_id=str(case.pk),
        community_id=case.community_id,
        detail={"discharged_on": discharged_on.isoformat(), "checked": checked},
    )
    case_id = case.pk
    transaction.on_commit(lambda: signals.discharged.send(sender=Case, case_id=case_id), robust=True)
    return case


@transaction.atomic(durable=True)
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


CASE_COLUMNS = Columns(CASE_ALIASES, ("id_number", "report_date"), max_rows=20_000)


@dataclass(frozen=True)
class CaseRow:
    """One checked row of the district's list."""

    number: int
    resident: Resident
    report_date: dt.date
    source: str
    site: str
    transferred_on: dt.date | None
    discharged_on: dt.date | None


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


def _id_text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip().upper().replace(" ", "")


@transaction.atomic(durable=True)
def cases_import(*, community: Community, actor: User | None, data: bytes, filename: str) -> ImportReport:
    """Import the district's list of cases (CSV or xlsx). Rows numbered as Excel shows them.

    Every row is checked first (bad rows are reported); each good one then goes through
    ``case_confirm_in_transaction``, ``case_transfer_in_transaction`` and the discharge, so a re-import
    changes nothing."""
    report = ImportReport()
    mapped = sheet_map(sheet_read(data=data, filename=filename, columns=CASE_COLUMNS), CASE_COLUMNS, report)
    Community.objects.select_for_update().filter(pk=community.pk).first()
    numbers = sorted({_id_text(v) for v in mapped.values("id_number")} - {""})
    residents: dict[str, Resident] = {}
    for chunk in chunks(numbers):
        for resident in (
            Resident.objects.select_related("household__building__compound")
            .filter(community=community, id_number__in=chunk)
            .order_by("pk")
        ):
            residents.setdefault(resident.id_number, resident)
    seen: dict[tuple[int, dt.date], int] = {}

    def parse(row: Row) -> CaseRow | None:
        raw_id = _id_text(row.get("id_number"))
        if not raw_id:
            row.reject("id_number", "缺少证件号码", "missing ID number")
            return None
        resident = residents.get(raw_id)
        if resident is None:
            row.reject(
                "id_number", "本社区花名册中没有这个证件号码", "no resident of this community has this ID number"
            )
            return None
        name = unicodedata.normalize("NFKC", str(row.get("name") or "")).strip()
        if name and name != resident.name:
            row.reject("name", f"姓名与花名册不符（{resident.name[:1]}**）", "the name does not match the roster")
            return None
        dates: dict[str, dt.date | None] = {}
        for column in ("report_date", "transferred_on", "discharged_on"):
            try:
                dates[column] = parse_date(row.get(column))
            except ValueError as exc:
                row.reject(column, f"日期无法识别：{exc}", f"unreadable date: {exc}")
                return None
        report_date, transferred_on, discharged_on = dates.values()
        if report_date is None:
            row.reject("report_date", "缺少报告日期", "missing report date")
            return None
        if report_date > timezone.localdate() + dt.timedelta(days=1):
            row.reject("report_date", "报告日期在未来", "the report date is in the future")
            return None
        raw_source = str(row.get("source") or "").strip()
        source = SOURCE_WORDS.get(raw_source.lower()) if raw_source else Source.DISTRICT
        if source is None:
            source = next((v for k, v in SOURCE_WORDS.items() if k in raw_source), Source.DISTRICT)
        site = str(row.get("isolation_site") or "").strip()[:100]
        if transferred_on and transferred_on < report_date:
            row.reject("transferred_on", "转运日期早于报告日期", "the transfer date is before the report date")
            return None
        if discharged_on and discharged_on < (transferred_on or report_date):
            row.reject("discharged_on", "出舱日期早于转运或报告日期", "the discharge date is before transfer or report")
            return None
        key = (resident.pk, report_date)
        if key in seen:
            row.reject("id_number", f"与第 {seen[key]} 行重复", f"duplicate of row {seen[key]}")
            return None
        seen[key] = row.number
        return CaseRow(row.number, resident, report_date, source, site, transferred_on, discharged_on)

    for row in rows_check(mapped, parse, report):
        outcome = _case_import_write(row, actor=actor, report=report)
        if outcome is not None:
            report.count(outcome)
    audit_record(
        action=AuditAction.CASES_IMPORT,
        actor=actor,
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"filename": masked(filename), **report.counts()},
    )
    analyze(Case, rows=report.created + report.updated)
    return report


def _case_import_write(row: CaseRow, *, actor: User | None, report: ImportReport) -> Outcome | None:
    """One checked row through the case services; None when it conflicts with the record."""
    number, transferred_on, discharged_on, site = row.number, row.transferred_on, row.discharged_on, row.site
    case, created = case_confirm_in_transaction(
        resident=row.resident, report_date=row.report_date, source=row.source, actor=actor
    )
    changed = False
    if transferred_on:
        if case.transferred_on and case.transferred_on != transferred_on:
            report.reject(
                number,
                "transferred_on",
                f"与已登记的转运日期 {case.transferred_on} 冲突",
                f"conflicts with the recorded transfer date {case.transferred_on}",
            )
            return None
        if case.transferred_on is None or (site and case.site_name != site):
            case_transfer_in_transaction(
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
                "discharged_on",
                f"与已登记的出舱日期 {case.discharged_on} 冲突",
                f"conflicts with the recorded discharge date {case.discharged_on}",
            )
            return None
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
        return "created"
    return "updated" if changed else "unchanged"
