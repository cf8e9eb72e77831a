"""Writes for testing. Pages, the API, the commands and the demo all call these.

Every write is idempotent where a retry can happen: tubes by code, samples by (round, resident)
for pooled sampling, lab results one per tube, re-tests one pending per resident, antigen reports
one per resident per day and one submission per client-generated id.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Count, Min
from django.utils import timezone, translation

from fangzhou.accounts.audit import AuditAction, audit_record, audit_row, audit_values, masked
from fangzhou.accounts.models import AuditLog, User
from fangzhou.cases.models import Case
from fangzhou.cases.services import case_confirm_in_transaction
from fangzhou.lib.bulk import LOOKUP_CHUNK, rows_stage, stage_analyze, stage_drop, tables_analyze
from fangzhou.lib.db import analyze
from fangzhou.lib.errors import Refused
from fangzhou.lib.fastsql import hot_cursor, insert, one_statement, upsert
from fangzhou.lib.files import file_store_on_commit
from fangzhou.lib.importing import (
    Columns,
    ImportReport,
    MappedStream,
    Rejection,
    chunks,
    rows_stream,
    sheet_stream,
)
from fangzhou.lib.sheetwrite import csv_text
from fangzhou.registry.models import Building, Community, Household, Resident
from fangzhou.testing import schedule as core
from fangzhou.testing import signals
from fangzhou.testing.models import (
    AntigenReport,
    AntigenResult,
    AntigenSubmission,
    BuildingSlot,
    KitHandout,
    LabResult,
    Result,
    Retest,
    Round,
    Sample,
    SamplingSite,
    Tube,
    TubeKind,
)
from fangzhou.testing.pooling import TubeFiller
from fangzhou.testing.selectors import (
    AntigenRead,
    HouseholdKey,
    antigen_read,
    antigen_retest_cause,
    exempt_resident_ids,
)
from fangzhou.workorders.models import CloseReason, Kind, Priority, Status, WorkOrder
from fangzhou.workorders.services import (
    OrderSpec,
    work_order_create_in_transaction,
    work_orders_close_in_transaction,
    work_orders_create_many_in_transaction,
)
from fangzhou.zones.selectors import sealed_building_ids

MAX_POOL_SIZE = 20


class TestingError(Refused):
    """A refused action, with the reason in Chinese and English."""

    __test__ = False


# --------------------------------------------------------------------------------------------------
# Rounds, sites, schedule


@transaction.atomic(durable=True)
def round_create(
    *, community: Community, date: dt.date, pool_size: int = 10, actor: User | None, note: str = ""
) -> Round:
    if not 1 <= pool_size <= MAX_POOL_SIZE:
        raise TestingError(
            f"混采管容量须在 1 到 {MAX_POOL_SIZE} 之间", f"the pool size must be between 1 and {MAX_POOL_SIZE}"
        )
    rnd = Round.objects.create(community=community, date=date, pool_size=pool_size, note=note[:200], created_by=actor)
    audit_record(
        action=AuditAction.ROUND_CREATE,
        actor=actor,
        target_type="round",
        target_id=rnd.pk,
        community_id=community.pk,
        detail={"date": date.isoformat(), "pool_size": pool_size},
    )
    return rnd


@transaction.atomic(durable=True)
def site_add(
    *,
    round: Round,
    name: str,
    desks: int,
    opens_at: dt.time,
    closes_at: dt.time,
    x: float | None = None,
    y: float | None = None,
    actor: User | None,
) -> SamplingSite:
    """Add (or update, by name) a sampling site of a round."""
    name = name.strip()
    if not name:
        raise TestingError("采样点名称不能为空", "the site name is empty")
    if desks < 1:
        raise TestingError("采样台数量至少为 1", "a site needs at least one desk")
    if closes_at <= opens_at:
        raise TestingError("结束时间须晚于开始时间", "the closing time must be after the opening time")
    site, _ = SamplingSite.objects.update_or_create(
        round=round, name=name, defaults={"desks": desks, "opens_at": opens_at, "closes_at": closes_at, "x": x, "y": y}
    )
    audit_record(
        action=AuditAction.SITE_SAVE,
        actor=actor,
        target_type="samplingsite",
        target_id=site.pk,
        community_id=round.community_id,
        detail={"name": name, "desks": desks},
    )
    return site


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def expected_by_building(rnd: Round) -> dict[int, int]:
    """Residents expected at the round per building (everyone but the exempt)."""
    exempt = exempt_resident_ids(rnd)
    counts: dict[int, int] = defaultdict(int)
    # The households filtered by the community's buildings too: without it the planner joins every
    # household of the database (a hash join over a whole subdistrict's households).
    residents = Resident.objects.filter(
        community_id=rnd.community_id, household__building__community_id=rnd.community_id
    )
    for resident_id, building_id in residents.values_list("id", "household__building_id"):
        if resident_id not in exempt:
            counts[building_id] += 1
    return counts


@transaction.atomic(durable=True)
def round_schedule(
    *, round: Round, actor: User | None, per_desk_per_minute: float = 2.0, step: int = 10
) -> core.Schedule:
    """Give every building of the community a window at a site (replaces the previous schedule)."""
    sites = list(round.sites.all())
    if not sites:
        raise TestingError("请先添加采样点", "add a sampling site first")
    expected = expected_by_building(round)
    buildings = list(Building.objects.filter(community_id=round.community_id).order_by("id"))
    plan = core.schedule_round(
        [core.Site(s.pk, s.x or 0.0, s.y or 0.0, s.desks, _minutes(s.opens_at), _minutes(s.closes_at)) for s in sites],
        [core.Building(b.pk, b.x, b.y, expected.get(b.pk, 0)) for b in buildings],
        per_desk_per_minute=per_desk_per_minute,
        step=step,
    )
    tz = timezone.get_current_timezone()

    def at(minute: int) -> dt.datetime:
        return dt.datetime.combine(round.date, dt.time(minute // 60 % 24, minute % 60), tzinfo=tz)

    BuildingSlot.objects.filter(round=round).delete()
    BuildingSlot.objects.bulk_create(
        [
            BuildingSlot(
                round=round,
                building_id=s.building_id,
                site_id=s.site_id,
                starts_at=at(s.start),
                ends_at=at(s.end),
                expected=s.people,
            )
            for s in plan.slots
        ]
    )
    audit_record(
        action=AuditAction.ROUND_SCHEDULE,
        actor=actor,
        target_type="round",
        target_id=round.pk,
        community_id=round.community_id,
        detail={"slots": len(plan.slots), "unscheduled": plan.unscheduled},
    )
    return plan


# --------------------------------------------------------------------------------------------------
# Sampling


@dataclass
class TakeResult:
    tube: Tube  # the tube the last resident went into
    samples: list[Sample]
    closed: list[str] = field(default_factory=list)  # tube codes closed by this call
    single: bool = False


def _lock_round(rnd: Round) -> Round:
    locked = Round.objects.select_for_update().get(pk=rnd.pk)
    if locked.status != Round.Status.OPEN:
        raise TestingError("本轮次已结束，不能再采样", "this round is closed")
    return locked


def _new_code(rnd: Round) -> str:
    n = Tube.objects.filter(round=rnd).count() + 1
    while True:
        code = f"R{rnd.pk}-{n:04d}"
        if not Tube.objects.filter(code=code).exists():
            return code
        n += 1


def _clean_code(code: str) -> str:
    return re.sub(r"\s+", "", code or "").upper()


def _check_new_code(code: str) -> str:
    code = _clean_code(code)
    if not re.fullmatch(r"[A-Z0-9-]{4,40}", code):
        raise TestingError(f"试管编码「{code}」无效", f"tube code {code!r} is not valid")
    if Tube.objects.filter(code=code).exists():
        raise TestingError(f"试管编码 {code} 已被使用", f"tube code {code} is already used")
    return code


def sample_take(
    *,
    round: Round,
    residents: Sequence[Resident],
    actor: User | None,
    station: str,
    site: SamplingSite | None = None,
    door_to_door: bool = False,
    tube_code: str = "",
    at: dt.datetime | None = None,
    receipt: Callable[[TakeResult], None] | None = None,
) -> TakeResult:
    """Put residents (usually one household, or one person) into the station's open tube.

    ``receipt`` (a phone's outbox tap) is called with the result inside the transaction.

    Residents pending re-test each get a single tube (单采) instead. A resident already in a pooled
    tube of this round is refused, naming them. Members of one household stay in one tube when they
    fit (:class:`TubeFiller` with one open tube per station); a full tube is closed at once.
    """
    if not residents:
        raise TestingError("请选择要采样的居民", "choose who to sample")
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        rnd = _lock_round(round)
        ids = [r.pk for r in residents]
        if len(set(ids)) != len(ids):
            raise TestingError("同一居民被选了两次", "the same resident was chosen twice")
        if any(r.community_id != rnd.community_id for r in residents):
            raise TestingError("居民不属于本社区", "a resident does not belong to this community")
        if site is not None and site.round_id != rnd.pk:
            raise TestingError("采样点不属于本轮次", "the site belongs to another round")
        if not door_to_door:
            _refuse_sealed_at_a_site(rnd, residents)
        pending = set(
            Retest.objects.filter(resident_id__in=ids, status=Retest.Status.PENDING).values_list(
                "resident_id", flat=True
            )
        )
        pooled_ids = [i for i in ids if i not in pending]
        already = list(
            Sample.objects.filter(round=rnd, resident_id__in=pooled_ids, kind=TubeKind.POOLED).select_related(
                "resident", "tube"
            )
        )
        if already:
            names = "、".join(f"{s.resident.name}（{s.tube.code}）" for s in already)
            names_en = ", ".join(f"{s.resident.name} (tube {s.tube.code})" for s in already)
            raise TestingError(
                f"本轮已采过：{names}，不能重复混采", f"already sampled in this round: {names_en}; not sampled again"
            )
        samples: list[Sample] = []
        closed: list[str] = []
        by_id = {r.pk: r for r in residents}
        last_tube: Tube | None = None
        code_given = _check_new_code(tube_code) if tube_code else ""

        def new_tube(kind: str, pool_size: int, status: str) -> Tube:
            nonlocal code_given
            code = code_given or _new_code(rnd)
            code_given = ""
            return Tube.objects.create(
                round=rnd,
                code=code,
                kind=kind,
                pool_size=pool_size,
                status=status,
                site=site,
                station="" if status != Tube.Status.OPEN else station,
                door_to_door=door_to_door,
                opened_by=actor,
                closed_at=at if status != Tube.Status.OPEN else None,
            )

        def sample_in(tube: Tube, resident_id: int, kind: str) -> Sample:
            return Sample.objects.create(
                community_id=rnd.community_id,
                round=rnd,
                resident=by_id[resident_id],
                tube=tube,
                kind=kind,
                sampled_at=at,
                site=site,
                door_to_door=door_to_door,
                taken_by=actor,
            )

        for resident_id in [i for i in ids if i in pending]:
            tube = new_tube(TubeKind.SINGLE, 1, Tube.Status.CLOSED)
            samples.append(sample_in(tube, resident_id, TubeKind.SINGLE))
            closed.append(tube.code)
            last_tube = tube
        if pooled_ids:
            open_tube = Tube.objects.filter(round=rnd, station=station, status=Tube.Status.OPEN).first()
            filler: TubeFiller[int] = TubeFiller(rnd.pool_size, max_open=1)
            tubes: list[Tube] = []
            inside = list(open_tube.samples.values_list("resident_id", flat=True)) if open_tube else []
            if open_tube is not None and inside:
                filler.add_household(inside)  # index 0: the tube already in the desk's hand
                tubes.append(open_tube)
            elif open_tube is not None:
                _close(open_tube, at)
            placement = filler.add_household(pooled_ids)
            for resident_id, index in zip(pooled_ids, placement, strict=True):
                while index >= len(tubes):
                    # one open tube per station: opening a tube seals the one before it
                    for earlier in tubes:
                        if earlier.status == Tube.Status.OPEN:
                            _close(earlier, at)
                            closed.append(earlier.code)
                    tubes.append(new_tube(TubeKind.POOLED, rnd.pool_size, Tube.Status.OPEN))
                tube = tubes[index]
                samples.append(sample_in(tube, resident_id, TubeKind.POOLED))
                last_tube = tube
            open_now = set(filler.open_tubes)
            for index, tube in enumerate(tubes):
                if index not in open_now and tube.status == Tube.Status.OPEN:
                    _close(tube, at)
                    closed.append(tube.code)
        assert last_tube is not None
        audit_record(
            action=AuditAction.SAMPLE_TAKE,
            actor=actor,
            target_type="tube",
            target_id=last_tube.pk,
            community_id=rnd.community_id,
            detail={"residents": ids, "single": sorted(pending & set(ids)), "station": station},
        )
        result = TakeResult(tube=last_tube, samples=samples, closed=closed, single=bool(pending))
        if receipt is not None:
            receipt(result)
    return result


def _refuse_sealed_at_a_site(rnd: Round, residents: Sequence[Resident]) -> None:
    """Nobody from a sealed building (or micro sealed zone, or sealed compound) on the round's date
    is sampled at a central site: they stay home and are sampled at their door (上门采样)."""
    sealed = sealed_building_ids(Community.objects.get(pk=rnd.community_id), rnd.date)
    stopped = [r for r in residents if r.household.building_id in sealed]
    if stopped:
        names = "、".join(r.name for r in stopped)
        raise TestingError(
            f"封控楼，应上门采样：{names}（不在采样点混采）",
            f"sealed building: sample at the door: {', '.join(r.name for r in stopped)} (not pooled at a site)",
        )


def _close(tube: Tube, at: dt.datetime) -> None:
    Tube.objects.filter(pk=tube.pk, status=Tube.Status.OPEN).update(status=Tube.Status.CLOSED, closed_at=at, station="")
    tube.status = Tube.Status.CLOSED
    tube.closed_at = at
    tube.station = ""


@transaction.atomic(durable=True)
def tube_close(*, tube: Tube, actor: User | None) -> Tube:
    """Close an open tube (staff close it before it is full). Closing a closed tube changes nothing."""
    if tube.status == Tube.Status.OPEN:
        _close(tube, timezone.now())
        audit_record(
            action=AuditAction.TUBE_CLOSE,
            actor=actor,
            target_type="tube",
            target_id=tube.pk,
            community_id=tube.round.community_id,
            detail={"code": tube.code},
        )
    return tube


@transaction.atomic(durable=True)
def round_close(*, round: Round, actor: User | None) -> Round:
    now = timezone.now()
    for tube in Tube.objects.filter(round=round, status=Tube.Status.OPEN):
        _close(tube, now)
    if Round.objects.filter(pk=round.pk, status=Round.Status.OPEN).update(status=Round.Status.CLOSED):
        audit_record(
            action=AuditAction.ROUND_CLOSE,
            actor=actor,
            target_type="round",
            target_id=round.pk,
            community_id=round.community_id,
        )
    round.status = Round.Status.CLOSED
    return round


# --------------------------------------------------------------------------------------------------
# Imports (shared helpers)

SAMPLE_COLUMNS = {
    "tube": ("试管编码", "试管码", "管码", "tube_code", "tube"),
    "id_number": ("证件号码", "身份证号", "身份证号码", "id_number"),
    "name": ("姓名", "name"),
    "sampled_at": ("采样时间", "sampled_at"),
    "site": ("采样点", "site"),
}
RESULT_COLUMNS = {
    "tube": ("试管编码", "试管码", "管码", "tube_code", "tube"),
    "result": ("检测结果", "结果", "result"),
    "ct_orf1ab": ("ct_orf1ab", "orf1ab", "orf1abct", "orf1ab_ct", "ct值orf1ab", "orf1ab基因ct值"),
    "ct_n": ("ct_n", "n", "nct", "n_ct", "ct值n", "n基因ct值"),
    "tested_at": ("检测时间", "tested_at"),
}
# A city round: 250,000 people in 25,000 tubes per district.
SAMPLES = Columns(SAMPLE_COLUMNS, ("tube", "id_number"), max_rows=300_000)
RESULTS = Columns(RESULT_COLUMNS, ("tube", "result"), max_rows=300_000)
RESULT_WORDS = {
    "阴性": Result.NEGATIVE,
    "negative": Result.NEGATIVE,
    "neg": Result.NEGATIVE,
    "阳性": Result.POSITIVE,
    "positive": Result.POSITIVE,
    "pos": Result.POSITIVE,
    "无效": Result.INVALID,
    "invalid": Result.INVALID,
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _when(value: Any, default: dt.datetime) -> dt.datetime | None:
    """A timestamp cell (datetime, date or text) as an aware datetime; None if unreadable."""
    tz = timezone.get_current_timezone()
    if value is None or value == "":
        return default
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(12, 0), tzinfo=tz)
    text = _text(value).replace("/", "-").replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware on the next line
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz)
    return None


# --------------------------------------------------------------------------------------------------
# Samples import


@dataclass
class SamplesReport(ImportReport):
    """The import report; ``created`` counts the samples written, ``tubes`` the tubes opened."""

    tubes: int = 0
    single: int = 0

    @property
    def samples(self) -> int:
        return self.created

    def as_dict(self) -> dict[str, Any]:
        return {
            "tubes": self.tubes,
            "samples": self.samples,
            "single_tube_retests": self.single,
            "unchanged": self.unchanged,
            "rejected": self.rejections(),
        }


ANALYZE_AFTER = 1000  # rows written by one import before the planner's statistics are refreshed


def _stream(
    data: bytes | None, filename: str, rows: Sequence[Mapping[str, Any]] | None, columns: Columns, report: ImportReport
) -> MappedStream:
    """An uploaded file's rows, or the rows a machine client posted (``rows``), mapped to ``columns``
    and read as the import asks for them (the header is checked at once, before any lock)."""
    if rows is not None:
        return rows_stream(rows, columns, report)
    return sheet_stream(data=data, filename=filename, columns=columns, report=report)


def samples_import(
    *,
    round: Round,
    data: bytes | None = None,
    filename: str,
    actor: User | None,
    rows: Sequence[Mapping[str, Any]] | None = None,
    then: Callable[[SamplesReport], None] | None = None,
) -> SamplesReport:
    """Samples taken in another app: tube code, document number, name, time, site; see the issue.

    From a file (``data``), or from the rows the city sampling app posts (``rows``, keyed like the
    columns: ``tube``, ``id_number``, ``name``, ``sampled_at``, ``site``). ``then`` runs in the
    import's transaction, the round still locked (the API keeps its answer there).

    Checked in the database (a city round is 250,000 rows): the file is read a row at a time and
    each row's cells, as plain text (the tube code cleaned, the document number upper-cased, the
    time parsed once per distinct cell), are staged into a temporary table by one COPY (PostgreSQL;
    ``executemany`` elsewhere). Every rejection reason is then a column of one set-based
    statement over it (:func:`_samples_checked`), the new tubes and the samples one
    ``INSERT … SELECT`` each, so Python touches only the rejected rows. Then ANALYZE."""
    report = SamplesReport()
    mapped = _stream(data, filename, rows, SAMPLES, report)
    with transaction.atomic(durable=True):
        rnd = _lock_round(round)
        now = dt.datetime.combine(rnd.date, dt.time(12, 0), tzinfo=timezone.get_current_timezone())
        report.rows_read = rows_stage(_STAGE, _stage_columns(), _staged_rows(mapped, now), analyze=("code", "doc"))
        _samples_checked(rnd)
        with connection.cursor() as cursor:
            cursor.execute(_samples_sql(_REJECTED_SQL), {"round": rnd.pk})
            for rejection in cursor.fetchall():
                report.rejected.append(_sample_rejection(*rejection))
            cursor.execute(_samples_sql(_COUNTS_SQL))
            unchanged, kept, single = cursor.fetchone()
            report.count("unchanged", int(unchanged or 0))
            if kept:
                report.tubes = _tubes_insert(cursor, rnd, actor)
                report.count("created", _samples_insert(cursor, rnd, actor))
                report.single += int(single or 0)
        # Dropped on success only: after an error the transaction is aborted (PostgreSQL refuses even a
        # DROP) and its rollback, or the caller's savepoint's, removes the staged tables with the rest.
        stage_drop(_STAGE, _CHECKED, _ACCEPTED)
        if then is not None:
            then(report)
        audit_record(
            action=AuditAction.SAMPLES_IMPORT,
            actor=actor,
            target_type="round",
            target_id=str(rnd.pk),
            community_id=rnd.community_id,
            detail={
                "filename": masked(filename),
                **{k: v for k, v in report.as_dict().items() if k != "rejected"},
                "rejected": len(report.rejected),
            },
        )
        analyze(Sample, Tube, rows=report.created)
    return report


# The staged file: one row per data row, every cell plain text (the time as the database's own
# timestamp text, or NULL when it cannot be read). Names are constants, never input.
_STAGE = "fz_samples_in"
_CHECKED = "fz_samples_checked"
_ACCEPTED = "fz_samples_accepted"


def _stage_columns() -> tuple[tuple[str, str], ...]:
    at = "timestamp with time zone" if connection.vendor == "postgresql" else "text"  # Django's own text on SQLite
    return (("rn", "integer"), ("code", "text"), ("doc", "text"), ("name", "text"), ("at", at), ("site", "text"))


def _staged_rows(mapped: MappedStream, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Each data row as the plain values the checks compare: the Python half of the checks, done
    once per distinct cell where cells repeat (tube codes, times) and on plain strings otherwise.

    The same cleaning as one row at a time: the tube code without any whitespace, upper-cased
    (:func:`_clean_code`), the document number stripped and upper-cased, the name and the site
    stripped (:func:`_text`), the time by :func:`_when` (empty: the round's day at noon; unreadable:
    NULL, rejected in SQL)."""
    vendor = connection.vendor
    adapt = connection.ops.adapt_datetimefield_value
    codes: dict[Any, str] = {}
    times: dict[Any, Any] = {}
    for number, cells in mapped.rows:
        cell = cells.get("tube")
        try:
            code = codes[cell]
        except KeyError:
            code = codes[cell] = _clean_code(_text(cell))
        except TypeError:
            code = _clean_code(_text(cell))
        doc = cells.get("id_number")
        doc = doc.strip().upper() if type(doc) is str else _text(doc).upper()
        name = cells.get("name")
        name = name.strip() if type(name) is str else _text(name)
        site = cells.get("site")
        site = site.strip() if type(site) is str else _text(site)
        cell = cells.get("sampled_at")
        try:
            at = times[cell]
        except KeyError:
            at = times[cell] = _time_value(_when(cell, now), vendor, adapt)
        except TypeError:
            at = _time_value(_when(cell, now), vendor, adapt)
        yield number, code, doc, name, at, site


def _time_value(value: dt.datetime | None, vendor: str, adapt: Callable[[Any], Any]) -> Any:
    if value is None:
        return None
    return value.isoformat() if vendor == "postgresql" else adapt(value)


def _samples_sql(template: str) -> str:
    qn = connection.ops.quote_name
    return template.format(
        stage=qn(_STAGE),
        checked=qn(_CHECKED),
        accepted=qn(_ACCEPTED),
        resident=qn(Resident._meta.db_table),
        tube=qn(Tube._meta.db_table),
        sample=qn(Sample._meta.db_table),
        retest=qn(Retest._meta.db_table),
        site=qn(SamplingSite._meta.db_table),
    )


# Why a row is not imported, in the order one row at a time checks them (the first that applies):
# 1 no tube code, 2 no document number, 3 no such resident in the community, 4 a name that is not
# the registered one, 5 a tube of another round, 6 an unreadable time; then, among the rows that
# pass, per resident in row order (the first row naming them that is not stored yet is the one
# taken): 7 a duplicate of an earlier row (the same tube), 8 already stored (unchanged), 9 the
# resident already in another tube of this file; 0 accepted. Per resident, one window (no sort
# within it): the first row (r0) and the first row not stored (r1), and their tube codes as the
# least of "row number as 7 digits, then the code" (k0, k1; the rows are at most 300,000).
# (10, pooled already in this round, is decided with the tubes: :data:`_ACCEPTED_SQL`.)
_CHECKED_SQL = """
CREATE TEMPORARY TABLE {checked} AS
SELECT w.*,
    CASE WHEN w.bad <> 0 THEN w.bad
         WHEN w.stored = 0 AND w.rn = w.r1 THEN 0
         WHEN w.stored = 0 AND w.code = SUBSTR(w.k1, 8) THEN 7
         WHEN w.stored = 0 THEN 9
         WHEN w.rn <> w.r0 AND w.code = SUBSTR(w.k0, 8) AND (w.r1 IS NULL OR w.rn < w.r1) THEN 7
         ELSE 8 END AS verdict
FROM (
    SELECT c.*,
        MIN(c.rn) OVER per_resident AS r0,
        MIN(CASE WHEN c.stored = 0 THEN c.rn END) OVER per_resident AS r1,
        MIN(CAST(c.rn + 1000000 AS TEXT) || c.code) OVER per_resident AS k0,
        MIN(CASE WHEN c.stored = 0 THEN CAST(c.rn + 1000000 AS TEXT) || c.code END) OVER per_resident AS k1
    FROM (
        SELECT t.rn, t.code, t.name, t.at, t.site,
            r.id AS resident_id, r.name AS registered,
            tb.id AS tube_id, tb.round_id AS tube_round, tb.kind AS tube_kind,
            CASE WHEN t.code = '' THEN 1
                 WHEN t.doc = '' THEN 2
                 WHEN r.id IS NULL THEN 3
                 WHEN t.name <> '' AND t.name <> r.name THEN 4
                 WHEN tb.id IS NOT NULL AND tb.round_id <> %(round)s THEN 5
                 WHEN t.at IS NULL THEN 6
                 ELSE 0 END AS bad,
            CASE WHEN s.id IS NULL THEN 0 ELSE 1 END AS stored
        FROM {stage} t
        LEFT JOIN (
            SELECT id_number, MAX(id) AS id FROM {resident}
            WHERE community_id = %(community)s AND id_number <> '' GROUP BY id_number
        ) k ON k.id_number = t.doc
        LEFT JOIN {resident} r ON r.id = k.id
        LEFT JOIN {tube} tb ON tb.code = t.code
        LEFT JOIN {sample} s ON s.tube_id = tb.id AND s.resident_id = r.id AND s.round_id = %(round)s
    ) c
    WINDOW per_resident AS (PARTITION BY c.resident_id, c.bad)
) w
"""

# The accepted rows with what their tube decides: single (a stored single tube, or a new tube of one
# resident pending re-test) or pooled; a pooled row of a resident already pooled in this round is
# rejected (final 10), every other kept (final 0). The tube's site is its first kept row's, its
# label the first site named by an accepted row (the least "row number, then the site", as above).
_ACCEPTED_SQL = """
CREATE TEMPORARY TABLE {accepted} AS
SELECT f.*,
    SUBSTR(MIN(CASE WHEN f.final = 0 THEN CAST(f.rn + 1000000 AS TEXT) || f.site END) OVER per_code, 8) AS first_site,
    SUBSTR(MIN(CASE WHEN f.site <> '' THEN CAST(f.rn + 1000000 AS TEXT) || f.site END) OVER per_code, 8) AS label
FROM (
    SELECT g.*, CASE WHEN g.single = 0 AND g.pooled_code IS NOT NULL THEN 10 ELSE 0 END AS final
    FROM (
        SELECT a.rn, a.code, a.at, a.site, a.resident_id, a.tube_id, p.code AS pooled_code,
            CASE WHEN a.tube_id IS NOT NULL THEN (CASE WHEN a.tube_kind = 'single' THEN 1 ELSE 0 END)
                 WHEN COUNT(*) OVER (PARTITION BY a.code) = 1 AND q.resident_id IS NOT NULL THEN 1
                 ELSE 0 END AS single
        FROM {checked} a
        LEFT JOIN (
            SELECT s.resident_id, tb.code FROM {sample} s JOIN {tube} tb ON tb.id = s.tube_id
            WHERE s.round_id = %(round)s AND s.kind = 'pooled'
        ) p ON p.resident_id = a.resident_id
        LEFT JOIN (
            SELECT DISTINCT resident_id FROM {retest} WHERE community_id = %(community)s AND status = 'pending'
        ) q ON q.resident_id = a.resident_id
        WHERE a.verdict = 0
    ) g
) f
WINDOW per_code AS (PARTITION BY f.code)
"""

_REJECTED_SQL = """
SELECT rn, verdict, code, registered, tube_round,
    CASE WHEN verdict = 7 AND stored = 1 THEN r0 ELSE r1 END, SUBSTR(k1, 8)
FROM {checked} WHERE verdict NOT IN (0, 8)
UNION ALL
SELECT rn, 10, pooled_code, NULL, NULL, NULL, NULL FROM {accepted} WHERE final = 10
ORDER BY 1
"""

_COUNTS_SQL = """
SELECT (SELECT COUNT(*) FROM {checked} WHERE verdict = 8),
    (SELECT COUNT(*) FROM {accepted} WHERE final = 0),
    (SELECT COUNT(*) FROM {accepted} WHERE final = 0 AND single = 1)
"""


def _samples_checked(rnd: Round) -> None:
    """The staged rows checked (every rejection reason one column of one statement), then the
    accepted rows with their tubes decided: two temporary tables."""
    params = {"round": rnd.pk, "community": rnd.community_id}
    with connection.cursor() as cursor:
        cursor.execute(_samples_sql(_CHECKED_SQL), params)
        stage_analyze(_CHECKED, ("verdict", "resident_id"))
        cursor.execute(_samples_sql(_ACCEPTED_SQL), params)
        stage_analyze(_ACCEPTED, ("code", "final", "tube_id"))


def _sample_rejection(
    row: int, verdict: int, code: str, registered: str | None, tube_round: int | None, earlier: int | None, tube: str
) -> Rejection:
    """A checked row's rejection, in the words the one-row-at-a-time checks used."""
    if verdict == 1:
        return Rejection(row, "tube", "缺少试管编码", "tube code missing")
    if verdict == 2:
        return Rejection(row, "id_number", "缺少证件号码", "document number missing")
    if verdict == 3:
        return Rejection(row, "id_number", "本社区没有此证件号码的居民", "unknown resident")
    if verdict == 4:
        return Rejection(row, "name", f"姓名与登记不符（登记为 {registered}）", "name does not match the registry")
    if verdict == 5:
        zh = f"试管 {code} 属于另一轮次（#{tube_round}）"
        return Rejection(row, "tube", zh, f"tube belongs to round {tube_round}")
    if verdict == 6:
        return Rejection(row, "sampled_at", "采样时间无法识别", "unreadable sampled_at")
    if verdict == 7:
        return Rejection(row, "id_number", f"与第 {earlier} 行重复", f"duplicate of row {earlier}")
    if verdict == 9:
        return Rejection(
            row,
            "id_number",
            f"同一居民已在第 {earlier} 行的试管 {tube} 中",
            f"resident already in tube {tube} (row {earlier})",
        )
    return Rejection(row, "id_number", f"本轮已混采（试管 {code}）", f"already sampled in this round (tube {code})")


def _db_value(value: Any) -> Any:
    """A parameter as the ORM would send it (datetimes naive UTC text on SQLite)."""
    if isinstance(value, dt.datetime) and connection.vendor != "postgresql":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _tubes_insert(cursor: Any, rnd: Round, actor: User | None) -> int:
    """One INSERT … SELECT of the new tubes (codes with a kept row and no stored tube), closed at
    their latest kept sample; returns how many."""
    qn = connection.ops.quote_name
    columns = (
        "round_id",
        "code",
        "kind",
        "pool_size",
        "status",
        "site_id",
        "site_label",
        "station",
        "door_to_door",
        "opened_by_id",
        "opened_at",
        "closed_at",
        "imported",
    )
    sql = _samples_sql(
        f"INSERT INTO {{tube}} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608 - names from the models
        "SELECT %(round)s, g.code, CASE WHEN g.single = 1 THEN 'single' ELSE 'pooled' END, "
        "CASE WHEN g.single = 1 THEN 1 ELSE %(pool_size)s END, 'closed', ss.id, SUBSTR(g.label, 1, 64), '', "
        "%(false)s, %(actor)s, %(now)s, g.closed_at, %(true)s "
        "FROM (SELECT code, MAX(single) AS single, "
        "      MAX(CASE WHEN final = 0 THEN first_site END) AS first_site, "
        "      MAX(CASE WHEN final = 0 THEN at END) AS closed_at, "
        "      COALESCE(MAX(label), '') AS label "
        "      FROM {accepted} WHERE tube_id IS NULL GROUP BY code "
        "      HAVING SUM(CASE WHEN final = 0 THEN 1 ELSE 0 END) > 0) g "
        "LEFT JOIN {site} ss ON ss.round_id = %(round)s AND ss.name = g.first_site "
        "ORDER BY g.code"
    )
    return _run(cursor, sql, rnd, actor)


def _sample_columns() -> tuple[tuple[str, str], ...]:
    """The samples' columns and where each comes from in :func:`_samples_insert`: the one list of
    what an imported sample is written with (``a`` the kept row, ``tb`` its tube, ``ss`` its site)."""
    return (
        ("round_id", "%(round)s"),
        ("resident_id", "a.resident_id"),
        ("tube_id", "tb.id"),
        ("kind", "tb.kind"),
        ("sampled_at", "a.at"),
        ("site_id", "ss.id"),
        ("door_to_door", "%(false)s"),
        ("taken_by_id", "%(actor)s"),
        ("community_id", "%(community)s"),  # the round's community, copied on write
    )


def _samples_insert(cursor: Any, rnd: Round, actor: User | None) -> int:
    """One INSERT … SELECT of the kept rows into their tubes (stored or just inserted); returns how many."""
    qn = connection.ops.quote_name
    columns = _sample_columns()
    sql = _samples_sql(
        f"INSERT INTO {{sample}} ({', '.join(qn(c) for c, _ in columns)}) "  # noqa: S608 - names from the models
        f"SELECT {', '.join(e for _, e in columns)} FROM {{accepted}} a "
        "JOIN {tube} tb ON tb.code = a.code "
        "LEFT JOIN {site} ss ON ss.round_id = %(round)s AND ss.name = a.site "
        "WHERE a.final = 0 ORDER BY a.rn"
    )
    return _run(cursor, sql, rnd, actor)


def _run(cursor: Any, sql: str, rnd: Round, actor: User | None) -> int:
    cursor.execute(
        sql,
        {
            "round": rnd.pk,
            "community": rnd.community_id,
            "pool_size": rnd.pool_size,
            "actor": actor.pk if actor is not None else None,
            "now": _db_value(timezone.now()),
            "false": False,
            "true": True,
        },
    )
    return int(cursor.rowcount)


# --------------------------------------------------------------------------------------------------
# Lab results


@dataclass
class ResultsReport(ImportReport):
    """The import report; ``created`` counts the tubes given a result, then what the results did."""

    negative: int = 0
    positive_tubes: list[str] = field(default_factory=list)
    invalid_tubes: list[str] = field(default_factory=list)
    retest: list[str] = field(default_factory=list)
    confirmed_positive: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    @property
    def tubes(self) -> int:
        return self.created

    def as_dict(self) -> dict[str, Any]:
        return {
            "tubes": self.tubes,
            "negative": self.negative,
            "positive_tubes": self.positive_tubes,
            "invalid_tubes": self.invalid_tubes,
            "retest": self.retest,
            "confirmed_positive": self.confirmed_positive,
            "cleared": self.cleared,
            "unchanged": self.unchanged,
            "rejected": self.rejections(),
        }


def _ct(value: Any) -> tuple[float | None, bool]:
    text = _text(value)
    if not text or text in {"-", "/", "N/A", "NA", "无"}:
        return None, True
    try:
        number = float(text)
    except ValueError:
        return None, False
    return number, 0 <= number <= 50


def _doc(resident: Resident) -> str:
    return resident.id_number or f"#{resident.pk}"


def retest_open(
    *,
    resident: Resident,
    reason: str,
    actor: User | None,
    round: Round | None = None,
    tube: Tube | None = None,
    key: str,
) -> tuple[Retest, bool]:
    """Put a resident on the re-test list (once) with a door-to-door single-tube work order.

    A step of the results import and the antigen report: runs inside the caller's transaction."""
    existing = Retest.objects.filter(resident=resident, status=Retest.Status.PENDING).first()
    if existing is not None:
        return existing, False
    order, _created = work_order_create_in_transaction(
        community=resident.community,
        kind=Kind.RETEST,
        **_retest_title_fields(resident),
        actor=actor,
        detail=_retest_reason_text(reason),
        priority=Priority.URGENT,
        resident=resident,
        source_key=f"retest:{key}:{resident.pk}",
    )
    try:
        with transaction.atomic():  # a savepoint: one pending re-test per resident (unique constraint)
            retest = Retest.objects.create(
                community_id=resident.community_id,
                resident=resident,
                round=round,
                source_tube=tube,
                reason=reason,
                work_order=order,
            )
    except IntegrityError:
        return Retest.objects.get(resident=resident, status=Retest.Status.PENDING), False
    audit_record(
        action=AuditAction.RETEST_OPEN,
        actor=actor,
        target_type="retest",
        target_id=retest.pk,
        community_id=resident.community_id,
        detail={"resident": resident.pk, "reason": reason},
    )
    return retest, True


# Which kind of case a re-test becomes when the committee confirms it from the list.
RETEST_CASE_SOURCE = {
    Retest.Reason.POSITIVE_TUBE: "pooled_pcr",
    Retest.Reason.INVALID_TUBE: "pooled_pcr",
    Retest.Reason.ANTIGEN: "antigen_pcr",
}


def retest_case_confirm(*, retest_id: int, actor: User, report_date: dt.date | None = None) -> tuple[Retest, Case]:
    """Confirm the case of a resident on the re-test list in one step (the district or a hospital
    reported the positive): the case is opened with the result that put them on the list as its
    source (a pooled tube, or an antigen positive then PCR), the re-test ends as confirmed and its
    door-to-door order is cancelled as moved to case handling, all in one transaction.

    Idempotent: a second call for a confirmed re-test returns the same case. A re-test that came back
    negative is refused."""
    day = report_date or timezone.localdate()
    if day > timezone.localdate():
        raise TestingError("报告日期不能在未来", "the report date cannot be in the future")
    with transaction.atomic(durable=True):
        retest = (
            Retest.objects.select_for_update(of=("self",))
            .select_related("resident__household__building__compound", "resident__community", "source_tube")
            .get(pk=retest_id)
        )
        resident = retest.resident
        if retest.status == Retest.Status.CONFIRMED:
            case = Case.objects.filter(resident=resident).order_by("-report_date", "-id").first()
            if case is not None:
                return retest, case
        if retest.status == Retest.Status.CLEARED:
            raise TestingError("复查已是阴性，不能据此确诊", "the re-test came back negative: no case to confirm")
        evidence = retest.source_tube.code if retest.source_tube else timezone.localtime(retest.created_at).date()
        case, _created = case_confirm_in_transaction(
            resident=resident,
            report_date=day,
            source=RETEST_CASE_SOURCE[Retest.Reason(retest.reason)],
            actor=actor,
            note=str(evidence),
        )
        _retest_resolve(resident, Retest.Status.CONFIRMED, actor)
        audit_record(
            action=AuditAction.RETEST_CONFIRM,
            actor=actor,
            target_type="retest",
            target_id=retest.pk,
            community_id=resident.community_id,
            detail={"resident": resident.pk, "case": case.pk, "reason": retest.reason, "evidence": str(evidence)},
        )
        retest.refresh_from_db()
    return retest, case


def results_import(
    *,
    round: Round,
    data: bytes | None = None,
    filename: str,
    actor: User | None,
    rows: Sequence[Mapping[str, Any]] | None = None,
    then: Callable[[ResultsReport], None] | None = None,
) -> ResultsReport:
    """Lab results per tube; applies the re-test rules. Bad rows are reported, never applied.

    From a file (``data``), or from the rows a lab system posts (``rows``: ``tube``, ``result``,
    ``ct_orf1ab``, ``ct_n``, ``tested_at``); ``then`` runs in the import's transaction, the round
    still locked (the API keeps its answer there).

    Checked in the database like :func:`samples_import`: the file is read a row at a time and each
    row's cells, as plain values (the tube code cleaned, the result word looked up, the Ct values
    and the time parsed once per distinct cell), are staged by one COPY (``executemany``
    elsewhere); one statement gives every row its verdict (:data:`_RESULTS_CHECKED_SQL`), the
    results are one ``INSERT … SELECT`` and their tubes one ``UPDATE``. Python touches only the
    rejected rows and the tubes whose result reaches a person (a positive or invalid pooled tube, a
    single tube): their members in one query, their re-tests, orders, events and audit rows in one
    multi-row insert each (:func:`_retests_open_many`)."""
    report = ResultsReport()
    mapped = _stream(data, filename, rows, RESULTS, report)
    with transaction.atomic(durable=True):
        rnd = Round.objects.select_for_update().get(pk=round.pk)
        now = timezone.now()
        report.rows_read = rows_stage(
            _RESULTS_STAGE, _results_stage_columns(), _results_staged_rows(mapped, now), analyze=("code",)
        )
        with connection.cursor() as cursor:
            cursor.execute(_results_sql(_RESULTS_CHECKED_SQL), {"round": rnd.pk})
            stage_analyze(_RESULTS_CHECKED, ("verdict", "tube_id"))
            cursor.execute(_results_sql(_RESULTS_REJECTED_SQL))
            report.rejected.extend(_result_rejections(cursor.fetchall()))
            cursor.execute(_results_sql(_RESULTS_COUNTS_SQL))
            unchanged, fresh, negative = cursor.fetchone()
            report.count("unchanged", int(unchanged or 0))
            report.negative = int(negative or 0)
            reaching: list[tuple[int, str, str, dt.datetime, bool]] = []
            if fresh:
                report.count("created", _lab_results_insert(cursor, rnd, actor, filename, now))
                if report.created >= ANALYZE_AFTER:
                    tables_analyze(LabResult, Tube)
                cursor.execute(_results_sql(_RESULTS_REACHING_SQL))
                reaching = [
                    (tube_id, code, result, _db_datetime(at), bool(pooled))
                    for tube_id, code, result, at, pooled in cursor.fetchall()
                ]
        for _, code, result, _, _ in reaching:
            if result == Result.POSITIVE:
                report.positive_tubes.append(code)
            elif result == Result.INVALID:
                report.invalid_tubes.append(code)
        _results_apply(rnd, reaching, actor, report)
        # Dropped on success only: after an error the transaction is aborted (PostgreSQL refuses even a
        # DROP) and its rollback, or the caller's savepoint's, removes the staged tables with the rest.
        stage_drop(_RESULTS_STAGE, _RESULTS_CHECKED)
        if then is not None:
            then(report)
        audit_record(
            action=AuditAction.RESULTS_IMPORT,
            actor=actor,
            target_type="round",
            target_id=str(rnd.pk),
            community_id=rnd.community_id,
            detail={
                "filename": masked(filename),
                "tubes": report.tubes,
                "positive_tubes": report.positive_tubes,
                "invalid_tubes": report.invalid_tubes,
                "rejected": len(report.rejected),
            },
        )
        analyze(LabResult, Tube, Retest, rows=report.created)
    return report


# The staged lab file: one row per data row, plain values (the result as stored, NULL when the word
# is not one; the Ct values as numbers, ``ct_bad`` 1 or 2 when ORF1ab's or N's cell is not a number
# 0–50; the time as the database's own timestamp, NULL when unreadable). Names are constants.
_RESULTS_STAGE = "fz_results_in"
_RESULTS_CHECKED = "fz_results_checked"


def _results_stage_columns() -> tuple[tuple[str, str], ...]:
    at = "timestamp with time zone" if connection.vendor == "postgresql" else "text"  # Django's own text on SQLite
    real = "double precision"
    return (
        ("rn", "integer"),
        ("code", "text"),
        ("word", "text"),
        ("result", "text"),
        ("ct_a", real),
        ("ct_n", real),
        ("ct_bad", "integer"),
        ("at", at),
    )


def _cached(cache: dict[Any, Any], cell: Any, make: Callable[[Any], Any]) -> Any:
    """``make(cell)``, once per distinct cell (tube codes, times and Ct values repeat down a file)."""
    try:
        return cache[cell]
    except KeyError:
        value = cache[cell] = make(cell)
        return value
    except TypeError:  # an unhashable cell
        return make(cell)


def _results_staged_rows(mapped: MappedStream, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Each data row as the plain values the checks compare, cleaned as one row at a time did: the
    tube code by :func:`_clean_code`, the result word stripped and lower-cased and looked up in
    :data:`RESULT_WORDS`, each Ct by :func:`_ct`, the time by :func:`_when` (empty: now)."""
    vendor = connection.vendor
    adapt = connection.ops.adapt_datetimefield_value
    codes: dict[Any, str] = {}
    words: dict[Any, tuple[str, str | None]] = {}
    cts: dict[Any, tuple[float | None, bool]] = {}
    times: dict[Any, Any] = {}

    def word_of(cell: Any) -> tuple[str, str | None]:
        word = _text(cell).lower()
        found = RESULT_WORDS.get(word)
        return word, None if found is None else str(found)

    for number, cells in mapped.rows:
        code = _cached(codes, cells.get("tube"), lambda c: _clean_code(_text(c)))
        word, result = _cached(words, cells.get("result"), word_of)
        ct_a, ok_a = _cached(cts, cells.get("ct_orf1ab"), _ct)
        ct_n, ok_n = _cached(cts, cells.get("ct_n"), _ct)
        at = _cached(times, cells.get("tested_at"), lambda c: _time_value(_when(c, now), vendor, adapt))
        yield number, code, word, result, ct_a, ct_n, 0 if ok_a and ok_n else (1 if not ok_a else 2), at


def _db_datetime(value: Any) -> dt.datetime:
    """A timestamp read back by a raw query (SQLite gives Django's naive UTC text)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def _results_sql(template: str) -> str:
    qn = connection.ops.quote_name
    return template.format(
        stage=qn(_RESULTS_STAGE),
        checked=qn(_RESULTS_CHECKED),
        tube=qn(Tube._meta.db_table),
        sample=qn(Sample._meta.db_table),
        lab=qn(LabResult._meta.db_table),
    )


# Why a row is not applied, in the order one row at a time checked them (the first that applies):
# 1 no tube code, 2 a result word that is not one, 3 no such tube, 4 a tube of another round, 5 a
# tube with no sample, 6 a Ct value that is not a number 0–50, 7 an unreadable time; then, among the
# rows that pass, per tube (one window, no sort within it): 8 rows of the tube with different results
# (every one of them), 9 a later row of the tube (a duplicate of its first), 10 the tube's stored
# result again (unchanged), 11 another result than the stored one; 0 a new result. ``pooled``: the
# tube's result ends at the tube when negative (a pooled tube of more than one place).
_RESULTS_CHECKED_SQL = """
CREATE TEMPORARY TABLE {checked} AS
SELECT w.*,
    CASE WHEN w.bad <> 0 THEN w.bad
         WHEN w.lo <> w.hi THEN 8
         WHEN w.rn <> w.first THEN 9
         WHEN w.stored IS NULL THEN 0
         WHEN w.stored = w.result THEN 10
         ELSE 11 END AS verdict
FROM (
    SELECT c.*,
        MIN(c.rn) OVER per_tube AS first,
        MIN(c.result) OVER per_tube AS lo,
        MAX(c.result) OVER per_tube AS hi
    FROM (
        SELECT t.rn, t.code, t.word, t.result, t.ct_a, t.ct_n, t.ct_bad, t.at,
            tb.id AS tube_id, tb.round_id AS tube_round, lr.result AS stored,
            CASE WHEN tb.kind = 'pooled' AND tb.pool_size > 1 THEN 1 ELSE 0 END AS pooled,
            CASE WHEN t.code = '' THEN 1
                 WHEN t.result IS NULL THEN 2
                 WHEN tb.id IS NULL THEN 3
                 WHEN tb.round_id <> %(round)s THEN 4
                 WHEN NOT EXISTS (SELECT 1 FROM {sample} s WHERE s.tube_id = tb.id) THEN 5
                 WHEN t.ct_bad <> 0 THEN 6
                 WHEN t.at IS NULL THEN 7
                 ELSE 0 END AS bad
        FROM {stage} t
        LEFT JOIN {tube} tb ON tb.code = t.code
        LEFT JOIN {lab} lr ON lr.tube_id = tb.id
    ) c
    WINDOW per_tube AS (PARTITION BY c.code, c.bad)
) w
"""

_RESULTS_REJECTED_SQL = """
SELECT rn, verdict, code, word, tube_round, ct_bad, first, stored
FROM {checked} WHERE verdict NOT IN (0, 10) ORDER BY rn
"""

_RESULTS_COUNTS_SQL = """
SELECT SUM(CASE WHEN verdict = 10 THEN 1 ELSE 0 END),
    SUM(CASE WHEN verdict = 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN verdict = 0 AND result = 'negative' THEN 1 ELSE 0 END)
FROM {checked}
"""

# The new results that reach a person: all but a pooled tube's negative, in the file's order.
_RESULTS_REACHING = "verdict = 0 AND (pooled = 0 OR result <> 'negative')"
_RESULTS_REACHING_SQL = (
    "SELECT tube_id, code, result, at, pooled FROM {checked} WHERE "  # noqa: S608 - constants
    + _RESULTS_REACHING
    + " ORDER BY rn"
)


def _result_rejections(rows: Sequence[tuple[Any, ...]]) -> list[Rejection]:
    """The checked rows' rejections, in the words the one-row-at-a-time checks used."""
    conflicting: dict[str, list[int]] = defaultdict(list)
    for row, verdict, code, *_ in rows:
        if verdict == 8:
            conflicting[code].append(row)
    out: list[Rejection] = []
    for row, verdict, code, word, tube_round, ct_bad, first, stored in rows:
        if verdict == 1:
            out.append(Rejection(row, "tube", "缺少试管编码", "tube code missing"))
        elif verdict == 2:
            zh = f"检测结果「{word}」无法识别（阴性/阳性/无效）"
            out.append(Rejection(row, "result", zh, f"unknown result {word!r}"))
        elif verdict == 3:
            out.append(Rejection(row, "tube", f"未知试管 {code}", f"unknown tube {code}"))
        elif verdict == 4:
            zh = f"试管 {code} 属于另一轮次（#{tube_round}）"
            out.append(Rejection(row, "tube", zh, f"tube belongs to round {tube_round}"))
        elif verdict == 5:
            out.append(Rejection(row, "tube", f"试管 {code} 没有样本", f"tube {code} holds no sample"))
        elif verdict == 6:
            column = "ct_orf1ab" if ct_bad == 1 else "ct_n"
            out.append(Rejection(row, column, "Ct 值无效（应为 0–50 的数字）", "Ct value is not a number 0–50"))
        elif verdict == 7:
            out.append(Rejection(row, "tested_at", "检测时间无法识别", "unreadable tested_at"))
        elif verdict == 8:
            rows_text = "、".join(str(r) for r in conflicting[code])
            zh = f"试管 {code} 结果相互矛盾（第 {rows_text} 行）"
            out.append(Rejection(row, "result", zh, f"conflicting results for tube {code}"))
        elif verdict == 9:
            out.append(Rejection(row, "tube", f"与第 {first} 行重复", f"duplicate of row {first}"))
        else:
            zh = f"试管 {code} 已有结果「{Result(stored).label}」，与本行矛盾"
            out.append(Rejection(row, "result", zh, f"conflicts with the stored result {stored}"))
    return out


def _lab_results_insert(cursor: Any, rnd: Round, actor: User | None, filename: str, now: dt.datetime) -> int:
    """The new results (one ``INSERT … SELECT``), then their tubes marked resulted, closed now if they
    were not (one ``UPDATE``); returns how many results."""
    qn = connection.ops.quote_name
    columns = ("tube_id", "result", "ct_orf1ab", "ct_n", "tested_at", "imported_at", "imported_by_id", "filename")
    params = {"now": _db_value(now), "actor": actor.pk if actor is not None else None, "filename": filename[:255]}
    cursor.execute(
        _results_sql(
            f"INSERT INTO {{lab}} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608 - names from the models
            "SELECT tube_id, result, ct_a, ct_n, at, %(now)s, %(actor)s, %(filename)s "
            "FROM {checked} WHERE verdict = 0 ORDER BY rn"
        ),
        params,
    )
    created = int(cursor.rowcount)
    cursor.execute(
        _results_sql(
            "UPDATE {tube} SET status = %(resulted)s, closed_at = COALESCE(closed_at, %(now)s) "
            "WHERE id IN (SELECT tube_id FROM {checked} WHERE verdict = 0)"
        ),
        {"resulted": Tube.Status.RESULTED, "now": _db_value(now)},
    )
    return created


def _results_apply(
    rnd: Round,
    reaching: Sequence[tuple[int, str, str, dt.datetime, bool]],
    actor: User | None,
    report: ResultsReport,
) -> None:
    """What the new results that reach a person do, in the file's order (tube id, code, result,
    tested at, pooled): a positive or invalid pooled tube puts its members on the re-test list; a
    single tube's result is its resident's own (a case confirmed, or the re-test cleared)."""
    if not reaching:
        return
    _results_signal([(tube_id, result, tested_at, pooled) for tube_id, _, result, tested_at, pooled in reaching])
    # The tubes by their ids (a few hundred of a round's 25,000): the plan probes the samples' tube
    # index instead of joining every sample of the round to its resident before filtering.
    found: dict[int, Tube] = {}
    members: dict[int, list[Resident]] = defaultdict(list)
    for batch in chunks(sorted({tube_id for tube_id, *_ in reaching}), LOOKUP_CHUNK):
        found.update((tube.pk, tube) for tube in Tube.objects.filter(pk__any_of=batch))
        for sample in (
            Sample.objects.filter(tube_id__any_of=batch)
            .select_related("resident__household__building__compound", "resident__community")
            .order_by("tube_id", "id")
        ):
            members[sample.tube_id].append(sample.resident)
    opening: list[tuple[Resident, Tube, str]] = []  # re-tests to open, in the file's order
    for tube_id, _, result, tested_at, pooled in reaching:
        tube = found[tube_id]
        if pooled:
            reason = Retest.Reason.POSITIVE_TUBE if result == Result.POSITIVE else Retest.Reason.INVALID_TUBE
            for resident in members[tube_id]:
                opening.append((resident, tube, reason))
                report.retest.append(_doc(resident))
            continue
        _retests_open_many(rnd, opening, actor)  # what comes before this tube in the file, first
        opening = []
        # Single tube (单采): the result is the resident's own.
        for resident in members[tube_id]:
            if result == Result.POSITIVE:
                case_confirm_in_transaction(
                    resident=resident,
                    report_date=timezone.localtime(tested_at).date(),
                    source="pooled_pcr",
                    actor=actor,
                )
                _retest_resolve(resident, Retest.Status.CONFIRMED, actor, tube=tube)
                report.confirmed_positive.append(_doc(resident))
            elif result == Result.NEGATIVE and _retest_resolve(resident, Retest.Status.CLEARED, actor, tube=tube):
                report.cleared.append(_doc(resident))
            # invalid single tube: the re-test stays pending, the resident is sampled again
    _retests_open_many(rnd, opening, actor)


def _results_signal(reaching: Sequence[tuple[int, str, dt.datetime, bool]]) -> None:
    """After commit: tell the apps above which pooled tubes are positive and which single tubes'
    results are in (the notices room tells the households)."""
    positive = [tube_id for tube_id, result, _, pooled in reaching if pooled and result == Result.POSITIVE]
    singles = [(tube_id, result) for tube_id, result, _, pooled in reaching if not pooled and result != Result.INVALID]
    if positive:
        transaction.on_commit(lambda: signals.pooled_positive.send(sender=Tube, tube_ids=positive), robust=True)
    for tube_id, result in singles:
        transaction.on_commit(
            functools.partial(signals.single_result.send, sender=Tube, tube_id=tube_id, result=result), robust=True
        )


def _retest_reason_text(reason: str) -> str:
    """The re-test order's detail, stored like its title in Chinese whatever language the request
    that opened it was in (the title is shown in the reader's language from its code)."""
    with translation.override("zh-hans"):
        return str(dict(Retest.Reason.choices).get(reason, reason))


def _retest_title_fields(resident: Resident) -> dict[str, Any]:
    """The re-test order's title: stored in Chinese, and as a code with its parameters so that each
    reader sees it in their own language (``workorders.texts``)."""
    place = resident.household.full_label
    return {
        "title": f"上门单采复查：{resident.name}（{place}）",
        "title_code": "testing.retest",
        "title_args": {"name": resident.name, "place": place},
    }


def _retests_open_many(rnd: Round, entries: Sequence[tuple[Resident, Tube, str]], actor: User | None) -> None:
    """:func:`retest_open` for every (resident, pooled tube, reason) of a results import, in a few
    statements whatever their number: the pending re-tests in one read, the door-to-door orders, their
    events, the re-tests and the audit rows in one insert each. If another writer opened one of them
    meanwhile (a unique constraint refuses the insert), the savepoint rolls back and each is opened
    one by one, as :func:`retest_open` would."""
    if not entries:
        return
    try:
        with transaction.atomic():  # a savepoint
            _retests_open_bulk(rnd, entries, actor)
    except IntegrityError:
        for resident, tube, reason in entries:
            retest_open(resident=resident, reason=reason, actor=actor, round=rnd, tube=tube, key=str(rnd.pk))


def _retests_open_bulk(rnd: Round, entries: Sequence[tuple[Resident, Tube, str]], actor: User | None) -> None:
    ids = [resident.pk for resident, _, _ in entries]
    taken: set[int] = set()
    for batch in chunks(ids, LOOKUP_CHUNK):  # one query, but for a round of more re-tests than this
        taken.update(
            Retest.objects.filter(resident_id__any_of=batch, status=Retest.Status.PENDING).values_list(
                "resident_id", flat=True
            )
        )
    todo: list[tuple[Resident, Tube, str]] = []
    for resident, tube, reason in entries:
        if resident.pk not in taken:
            taken.add(resident.pk)
            todo.append((resident, tube, reason))
    if not todo:
        return
    by_community: dict[int, list[tuple[Resident, Tube, str]]] = defaultdict(list)
    for entry in todo:
        by_community[entry[0].community_id].append(entry)
    for group in by_community.values():
        work_orders_create_many_in_transaction(
            community=group[0][0].community,
            kind=Kind.RETEST,
            specs=[
                OrderSpec(
                    resident=resident,
                    **_retest_title_fields(resident),
                    source_key=f"retest:{rnd.pk}:{resident.pk}",
                    detail=_retest_reason_text(reason),
                )
                for resident, _, reason in group
            ],
            actor=actor,
            priority=Priority.URGENT,
        )
    rows = []
    for n, (resident, tube, reason) in enumerate(todo):
        audit = audit_row(
            action=AuditAction.RETEST_OPEN,
            actor=actor,
            target_type="retest",
            target_id=0,  # the re-test's id, written by the statement
            community_id=resident.community_id,
            detail={"resident": resident.pk, "reason": reason},
        )
        key = f"retest:{rnd.pk}:{resident.pk}"
        rows.append((n, resident.pk, resident.community_id, tube.pk, reason, key, json.dumps(audit.detail)))
    json_type = "jsonb" if connection.vendor == "postgresql" else "text"
    columns = (
        ("rn", "integer"),
        ("resident_id", "bigint"),
        ("community_id", "bigint"),
        ("tube_id", "bigint"),
        ("reason", "text"),
        ("source_key", "text"),
        ("audit_detail", json_type),
    )
    rows_stage(_RETESTS_STAGE, columns, rows, analyze=("source_key", "resident_id"))
    qn = connection.ops.quote_name
    stage, retest, orders, audit_log = (
        qn(_RETESTS_STAGE),
        *(qn(m._meta.db_table) for m in (Retest, WorkOrder, AuditLog)),
    )
    params = {
        "round": rnd.pk,
        "pending": Retest.Status.PENDING,
        "now": _db_value(timezone.now()),
        "actor": actor.pk if actor is not None else None,
        "action": AuditAction.RETEST_OPEN.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {retest} ({qn('community_id')}, {qn('resident_id')}, {qn('round_id')}, "  # noqa: S608 - names from the models
            f"{qn('source_tube_id')}, {qn('reason')}, {qn('status')}, {qn('created_at')}, {qn('work_order_id')}) "
            f"SELECT s.community_id, s.resident_id, %(round)s, s.tube_id, s.reason, %(pending)s, %(now)s, o.id "
            f"FROM {stage} s JOIN {orders} o ON o.source_key = s.source_key ORDER BY s.rn",
            params,
        )
        cursor.execute(
            f"INSERT INTO {audit_log} ({qn('at')}, {qn('actor_id')}, {qn('action')}, {qn('target_type')}, "  # noqa: S608 - names from the models
            f"{qn('target_id')}, {qn('community_id')}, {qn('detail')}) "
            f"SELECT %(now)s, %(actor)s, %(action)s, 'retest', CAST(r.id AS TEXT), s.community_id, s.audit_detail "
            f"FROM {stage} s JOIN {retest} r ON r.resident_id = s.resident_id AND r.status = %(pending)s "
            "ORDER BY s.rn",
            params,
        )
    # Dropped on success only: after an error the transaction is aborted (PostgreSQL refuses even a
    # DROP) and its rollback, or the caller's savepoint's, removes the staged tables with the rest.
    stage_drop(_RETESTS_STAGE)


# The re-tests :func:`_retests_open_bulk` stages (a temporary table; a constant).
_RETESTS_STAGE = "fz_retests_new"


# How a re-test's door-to-door order ends with it: (order outcome, reason shown to whoever reads it).
RETEST_ENDS = {
    Retest.Status.CLEARED: (Status.DONE, CloseReason.RETEST_NEGATIVE),
    Retest.Status.CONFIRMED: (Status.CANCELLED, CloseReason.CASE_CONFIRMED),
}


def _retest_resolve(
    resident: Resident,
    status: str,
    actor: User | None,
    *,
    tube: Tube | None = None,
    ended: tuple[str, str] | None = None,
) -> Retest | None:
    """End the resident's pending re-test (cleared or confirmed) and, in the same transaction, its
    door-to-door order: nobody is sent to a door whose re-test has come back. None if nothing pending."""
    retest = Retest.objects.select_for_update().filter(resident=resident, status=Retest.Status.PENDING).first()
    if retest is None:
        return None
    retest.status = status
    retest.resolved_at = timezone.now()
    retest.resolved_by_tube = tube
    retest.save(update_fields=["status", "resolved_at", "resolved_by_tube"])
    outcome, reason = ended or RETEST_ENDS[Retest.Status(status)]
    if retest.work_order_id:
        work_orders_close_in_transaction(order_ids=[retest.work_order_id], outcome=outcome, reason=reason, actor=actor)
    return retest


def manifest_csv(*, round: Round) -> str:
    """What the lab needs per tube: code, sampled-at, number of samples, site. Nothing personal."""
    header = ["试管编码 tube_code", "采样时间 sampled_at", "样本数 samples", "采样点 site", "类型 kind"]
    rows: list[list[Any]] = [header]
    tubes = (
        Tube.objects.filter(round=round)
        .select_related("site")
        .annotate(n=Count("samples"), first=Min("samples__sampled_at"))
        .order_by("id")
    )
    for tube in tubes:
        if not tube.n:
            continue
        first = tube.first
        rows.append(
            [
                tube.code,
                timezone.localtime(first).strftime("%Y-%m-%d %H:%M") if first else "",
                tube.n,
                tube.site.name
                if tube.site
                else (tube.site_label or ("上门 door-to-door" if tube.door_to_door else "")),
                tube.kind,
            ]
        )
    return csv_text(rows)


# --------------------------------------------------------------------------------------------------
# Antigen self-tests


@dataclass
class AntigenOutcome:
    """What an antigen submission did: its client id, whether this call stored it (False: a retry of
    one stored before), the members it reported positive, and the stored submission. The public
    page's one-statement write answers with the client id alone, so there the submission is built
    from its values (``row``) only when asked for."""

    client_id: str
    created: bool
    positives: list[int]
    stored: AntigenSubmission | None = None
    row: dict[str, Any] | None = None

    @classmethod
    def of(cls, submission: AntigenSubmission, created: bool, positives: list[int]) -> AntigenOutcome:
        return cls(submission.client_id, created, positives, submission)

    @property
    def submission(self) -> AntigenSubmission:
        if self.stored is None:
            assert self.row is not None
            stored = AntigenSubmission(**self.row)
            stored._state.adding = False  # the row was just written
            stored._state.db = connection.alias
            self.stored = stored
        return self.stored


def antigen_report_submit(
    *,
    household: Household | HouseholdKey,
    day: dt.date,
    results: Mapping[int, str],
    client_id: str,
    photo: bytes | None = None,
    photo_name: str = "",
    known: AntigenRead | None = None,
) -> AntigenOutcome:
    """Store one household's antigen results for a day (public page, no account).

    Idempotent on ``client_id``: a retry returns the stored submission. A later submission the same
    day overwrites each resident's report (one row per resident per day); every submission is kept.
    A positive puts the resident on the re-test list with a door-to-door PCR work order.
    ``household`` may be the public page's ``HouseholdKey`` (plain values) instead of the model.
    ``known`` is what ``selectors.antigen_read`` (or the public page's lookup) read for this
    household, client id and day, when the caller has it: the service does not read it again.
    """
    stripped = client_id.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", stripped):
        raise TestingError("提交编号无效，请刷新页面", "invalid submission id; reload the page")
    if stripped != client_id:
        known = None  # read for another client id
    client_id = stripped
    try:
        return _antigen_report_write(
            household=household,
            day=day,
            results=results,
            client_id=client_id,
            photo=photo,
            photo_name=photo_name,
            known=known,
        )
    except IntegrityError:
        # The same submission sent twice at once: the other one committed first (the unique
        # client id refused this insert and rolled everything back), so this is a retry.
        existing = AntigenSubmission.objects.filter(client_id=client_id).first()
        if existing is None:
            raise
        if existing.household_id != household.pk:
            raise TestingError("提交编号冲突，请刷新页面", "submission id clash; reload the page") from None
        return AntigenOutcome.of(existing, False, [])


class AntigenNewer(TestingError):
    """A leader's entry tapped before the household's own (or another leader's) later report: the
    later answer stands and the late entry is not applied."""


def antigen_report_on_behalf(
    *,
    household: Household,
    day: dt.date,
    results: Mapping[int, str],
    client_id: str,
    actor: User,
    tapped_at: dt.datetime | None = None,
    receipt: Callable[[AntigenOutcome], None] | None = None,
) -> AntigenOutcome:
    """A building leader enters a household's antigen results from their phone (maybe offline,
    sent later by the outbox). The same write as the public page's, recorded by ``actor``.

    Idempotent on ``client_id``. ``tapped_at`` is the phone's time of the tap: a member reported
    after it by someone else (the household itself, another leader) keeps that later answer and
    the entry is refused as a conflict (:class:`AntigenNewer`), never applied over it.
    ``receipt`` is called with the outcome inside the write's transaction (the outbox's receipt,
    so that the action and its receipt are committed together)."""
    client_id = client_id.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", client_id):
        raise TestingError("提交编号无效，请刷新页面", "invalid submission id; reload the page")
    today = timezone.localdate()
    if not today - dt.timedelta(days=1) <= day <= today:
        raise TestingError("只能录入今天（或昨天未报）的结果", "only today's (or yesterday's unsent) results")
    try:
        return _antigen_report_write(
            household=household,
            day=day,
            results=results,
            client_id=client_id,
            photo=None,
            photo_name="",
            actor=actor,
            tapped_at=min(tapped_at, timezone.now()) if tapped_at is not None else None,
            receipt=receipt,
        )
    except IntegrityError:
        existing = AntigenSubmission.objects.filter(client_id=client_id).first()
        if existing is None:
            raise
        if existing.household_id != household.pk:
            raise TestingError("提交编号冲突，请刷新页面", "submission id clash; reload the page") from None
        return AntigenOutcome.of(existing, False, [])


def _antigen_newer(
    household: Household, day: dt.date, residents: Sequence[int], tapped_at: dt.datetime, actor: User | None
) -> None:
    """Refuse a leader's entry where someone else reported a member after the phone's tap."""
    newer = (
        AntigenReport.objects.filter(household=household, day=day, resident_id__in=residents, reported_at__gt=tapped_at)
        .exclude(submission__recorded_by=actor)
        .select_related("submission__recorded_by", "resident")
        .order_by("-reported_at")
        .first()
    )
    if newer is None:
        return
    at = timezone.localtime(newer.reported_at).strftime("%H:%M")
    tap = timezone.localtime(tapped_at).strftime("%H:%M")
    by = newer.submission.recorded_by
    if by is None:
        raise AntigenNewer(
            f"{household.room}室已于 {at} 自行上报（晚于这次录入 {tap}），以住户所报为准，未覆盖。",
            f"Room {household.room} reported itself at {at} (after this entry at {tap}); theirs stands.",
        )
    raise AntigenNewer(
        f"{household.room}室已由{by}于 {at} 代报（晚于这次录入 {tap}），未覆盖。",
        f"{by} entered room {household.room} at {at} (after this entry at {tap}); theirs stands.",
    )


def _antigen_key(day: dt.date) -> str:
    """The cause of an antigen re-test (its order's source key is ``retest:<this>:<resident>``)."""
    return antigen_retest_cause(day)


_RESULT_VALUES = frozenset(AntigenResult.values)  # Django builds the list anew on each read of ``values``


def _antigen_checked(
    read: AntigenRead, household: Household | HouseholdKey, results: Mapping[int, str]
) -> dict[int, str] | AntigenOutcome:
    """The results to write, checked against what was read; or the stored outcome of a retry."""
    if read.existing is not None:
        existing_id, existing_household = read.existing
        if existing_household != household.pk:
            raise TestingError("提交编号冲突，请刷新页面", "submission id clash; reload the page")
        return AntigenOutcome.of(AntigenSubmission.objects.get(pk=existing_id), False, [])
    clean: dict[int, str] = {}
    for resident_id, value in results.items():
        if resident_id not in read.members:
            raise TestingError("所报人员不属于本户", "a reported person is not in this household")
        if value not in _RESULT_VALUES:
            raise TestingError(f"结果「{value}」无效", f"unknown result {value!r}")
        clean[resident_id] = value
    if not clean:
        raise TestingError("请至少填写一人的结果", "report at least one person")
    return clean


def _antigen_audit(
    household: Household | HouseholdKey, day: dt.date, clean: Mapping[int, str], read: AntigenRead, actor: User | None
) -> dict[str, Any]:
    """The audit row of a submission (its values), checked here (an action of AuditAction, nothing
    unmasked) and written with the submission's rows."""
    positives = sum(value == AntigenResult.POSITIVE for value in clean.values())
    return audit_values(
        action=AuditAction.ANTIGEN_SUBMIT,
        actor_id=actor.pk if actor is not None else None,
        target_type="household",
        target_id=str(household.pk),
        community_id=next(iter(read.members.values())),
        detail={"day": day.isoformat(), "reported": len(clean), "positive": positives},
    )


def _antigen_report_write(
    *,
    household: Household | HouseholdKey,
    day: dt.date,
    results: Mapping[int, str],
    client_id: str,
    photo: bytes | None,
    photo_name: str,
    actor: User | None = None,
    tapped_at: dt.datetime | None = None,
    receipt: Callable[[AntigenOutcome], None] | None = None,
    known: AntigenRead | None = None,
) -> AntigenOutcome:
    """One read (``known``, when the caller's lookup already made it: the members, any earlier
    submission with this client id, today's pending antigen re-tests), then the submission, one
    upsert of every member's report and the audit row. On PostgreSQL those three are one
    statement, and a household without a positive, a corrected re-test, a photo or a receipt
    sends just that statement in autocommit (``fastsql.one_statement``: atomic by itself, no
    BEGIN/COMMIT round trips). Anything else runs in ``atomic(durable=True)``: a positive adds its
    re-test and work order, a leader's entry (``actor``, ``tapped_at``) first checks that nobody
    reported a member after the tap, ``receipt`` is called last, all in the same transaction."""
    checked: dict[int, str] | AntigenOutcome | None = None
    if known is not None:
        checked = _antigen_checked(known, household, results)
        if isinstance(checked, AntigenOutcome):
            return checked
        lone = (
            not photo
            and tapped_at is None
            and receipt is None
            and AntigenResult.POSITIVE not in checked.values()
            and not any(checked.get(pk) == AntigenResult.NEGATIVE for pk in known.pending)
        )
        if lone:
            audit = _antigen_audit(household, day, checked, known, actor)
            with one_statement():
                return _antigen_rows_write(
                    household=household,
                    day=day,
                    clean=checked,
                    client_id=client_id,
                    audit=audit,
                    actor=actor,
                    community_id=next(iter(known.members.values())),
                )
    with transaction.atomic(durable=True):
        read = known
        if read is None:
            read = antigen_read(household_pk=household.pk, client_id=client_id, day=day)
            checked = _antigen_checked(read, household, results)
            if isinstance(checked, AntigenOutcome):
                return checked
        assert isinstance(checked, dict)
        clean = checked
        if tapped_at is not None:
            assert isinstance(household, Household)  # a leader's entry (antigen_report_on_behalf)
            _antigen_newer(household, day, sorted(clean), tapped_at, actor)
        audit = _antigen_audit(household, day, clean, read, actor)
        written = _antigen_rows_write(
            household=household,
            day=day,
            clean=clean,
            client_id=client_id,
            audit=audit,
            actor=actor,
            community_id=next(iter(read.members.values())),
        )
        submission = written.submission
        if photo:
            file_store_on_commit(submission, "photo", ContentFile(photo), photo_name or "strip.jpg")
            submission.save(update_fields=["photo"])
        positives = [resident_id for resident_id, value in clean.items() if value == AntigenResult.POSITIVE]
        if positives:
            found = Resident.objects.select_related("community", "household__building__compound").in_bulk(positives)
            for resident in (found[pk] for pk in positives):
                retest_open(
                    resident=resident,
                    reason=Retest.Reason.ANTIGEN,
                    actor=None,
                    key=_antigen_key(day),
                )
        # Today's positive corrected to negative (a wrong tap): its re-test and door order end.
        corrected = [pk for pk in read.pending if clean.get(pk) == AntigenResult.NEGATIVE]
        for resident in Resident.objects.filter(pk__in=corrected).order_by("pk") if corrected else ():
            _retest_resolve(
                resident, Retest.Status.CLEARED, None, ended=(Status.CANCELLED, CloseReason.ANTIGEN_CORRECTED)
            )
        outcome = AntigenOutcome.of(submission, True, positives)
        if receipt is not None:
            receipt(outcome)
    return outcome


# The hot write's columns and the name of the value each takes (``_antigen_rows_write``): the
# submission's, the audit row's, and each report's (``resident`` and ``result`` are a report's own;
# ``submission`` is the new submission's key). A value named twice (the time, the day, the
# household, the community, the actor) is sent to PostgreSQL once. On a conflict (the resident's
# report of that day) every column of a report but the key is overwritten: the latest answer wins.
_SUBMISSION_VALUES = {
    "client_id": "%(client_id)s",
    "building": "%(building)s",
    "household": "%(household)s",
    "day": "%(day)s",
    "received_at": "%(now)s",
    "results": "%(results)s::jsonb",
    "photo": "''",  # none: the caller stores a photo after the commit
    "recorded_by": "%(actor)s",
    "community": "%(community)s",
}
_AUDIT_VALUES = {
    "at": "%(now)s",
    "actor": "%(actor)s",
    "action": "%(action)s",
    "target_type": "%(target_type)s",
    "target_id": "%(target_id)s",
    "community": "%(audit_community)s",
    "detail": "%(detail)s::jsonb",
}
_REPORT_SHARED = {
    "day": "%(day)s",
    "household": "%(household)s",
    "reported_at": "%(now)s",
    "community": "%(community)s",
}
_REPORT_KEY = ("resident", "day")
_REPORT_UPDATED = tuple(n for n in ("result", "submission", *_REPORT_SHARED) if n not in _REPORT_KEY)


@functools.cache
def _antigen_write_sql(using: str, members: int) -> str:
    """PostgreSQL: the submission, the upsert of each member's report (one row per resident per
    day: the latest answer wins) and the audit row as one statement of data-modifying CTEs, which
    PostgreSQL runs each exactly once, all or nothing."""
    q = connections[using].ops.quote_name

    def cols(model: Any, names: Sequence[str]) -> str:
        return ", ".join(q(model._meta.get_field(n).column) for n in names)

    s, r, a = (q(m._meta.db_table) for m in (AntigenSubmission, AntigenReport, AuditLog))
    report: Any = AntigenReport
    updated = [q(report._meta.get_field(n).column) for n in _REPORT_UPDATED]
    rows = ", ".join(f"(%(r{i})s::bigint, %(v{i})s::varchar)" for i in range(members))
    return (
        f"WITH s AS (INSERT INTO {s} ({cols(AntigenSubmission, list(_SUBMISSION_VALUES))})"  # noqa: S608 - names from _meta
        f" VALUES ({', '.join(_SUBMISSION_VALUES.values())}) RETURNING {q('id')}),"
        f" r AS (INSERT INTO {r} ({cols(AntigenReport, ('resident', 'result', 'submission', *_REPORT_SHARED))})"
        f" SELECT v.resident, v.result, s.{q('id')}, {', '.join(_REPORT_SHARED.values())}"
        f" FROM s, (VALUES {rows}) AS v (resident, result)"
        f" ON CONFLICT ({cols(AntigenReport, _REPORT_KEY)}) DO UPDATE SET"
        f" {', '.join(f'{c} = excluded.{c}' for c in updated)}),"
        f" a AS (INSERT INTO {a} ({cols(AuditLog, list(_AUDIT_VALUES))}) VALUES ({', '.join(_AUDIT_VALUES.values())}))"
        f" SELECT {q('id')} FROM s"
    )


def _antigen_rows_write(
    *,
    household: Household | HouseholdKey,
    day: dt.date,
    clean: Mapping[int, str],
    client_id: str,
    audit: dict[str, Any],
    actor: User | None = None,
    community_id: int,
) -> AntigenOutcome:
    """Write the submission, every member's report and the audit row (``audit``: its values).
    One statement on PostgreSQL, sent with plain values (no model instance is built: the outcome
    builds the submission if asked); three on SQLite (the same rows, through ``lib.fastsql``)."""
    now = timezone.now()
    row: dict[str, Any] = {
        "client_id": client_id,
        "community_id": community_id,
        "building_id": household.building_id,
        "household_id": household.pk,
        "day": day,
        "received_at": now,
        "results": {str(k): v for k, v in clean.items()},
        "recorded_by": actor,
    }
    if connection.vendor != "postgresql":
        submission = AntigenSubmission(**row)
        insert(submission)
        report: Any = AntigenReport
        shared = {"day": day, "household": household.pk, "reported_at": now, "community": community_id}
        attnames = {name: report._meta.get_field(name).attname for name in shared}
        upsert(
            [
                AntigenReport(
                    resident_id=resident_id,
                    result=value,
                    submission_id=submission.pk,
                    **{attnames[name]: v for name, v in shared.items()},
                )
                for resident_id, value in clean.items()
            ],
            unique_fields=list(_REPORT_KEY),
            update_fields=list(_REPORT_UPDATED),
        )
        insert(
            audit_row(
                action=AuditAction(audit["action"]),
                actor=actor,
                target_type=audit["target_type"],
                target_id=audit["target_id"],
                community_id=audit["community_id"],
                detail=audit["detail"],
            )
        )
        return AntigenOutcome.of(submission, True, [])
    params: dict[str, Any] = {
        "client_id": client_id,
        "building": household.building_id,
        "household": household.pk,
        "day": day,
        "now": now,
        "results": json.dumps(row["results"]),  # as JSONField's own encoding (no encoder)
        "actor": actor.pk if actor is not None else None,
        "community": community_id,
        "action": audit["action"],
        "target_type": audit["target_type"],
        "target_id": audit["target_id"],
        "audit_community": audit["community_id"],
        "detail": json.dumps(audit["detail"]),
    }
    for i, (resident_id, value) in enumerate(clean.items()):
        params[f"r{i}"] = resident_id
        params[f"v{i}"] = value
    with hot_cursor(connection) as cursor:
        cursor.execute(_antigen_write_sql(connection.alias, len(clean)), params)
        (row["id"],) = cursor.fetchone()
    return AntigenOutcome(client_id, True, [], row=row)


@transaction.atomic(durable=True)
def kit_handout_record(*, household: Household, day: dt.date, kits: int, actor: User | None) -> KitHandout:
    """Record (or correct) the antigen kits handed to a household on a day."""
    if not 0 <= kits <= 200:
        raise TestingError("试剂数量无效", "invalid number of kits")
    row, _ = KitHandout.objects.update_or_create(
        household=household, day=day, defaults={"kits": kits, "handed_by": actor}
    )
    audit_record(
        action=AuditAction.KITS_HANDOUT,
        actor=actor,
        target_type="kithandout",
        target_id=row.pk,
        community_id=household.building.community_id,
        detail={"kits": kits, "day": day.isoformat()},
    )
    return row
