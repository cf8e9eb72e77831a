"""Contacts beyond the household: close (密接) and secondary (次密接) contacts of a case.

They come from the district's list (an import, with every bad row reported) or are typed by staff.
A contact is linked to a resident of the community where the ID number matches; anyone else is an
outside person kept with a name and a phone only (their ID number is used once, to tell two
outside people apart, and never stored). Isolation ends by the community's rules: close contacts
``contact_days`` (the same number as the household contacts), secondary contacts
``secondary_contact_days`` (Shanghai 2022: 7 days at home). A resident contact isolated at home gets
one door-to-door test order per day, as the household contacts do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import User
from fangzhou.cases.models import Case, CaseEvent, CaseSettings, CloseContact
from fangzhou.cases.services import _at, _event, _id_text, case_rules, parse_date
from fangzhou.lib.errors import Refused
from fangzhou.lib.importing import Columns, ImportReport, Row, chunks, rows_check, sheet_map, sheet_read
from fangzhou.lib.personal import PhoneError, parse_phone
from fangzhou.registry.models import Community, Resident
from fangzhou.workorders.models import Kind, Priority
from fangzhou.workorders.services import work_order_create_in_transaction

Degree = CloseContact.Degree


class ContactError(Refused):
    """Refused by the contact rules (reason in Chinese and English)."""


def isolation_days(community: Community, degree: str) -> int:
    if degree == Degree.SECONDARY:
        row = CaseSettings.objects.filter(community=community).first()
        return row.secondary_contact_days if row is not None else 7
    return case_rules(community).contact_days


def _outside_key(name: str, id_number: str, phone: str) -> str:
    """An outside person's key: a digest of their ID number where the list gives one (never stored
    itself), else of the name and phone."""
    source = f"id:{id_number}" if id_number else f"name:{name}|{phone}"
    return "o:" + hashlib.sha256(source.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class ContactInput:
    case: Case
    degree: str
    since: dt.date
    resident: Resident | None = None
    outside_name: str = ""
    outside_id: str = ""
    outside_phone: str = ""
    place: str = ""
    via: CloseContact | None = None


def contact_record_in_transaction(spec: ContactInput, *, origin: str, actor: User | None) -> tuple[CloseContact, bool]:
    """Record one contact (idempotent on the case and the person); a resident at home gets daily tests."""
    case = spec.case
    if spec.resident is not None and spec.resident.pk == case.resident_id:
        raise ContactError("病例本人不能登记为自己的密接", "a case cannot be its own contact")
    key = f"r:{spec.resident.pk}" if spec.resident is not None else ""
    if not key:
        name = " ".join(spec.outside_name.split())[:64]
        if not name:
            raise ContactError("请填写密接姓名", "the contact's name is missing")
        key = _outside_key(name, spec.outside_id, spec.outside_phone)
    days = isolation_days(case.community, spec.degree)
    until = spec.since + dt.timedelta(days=max(days, 1) - 1)
    contact, created = CloseContact.objects.get_or_create(
        case=case,
        key=key,
        defaults={
            "resident": spec.resident,
            "degree": spec.degree,
            "origin": origin,
            "via": spec.via,
            "outside_name": "" if spec.resident else " ".join(spec.outside_name.split())[:64],
            "outside_phone": "" if spec.resident else spec.outside_phone,
            "place": spec.place[:100],
            "since": spec.since,
            "until": until,
        },
    )
    if not created:
        return contact, False
    if spec.resident is not None:
        _event(case, spec.resident, CaseEvent.Kind.CONTACT, spec.since, actor, until=until.isoformat())
        if not spec.place:
            _daily_tests(contact, spec.resident, actor)
    return contact, True


def _daily_tests(contact: CloseContact, resident: Resident, actor: User | None) -> None:
    household = resident.household
    where = household.full_label
    days = (contact.until - contact.since).days + 1
    for i in range(days):
        day = contact.since + dt.timedelta(days=i)
        work_order_create_in_transaction(
            community=contact.case.community,
            kind=Kind.RETEST,
            title=f"密接居家隔离 上门核酸 第{i + 1}天 Close contacts' daily test, day {i + 1}: {where}",
            title_code="case.contact_test",
            title_args={"day": i + 1, "where": where},
            actor=actor,
            priority=Priority.NORMAL,
            household=household,
            resident=resident,
            due_at=_at(day, 10),
            detail=day.isoformat(),
            source_key=f"contact:{contact.pk}:test:{day.isoformat()}",
        )


# --------------------------------------------------------------------------- the district's list

CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id_number": ("病例证件号码", "病例证件号", "病例身份证号", "case_id_number"),
    "name": ("姓名", "密接姓名", "name"),
    "id_number": ("证件号码", "身份证号", "证件号", "id_number"),
    "phone": ("电话", "手机", "联系电话", "phone"),
    "degree": ("类别", "密接类别", "degree"),
    "since": ("接触日期", "末次接触日期", "since"),
    "place": ("隔离地点", "隔离点", "place"),
    "via_id_number": ("关联密接证件号码", "关联密接证件号", "via_id_number"),
}
CONTACT_COLUMNS = Columns(CONTACT_ALIASES, ("case_id_number", "name", "since"), max_rows=50_000)
DEGREE_WORDS = {
    "": Degree.CLOSE,
    "密接": Degree.CLOSE,
    "密切接触者": Degree.CLOSE,
    "close": Degree.CLOSE,
    "次密接": Degree.SECONDARY,
    "次密切接触者": Degree.SECONDARY,
    "secondary": Degree.SECONDARY,
}


def _text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


@transaction.atomic(durable=True)
def contacts_import(*, community: Community, actor: User | None, data: bytes, filename: str) -> ImportReport:
    """Import the district's list of contacts: each good row kept, each bad one reported (row,
    column, reason); a second import of the same list changes nothing."""
    report = ImportReport()
    mapped = sheet_map(sheet_read(data=data, filename=filename, columns=CONTACT_COLUMNS), CONTACT_COLUMNS, report)
    Community.objects.select_for_update().filter(pk=community.pk).first()
    numbers = sorted(
        {_id_text(v) for column in ("case_id_number", "id_number", "via_id_number") for v in mapped.values(column)}
        - {""}
    )
    residents: dict[str, Resident] = {}
    for chunk in chunks(numbers):
        for resident in Resident.objects.select_related("household__building__compound").filter(
            community=community, id_number__in=chunk
        ):
            residents.setdefault(resident.id_number, resident)
    latest: dict[int, Case] = {}
    for case in Case.objects.filter(community=community, resident__in=list(residents.values())).order_by("report_date"):
        latest[case.resident_id] = case
    area = community.phone_area_code
    rows: list[tuple[int, ContactInput, str]] = []

    def parse(row: Row) -> tuple[int, ContactInput, str] | None:
        case_resident = residents.get(_id_text(row.get("case_id_number")))
        case = latest.get(case_resident.pk) if case_resident is not None else None
        if case is None:
            row.reject("case_id_number", "本社区没有这个证件号码的病例", "no case in this community has this ID number")
            return None
        degree = DEGREE_WORDS.get(_text(row.get("degree")).lower())
        if degree is None:
            row.reject("degree", "类别应为「密接」或「次密接」", "the kind must be 密接 (close) or 次密接 (secondary)")
            return None
        try:
            since = parse_date(row.get("since"))
        except ValueError as exc:
            row.reject("since", f"日期无法识别：{exc}", f"unreadable date: {exc}")
            return None
        if since is None:
            row.reject("since", "缺少接触日期", "missing contact date")
            return None
        if since > timezone.localdate() + dt.timedelta(days=1):
            row.reject("since", "接触日期在未来", "the contact date is in the future")
            return None
        name = _text(row.get("name"))
        id_number = _id_text(row.get("id_number"))
        resident = residents.get(id_number) if id_number else None
        if resident is not None and name and name != resident.name:
            row.reject("name", f"姓名与花名册不符（{resident.name[:1]}**）", "the name does not match the roster")
            return None
        phone = ""
        raw_phone = _text(row.get("phone"))
        if resident is None and raw_phone:
            try:
                phone = parse_phone(raw_phone, area=area).e164
            except PhoneError as exc:
                row.reject("phone", exc.zh, exc.en)
                return None
        via_number = _id_text(row.get("via_id_number"))
        if degree == Degree.SECONDARY and not via_number:
            row.reject(
                "via_id_number", "次密接须填写关联密接的证件号码", "a secondary contact needs its close contact's ID"
            )
            return None
        spec = ContactInput(
            case=case,
            degree=degree,
            since=since,
            resident=resident,
            outside_name=name,
            outside_id=id_number,
            outside_phone=phone,
            place=_text(row.get("place"))[:100],
        )
        return row.number, spec, via_number

    rows = rows_check(mapped, parse, report)
    for number, spec, via_number in sorted(rows, key=lambda r: r[1].degree != Degree.CLOSE):
        via = None
        if via_number:
            via_resident = residents.get(via_number)
            key = f"r:{via_resident.pk}" if via_resident is not None else _outside_key("", via_number, "")
            via = CloseContact.objects.filter(case=spec.case, key=key, degree=Degree.CLOSE).first()
            if via is None:
                report.reject(
                    number,
                    "via_id_number",
                    "找不到这名次密接关联的密接",
                    "the close contact of this secondary contact is not on record",
                )
                continue
        try:
            _contact, created = contact_record_in_transaction(
                dataclasses.replace(spec, via=via), origin=CloseContact.Origin.DISTRICT, actor=actor
            )
        except ContactError as exc:
            report.reject(number, "name", exc.zh, exc.en)
            continue
        report.count("created" if created else "unchanged")
    audit_record(
        action=AuditAction.CONTACTS_IMPORT,
        actor=actor,
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"filename": masked(filename), **report.counts()},
    )
    return report


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class FollowUp:
    contact_id: int
    case_id: int
    name: str
    where: str  # the household, or "outside"
    degree: str
    place: str
    day_number: int
    days: int
    until: dt.date
    test_today: bool  # a resident at home: the door-to-door test is due today
    became_case: bool


def contacts_follow_up(community: Community, day: dt.date) -> list[FollowUp]:
    """The contacts in isolation on ``day``, with what is due: one query."""
    later_case = Case.objects.filter(resident_id=OuterRef("resident_id"), report_date__gte=OuterRef("since"))
    rows = (
        CloseContact.objects.filter(case__community=community, since__lte=day, until__gte=day)
        .select_related("resident__household__building__compound")
        .annotate(became_case=Exists(later_case))
        .order_by("until", "pk")
    )
    result = []
    for c in rows:
        resident = c.resident
        result.append(
            FollowUp(
                contact_id=c.pk,
                case_id=c.case_id,
                name=resident.name if resident is not None else c.outside_name,
                where=resident.household.full_label if resident is not None else "",
                degree=c.degree,
                place=c.place,
                day_number=(day - c.since).days + 1,
                days=(c.until - c.since).days + 1,
                until=c.until,
                test_today=resident is not None and not c.place,
                became_case=bool(c.became_case),
            )
        )
    return result


@dataclass
class ChainNode:
    case_id: int
    name: str
    report_date: dt.date
    contacts: list[tuple[str, str, bool, int | None]]  # (name, degree, became a case, that case's id)


def transmission(community: Community, compound_id: int | None = None) -> list[ChainNode]:
    """Case → its contacts → the cases among them, per compound (the case's building's): two queries."""
    cases = Case.objects.filter(community=community).select_related("resident").order_by("report_date", "pk")
    if compound_id is not None:
        cases = cases.filter(building__compound_id=compound_id)
    nodes = {c.pk: ChainNode(c.pk, c.resident.name, c.report_date, []) for c in cases}
    later = Case.objects.filter(resident_id=OuterRef("resident_id"), report_date__gte=OuterRef("since"))
    for contact in (
        CloseContact.objects.filter(case_id__in=list(nodes))
        .select_related("resident")
        .annotate(later_case=later.values("pk")[:1])
        .order_by("case_id", "degree", "pk")
    ):
        name = contact.resident.name if contact.resident is not None else contact.outside_name
        later_id = contact.later_case
        nodes[contact.case_id].contacts.append((name, contact.degree, later_id is not None, later_id))
    return list(nodes.values())


@transaction.atomic(durable=True)
def contact_add(
    *,
    community: Community,
    case_id: int,
    name: str,
    id_number: str,
    phone: str,
    degree: str,
    since: dt.date,
    place: str,
    via_id: int | None,
    actor: User | None,
) -> tuple[CloseContact, bool]:
    """A contact typed by staff: a resident where the ID number matches, else an outside person."""
    case = Case.objects.select_related("community").filter(pk=case_id, community=community).first()
    if case is None:
        raise ContactError("请选择病例", "choose the case")
    if degree not in Degree.values:
        raise ContactError("类别应为密接或次密接", "the kind must be close or secondary")
    if since > timezone.localdate() + dt.timedelta(days=1):
        raise ContactError("接触日期在未来", "the contact date is in the future")
    number = _id_text(id_number)
    resident = Resident.objects.filter(community=community, id_number=number).first() if number else None
    if resident is not None and _text(name) and _text(name) != resident.name:
        raise ContactError("姓名与花名册不符", "the name does not match the roster")
    e164 = ""
    if resident is None and _text(phone):
        try:
            e164 = parse_phone(_text(phone), area=community.phone_area_code).e164
        except PhoneError as exc:
            raise ContactError(exc.zh, exc.en) from exc
    via = None
    if degree == Degree.SECONDARY:
        via = CloseContact.objects.filter(pk=via_id or 0, case=case, degree=Degree.CLOSE).first()
        if via is None:
            raise ContactError("次密接须选择关联的密接", "a secondary contact needs the close contact they met")
    spec = ContactInput(
        case=case,
        degree=degree,
        since=since,
        resident=resident,
        outside_name=_text(name),
        outside_id=number,
        outside_phone=e164,
        place=_text(place),
        via=via,
    )
    contact, created = contact_record_in_transaction(spec, origin=CloseContact.Origin.STAFF, actor=actor)
    if created:
        audit_record(
            action=AuditAction.CONTACT_ADD,
            actor=actor,
            target_type="close_contact",
            target_id=contact.pk,
            community_id=community.pk,
            detail={"case": case.pk, "degree": degree, "resident": resident is not None},
        )
    return contact, created
