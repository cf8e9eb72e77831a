"""The daily report (日报) a committee sends up to the subdistrict, and the subdistrict's table.

Pure reads. Each figure comes from the app that owns it (cases, testing, zones, work orders,
supplies, care, volunteers), through that app's selectors where one answers the question and
through aggregate queries on its models where only counts are wanted. Counts only: the report
leaves the community, so it carries no name, ID number or phone.

A report is "as of" the end of its day, or now for today: an order closed tomorrow was open at
the end of today. The number of queries does not depend on the number of residents or buildings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case as DbCase
from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.query import get_related_populators
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_read_counts
from fangzhou.care.selectors import at_risk_count, at_risk_profiles, at_risk_window_end
from fangzhou.cases.models import Case, CloseContact
from fangzhou.lib.errors import Refused
from fangzhou.lib.fastsql import hot_cursor
from fangzhou.registry.hooks import OverviewPanel
from fangzhou.registry.models import Community, CommunityCount, Resident
from fangzhou.registry.selectors import communities_read, community_time_zone_activate
from fangzhou.supplies.models import DeliveryStatus, Distribution
from fangzhou.testing.models import AntigenReport, AntigenResult, Result, Retest, Round, Sample, Tube
from fangzhou.volunteers.models import ShiftAssignment, Volunteer, VolunteerStatus
from fangzhou.volunteers.selectors import day_bounds as bounds
from fangzhou.workorders.models import ResidentRequest, Status, WorkOrder
from fangzhou.zones.models import ZoneSettings
from fangzhou.zones.selectors import zone_reports

AnyUser = User | AnonymousUser

# Who sends and receives daily reports: the committee (their community), the subdistrict (its
# communities) and the administrator. Grid and building leaders and volunteers do not.


class ReportError(Refused):
    pass


def report_day(raw: str | None, *, today: dt.date | None = None) -> dt.date:
    """The report's date from ``YYYY-MM-DD`` (default today); a bad or future date is refused."""
    today = today or timezone.localdate()
    if not raw:
        return today
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ReportError(
            f"日期格式应为 YYYY-MM-DD，例如 {today:%Y-%m-%d}：{raw[:20]}",
            f"the date must look like {today:%Y-%m-%d}: {raw[:20]}",
        ) from None
    if day > today:
        raise ReportError(f"不能生成未来日期（{day}）的日报", f"no report for a future date ({day})")
    return day


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return bounds(day)


def as_of(day: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """The moment the report describes: the end of ``day``, or ``now`` if the day is not over."""
    now = now or timezone.now()
    _start, end = day_bounds(day)
    return min(now, end)


# --------------------------------------------------------------------------------------------------
# Figures per community, grouped: one query for any number of communities (the report and the table)


@dataclass
class CaseFigures:
    new: int = 0
    total: int = 0
    awaiting_transfer: int = 0
    in_isolation: int = 0
    home_monitoring: int = 0
    close_contacts: int = 0
    # Hours the longest-waiting case has waited for its transfer (since it was recorded), as of the report.
    longest_wait_hours: int = 0


@dataclass
class OrderFigures:
    open: int = 0
    overdue: int = 0
    done: int = 0
    new: int = 0


@dataclass
class RequestFigures:
    open: int = 0
    closed: int = 0
    new: int = 0


def _open_at(moment: dt.datetime, prefix: str = "") -> Q:
    """Orders that existed and were not yet done or cancelled at ``moment``."""
    p = prefix
    return Q(**{f"{p}created_at__lte": moment}) & (
        Q(**{f"{p}closed_at__isnull": True}) | Q(**{f"{p}closed_at__gt": moment})
    )


def _count_of(qs: QuerySet[Any], community_path: str, counted: str = "id", *, distinct: bool = False) -> Coalesce:
    """``qs`` counted per community, as a scalar subquery on the outer community row (0 if none).

    A plain ``COUNT`` over the subquery's rows, not grouped by the community: grouped, PostgreSQL
    read them in community order, and for the day's antigen reports that meant walking every
    household of the database for each community of the subdistrict table."""
    template = "COUNT(DISTINCT %(expressions)s)" if distinct else "COUNT(%(expressions)s)"
    rows = qs.filter(**{community_path: OuterRef("pk")}).order_by()
    counted_rows = rows.annotate(n=Func(F(counted), template=template, output_field=IntegerField())).values("n")
    return Coalesce(Subquery(counted_rows, output_field=IntegerField()), 0)


def _kept(column: str) -> Coalesce:
    """The community's ``column`` as the database keeps it (``CommunityCount``, one row a community,
    0 if none): a residents' count that reads one row, however many residents."""
    kept = CommunityCount.objects.filter(community_id=OuterRef("pk")).values(column)[:1]
    return Coalesce(Subquery(kept, output_field=IntegerField()), 0)


def _antigen_reports(day: dt.date) -> QuerySet[AntigenReport]:
    """The day's antigen reports that count for ``antigen_glance``: every answer but "not tested"."""
    return AntigenReport.objects.filter(day=day).exclude(result=AntigenResult.NOT_TESTED)


def _antigen_counted(rows: list[Any], day: dt.date) -> None:
    """``f_antigen_reported`` and ``f_antigen_positive`` of each community row, in one grouped
    read of the day's reports of all of them (the subdistrict table): as scalar subqueries, one
    per community, PostgreSQL read the day's reports once for each community of the table."""
    counted = (
        _antigen_reports(day)
        .filter(community_id__in=[r.pk for r in rows])
        .order_by()
        .values("community_id")
        .annotate(n=Count("id"), positive=Count("id", filter=Q(result=AntigenResult.POSITIVE)))
        .values_list("community_id", "n", "positive")
    )
    found = {c: (n, positive) for c, n, positive in counted} if rows else {}
    for r in rows:
        r.f_antigen_reported, r.f_antigen_positive = found.get(r.pk, (0, 0))


def _with_figures(
    communities: QuerySet[Community],
    day: dt.date,
    moment: dt.datetime,
    *,
    volunteers: bool = False,
    antigen: bool = True,
    care_end: dt.date | None = None,
) -> QuerySet[Community]:
    """The communities, each with every count of its report row, in one statement: one scalar
    subquery per figure (an index lookup per community), never a join of two many-valued sides.
    Residents and households; work orders open, overdue, done and new as of ``moment``;
    residents' requests open, closed and new; residents pending re-test; close contacts in home
    isolation; the antigen figures of ``antigen_glance`` (residents of the community's buildings,
    those with a result for the day, positives); the latest round up to ``day`` with its residents
    sampled and its positive tubes. ``antigen=False`` leaves the two antigen counts out, for rows
    that get them from ``_antigen_counted``. With ``volunteers`` (the daily report's row) also the
    volunteers approved and on duty, and the care figures of ``care.selectors.at_risk_profiles``
    with births due by ``care_end`` (``f_care_flagged``, ``f_care_beyond``: ``_at_risk``)."""
    start, _end = day_bounds(day)
    open_now = _open_at(moment)
    orders = WorkOrder.objects.all()
    requests = ResidentRequest.objects.all()
    opened = Q(created_at__lte=moment, order__isnull=False) & (
        Q(order__closed_at__isnull=True) | Q(order__closed_at__gt=moment)
    )
    pending = Q(created_at__lte=moment) & (
        Q(resolved_at__isnull=True, status=Retest.Status.PENDING) | Q(resolved_at__gt=moment)
    )
    reports = _antigen_reports(day)
    latest = Round.objects.filter(community_id=OuterRef("pk"), date__lte=day).order_by("-date", "-id")
    figures: dict[str, Any] = {
        # Residents and households as the database keeps them per community (CommunityCount),
        # never by counting the residents: that read grew with the subdistrict's residents.
        "f_residents": _kept("residents"),
        "f_households": _kept("households"),
        "f_retests": _count_of(Retest.objects.filter(pending), "community_id"),
        "f_orders_open": _count_of(orders.filter(open_now), "community_id"),
        "f_orders_overdue": _count_of(orders.filter(open_now & Q(due_at__lt=moment)), "community_id"),
        "f_orders_done": _count_of(
            orders.filter(status=Status.DONE, closed_at__gte=start, closed_at__lte=moment), "community_id"
        ),
        "f_orders_new": _count_of(orders.filter(created_at__gte=start, created_at__lte=moment), "community_id"),
        "f_requests_open": _count_of(requests.filter(opened), "community_id"),
        "f_requests_closed": _count_of(
            requests.filter(order__status=Status.DONE, order__closed_at__gte=start, order__closed_at__lte=moment),
            "community_id",
        ),
        "f_requests_new": _count_of(requests.filter(created_at__gte=start, created_at__lte=moment), "community_id"),
        **_case_figures(day, moment),
        "f_close_contacts": _count_of(
            CloseContact.objects.filter(since__lte=day, until__gte=day, place=""),
            "case__community_id",
            "resident_id",
            distinct=True,
        ),
        "f_round_id": Subquery(latest.values("id")[:1]),
        "f_round_date": Subquery(latest.values("date")[:1]),
        "f_round_status": Subquery(latest.values("status")[:1]),
        "f_rule_set": Subquery(ZoneSettings.objects.filter(community_id=OuterRef("pk")).values("rule_set")[:1]),
        "f_clean_round_gate": Subquery(
            ZoneSettings.objects.filter(community_id=OuterRef("pk")).values("clean_round_gate")[:1]
        ),
    }
    if antigen:
        figures["f_antigen_reported"] = _count_of(reports, "community_id")
        figures["f_antigen_positive"] = _count_of(reports.filter(result=AntigenResult.POSITIVE), "community_id")
    if volunteers:
        sd, ed = day_bounds(day)
        figures["f_volunteers_approved"] = _count_of(
            Volunteer.objects.filter(status=VolunteerStatus.APPROVED), "community_id"
        )
        figures["f_volunteers_on_duty"] = _count_of(
            ShiftAssignment.objects.filter(shift__starts_at__lt=ed, shift__ends_at__gt=sd),
            "shift__community_id",
            "volunteer_id",
            distinct=True,
        )
        flagged, beyond = at_risk_profiles(care_end or day)
        figures["f_care_flagged"] = _count_of(flagged, "community_id")
        figures["f_care_beyond"] = Exists(beyond.filter(community_id=OuterRef("pk")))
    qs = communities.annotate(**figures)
    return qs.annotate(**_round_figures(moment, residents=False))


def _case_figures(day: dt.date, moment: dt.datetime) -> dict[str, Any]:
    """Cases reported up to ``day`` and where they stand on ``day``: the same rule as
    ``Case.stage`` (reported → awaiting transfer, isolated, monitoring, closed), as counts."""
    reported = Case.objects.filter(report_date__lte=day)
    in_care = Q(discharged_on__isnull=True) | Q(discharged_on__gt=day)
    transferred = Q(transferred_on__isnull=False, transferred_on__lte=day)
    return {
        "f_cases_total": _count_of(reported, "community_id"),
        "f_cases_new": _count_of(reported.filter(report_date=day), "community_id"),
        "f_cases_awaiting": _count_of(reported.filter(in_care & ~transferred), "community_id"),
        "f_cases_waiting_since": Subquery(
            reported.filter(in_care & ~transferred, created_at__lte=moment, community_id=OuterRef("pk"))
            .order_by("created_at")
            .values("created_at")[:1]
        ),
        "f_cases_isolated": _count_of(reported.filter(in_care & transferred), "community_id"),
        "f_cases_monitoring": _count_of(
            reported.filter(discharged_on__lte=day, monitoring_until__gte=day), "community_id"
        ),
    }


def _round_figures(moment: dt.datetime, *, community: str = "pk", residents: bool = True) -> dict[str, Any]:
    """The latest round's figures (``f_round_id`` of the outer row), the same counts as the round
    page (``testing.selectors.round_counts``): residents of the community's buildings sampled,
    exempt (a case in isolation or monitoring on the round's day, or a pending re-test) or expected,
    and its tubes. Each a scalar subquery; samples and tubes are never joined together.
    ``community`` names the outer row's community id: ``pk`` on a community row, ``community_id``
    on a round row (the rounds chart: every round with the same figures). ``residents=False``
    leaves out the count of the community's residents, for a row that has it already
    (``f_residents``, from the kept counts: the same count).

    A row without a round costs nothing more than its round look-up: the sampled residents are
    counted from the round's samples (an index range of one round, never every resident of the
    database), and the exempt ones only when there is a round."""
    rid = OuterRef("f_round_id")
    tubes = Tube.objects.filter(round_id=rid)
    in_community = OuterRef(community)
    # The community's residents by their own community column (the same people as through their
    # households' buildings: a resident's community is always their building's; the round page
    # counts them the same way), one index range instead of buildings -> households -> residents.
    people = Resident.objects.filter(community_id=in_community)
    sampled = Exists(Sample.objects.filter(round_id=OuterRef(rid), resident_id=OuterRef("pk")))
    round_day = OuterRef(OuterRef("f_round_date"))
    exempt = Exists(
        Case.objects.filter(resident_id=OuterRef("pk"), report_date__lte=round_day).filter(
            Q(discharged_on__isnull=True) | Q(discharged_on__gt=round_day) | Q(monitoring_until__gte=round_day)
        )
    ) | Exists(Retest.objects.filter(resident_id=OuterRef("pk"), status=Retest.Status.PENDING))

    def counted(qs: QuerySet[Any], key: str, counted: str = "id", *, distinct: bool = False) -> Coalesce:
        grouped = qs.order_by().values(key).annotate(n=Count(counted, distinct=distinct)).values("n")[:1]
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    # Residents of the community's buildings with a sample in the round: the round's samples,
    # each resident once (a resident may have a pooled and a single sample).
    sampled_people = Sample.objects.filter(round_id=rid, resident__community_id=in_community)
    resulted = Q(lab_result__isnull=False, lab_result__imported_at__lte=moment)
    positive = Q(lab_result__result=Result.POSITIVE, lab_result__imported_at__lte=moment)

    def if_round(figure: Coalesce) -> DbCase:
        """0 without a round, the figure otherwise: PostgreSQL runs a CASE's subquery only when it
        reaches it, so a community without a round reads none of its samples or tubes."""
        return DbCase(When(Q(f_round_id__isnull=True), then=Value(0)), default=figure, output_field=IntegerField())

    figures: dict[str, Any] = {
        "f_round_sampled": if_round(counted(sampled_people, "round_id", "resident_id", distinct=True)),
        "f_round_exempt": if_round(counted(people.filter(~sampled & exempt), "community_id")),
        "f_round_tubes": if_round(counted(tubes, "round_id")),
        "f_round_resulted": if_round(counted(tubes.filter(resulted), "round_id")),
        "f_round_positive": if_round(counted(tubes.filter(positive), "round_id")),
    }
    if residents:
        figures["f_round_residents"] = counted(people, "community_id")
    return figures


# The figures statement is the same SQL for every report of one shape (who reads, one community
# or the table, the time zone); only the day's values change. Building and compiling it through the
# ORM cost about half of a daily report's CPU (about 30 ms), so it is compiled once per shape with
# stand-in values for the day and the moment, checked on its first use against the ORM's own
# compilation with the real values (same SQL, same parameters once the stand-ins are swapped), and
# then run with the real values swapped in; a shape whose check fails is never reused. Its text
# repeats, so PostgreSQL prepares it once per connection (``hot_cursor``: planning the statement
# of some forty subqueries was 2 ms of every report). Rows are turned into communities exactly as
# the ORM does (its converters, select_related, annotations).
_DAY0 = dt.date(1900, 1, 3)
_END0 = dt.date(1900, 1, 5)  # the last day of the care window (``care.selectors.at_risk_window_end``)
_MOMENT0 = dt.datetime(1900, 1, 3, 12, 34, 56, 789, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # the stand-ins' parameters; the scope's own are the last ``scope_params``
    scope_params: int
    build: Callable[[list[Any]], list[Any]]  # rows -> communities


_COMPILED: dict[tuple[Any, ...], _Compiled | None] = {}


def _stand_ins(db: str, day: dt.date, moment: dt.datetime, care_end: dt.date) -> list[tuple[Any, Any]]:
    """(stand-in parameter, real parameter) for the day, its bounds, the moment and the care
    window's last day, as the backend sends them."""
    ops = connections[db].ops
    start0, end0 = day_bounds(_DAY0)
    start, end = day_bounds(day)
    return [
        (ops.adapt_datefield_value(_DAY0), ops.adapt_datefield_value(day)),
        (ops.adapt_datefield_value(_END0), ops.adapt_datefield_value(care_end)),
        (ops.adapt_datetimefield_value(start0), ops.adapt_datetimefield_value(start)),
        (ops.adapt_datetimefield_value(end0), ops.adapt_datetimefield_value(end)),
        (ops.adapt_datetimefield_value(_MOMENT0), ops.adapt_datetimefield_value(moment)),
    ]


def _swapped(params: tuple[Any, ...], pairs: list[tuple[Any, Any]]) -> tuple[Any, ...]:
    def one(p: Any) -> Any:
        for stand_in, real in pairs:
            if type(p) is type(stand_in) and p == stand_in:
                return real
        return p

    return tuple(one(p) for p in params)


def _builder(compiler: Any, db: str) -> Callable[[list[Any]], list[Any]]:
    """Rows of ``compiler``'s statement -> model instances, as ``ModelIterable`` makes them."""
    select, klass_info, annotation_col_map = compiler.select, compiler.klass_info, compiler.annotation_col_map
    model_cls = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [f[0].target.attname for f in select[start:end]]
    populators = get_related_populators(klass_info, select, db)  # type: ignore[call-arg]  # the stubs are a newer Django's
    converters = compiler.get_converters([s[0] for s in select[0 : compiler.col_count]])

    def build(rows: list[Any]) -> list[Any]:
        out = []
        for row in compiler.apply_converters(rows, converters) if converters else rows:
            obj = model_cls.from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for attr, pos in annotation_col_map.items():
                setattr(obj, attr, row[pos])
            out.append(obj)
        return out

    return build


def _converted(compiler: Any) -> Callable[[list[Any]], list[Any]]:
    """Rows of ``compiler``'s statement -> its values, converted as ``values_list`` converts them."""
    converters = compiler.get_converters([e[0] for e in compiler.select[0 : compiler.col_count]])

    def build(rows: list[Any]) -> list[Any]:
        return [tuple(r) for r in compiler.apply_converters(rows, converters)] if converters else rows

    return build


def _figure_rows(
    scope: QuerySet[Community], day: dt.date, moment: dt.datetime, *, volunteers: bool = False, first: bool = False
) -> list[Any]:
    """``_with_figures(scope, day, moment)`` (its first row only with ``first``, as ``.first()``), run
    from the compiled statement of its shape: one statement, the same rows. Rows of a table (not
    ``first``) get their antigen counts from one more, grouped, read (``_antigen_counted``)."""
    rows = _statement_rows(scope, day, moment, volunteers=volunteers, first=first)
    if not first:
        _antigen_counted(rows, day)
    return rows


def _statement_rows(
    scope: QuerySet[Community], day: dt.date, moment: dt.datetime, *, volunteers: bool, first: bool
) -> list[Any]:
    end = at_risk_window_end(moment)

    def queryset(d: dt.date, m: dt.datetime, e: dt.date) -> QuerySet[Community]:
        qs = _with_figures(scope, d, m, volunteers=volunteers, antigen=first, care_end=e)
        return (qs if qs.ordered else qs.order_by("pk"))[:1] if first else qs

    if getattr(scope, "_known_related_objects", None) or scope.query.is_empty():  # not a plain scope: the ORM's own way
        return list(queryset(day, moment, end))
    try:
        scope_sql, scope_params = scope.query.sql_with_params()
    except EmptyResultSet:
        return list(queryset(day, moment, end))
    key = (scope.db, connections[scope.db].vendor, timezone.get_current_timezone_name(), volunteers, first, scope_sql)
    pairs = _stand_ins(scope.db, day, moment, end)
    if key not in _COMPILED:
        compiler = queryset(_DAY0, _MOMENT0, _END0).query.get_compiler(using=scope.db)
        sql, params = compiler.as_sql()
        real_sql, real_params = queryset(day, moment, end).query.get_compiler(using=scope.db).as_sql()
        n = len(scope_params)
        same = (
            sql == real_sql
            and _swapped(tuple(params), pairs) == tuple(real_params)
            and tuple(params[len(params) - n :]) == tuple(scope_params)
        )
        _COMPILED[key] = _Compiled(sql, tuple(params), n, _builder(compiler, scope.db)) if same else None
    compiled = _COMPILED[key]
    if compiled is None:
        return list(queryset(day, moment, end))
    head = compiled.params[: len(compiled.params) - compiled.scope_params]
    params = (*_swapped(head, pairs), *scope_params)
    with hot_cursor(connections[scope.db]) as cursor:
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall()
    return compiled.build(rows)


def _orders_of(c: Any) -> OrderFigures:
    return OrderFigures(c.f_orders_open, c.f_orders_overdue, c.f_orders_done, c.f_orders_new)


def _requests_of(c: Any) -> RequestFigures:
    return RequestFigures(c.f_requests_open, c.f_requests_closed, c.f_requests_new)


def _antigen_of(c: Any) -> AntigenFigures:
    return AntigenFigures(residents=c.f_residents, reported=c.f_antigen_reported, positive=c.f_antigen_positive)


def _cases_of(c: Any, moment: dt.datetime) -> CaseFigures:
    """The case figures of a community row: the one definition of each case figure."""
    since = c.f_cases_waiting_since
    return CaseFigures(
        longest_wait_hours=int((moment - since).total_seconds() // 3600) if since is not None else 0,
        new=c.f_cases_new,
        total=c.f_cases_total,
        awaiting_transfer=c.f_cases_awaiting,
        in_isolation=c.f_cases_isolated,
        home_monitoring=c.f_cases_monitoring,
        close_contacts=c.f_close_contacts,
    )


def _round_of(c: Any) -> RoundFigures | None:
    if c.f_round_id is None:
        return None
    # A community row counts its residents once (``f_residents``); a round row (the chart) has its own.
    residents = c.f_round_residents if hasattr(c, "f_round_residents") else c.f_residents
    return RoundFigures(
        id=c.f_round_id,
        date=c.f_round_date,
        status=c.f_round_status,
        expected=residents - c.f_round_exempt,
        sampled=c.f_round_sampled,
        missing=max(residents - c.f_round_exempt - c.f_round_sampled, 0),
        exempt=c.f_round_exempt,
        tubes=c.f_round_tubes,
        tubes_resulted=c.f_round_resulted,
        positive_tubes=c.f_round_positive,
    )


def _zone_settings(rows: list[Any]) -> dict[int, tuple[str | None, bool]]:
    return {c.pk: (c.f_rule_set, bool(c.f_clean_round_gate)) for c in rows}


# --------------------------------------------------------------------------------------------------
# The community's daily report


@dataclass
class RoundFigures:
    id: int
    date: dt.date
    status: str
    expected: int
    sampled: int
    missing: int
    exempt: int
    tubes: int
    tubes_resulted: int
    positive_tubes: int

    @property
    def rate(self) -> float:
        return self.sampled / self.expected if self.expected else 1.0


@dataclass
class TestingFigures:
    round: RoundFigures | None
    pending_retests: int


@dataclass
class AntigenFigures:
    residents: int
    reported: int
    positive: int

    @property
    def rate(self) -> float:
        return self.reported / self.residents if self.residents else 0.0


@dataclass
class ZonePlace:
    kind: str  # "compound" or "block"
    name: str
    compound: str
    status: str
    label_zh: str
    label_en: str
    severity: int
    last_case_on: dt.date | None
    days_without_case: int | None
    next_change_on: dt.date | None
    next_status: str | None
    next_label_zh: str
    next_label_en: str
    overridden: bool
    countdown: int | None  # days until the next change
    held_by: str = ""  # the micro sealed block whose floor holds this place at its status


@dataclass
class ZoneFigures:
    rule_set: str
    days_without_case: int | None
    places: list[ZonePlace]
    buildings_by_status: dict[str, int]
    statuses: list[tuple[str, str, str]]  # (code, zh, en), most severe first


@dataclass
class DistributionFigures:
    id: int
    name: str
    kind: str
    on: dt.date
    total: int
    done: int

    @property
    def pending(self) -> int:
        return self.total - self.done


@dataclass
class DailyReport:
    community: Community
    day: dt.date
    as_of: dt.datetime
    residents: int
    households: int
    cases: CaseFigures
    testing: TestingFigures
    antigen: AntigenFigures
    zones: ZoneFigures
    work_orders: OrderFigures
    requests: RequestFigures
    distributions: list[DistributionFigures] = field(default_factory=list)
    at_risk_48h: int = 0
    volunteers_approved: int = 0
    volunteers_on_duty: int = 0

    @property
    def deliveries_done(self) -> int:
        return sum(d.done for d in self.distributions)

    @property
    def deliveries_pending(self) -> int:
        return sum(d.pending for d in self.distributions)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data with stable keys (API, CLI)."""
        return report_json(self)


def _zones(row: Any, day: dt.date) -> ZoneFigures:
    return zone_figures(row, day, settings=_zone_settings([row]))


def zone_figures(
    community: Community, day: dt.date, *, settings: dict[int, tuple[str | None, bool]] | None = None
) -> ZoneFigures:
    """The zone figures of the daily report (days without a new case, each place's status and
    countdown): the one definition, for the report and the charts alike. ``settings`` spares the
    settings query when the caller read them with its own row."""
    # counted per status, never listed: no per-building list (nor its per-building counts) read
    report = zone_reports([community], day, buildings=False, settings=settings)[community.pk]
    rules = report.rules

    def place(kind: str, p: Any) -> ZonePlace:
        s = p.state
        nxt = s.next_status
        return ZonePlace(
            kind=kind,
            name=p.name,
            compound=p.compound,
            status=s.status,
            label_zh=rules.label(s.status, "zh"),
            label_en=rules.label(s.status, "en"),
            severity=rules.severity(s.status),
            last_case_on=s.last_case_on,
            days_without_case=s.days_without_case,
            next_change_on=s.next_change_on,
            next_status=nxt,
            next_label_zh=rules.label(nxt, "zh") if nxt else "",
            next_label_en=rules.label(nxt, "en") if nxt else "",
            overridden=s.overridden,
            countdown=None if s.next_change_on is None else (s.next_change_on - day).days,
            held_by=report.held_by(s),
        )

    places = [place("compound", p) for p in report.compounds] + [place("block", p) for p in report.microzones]
    per_status = report.buildings_by_status()
    return ZoneFigures(
        rule_set=rules.name,
        days_without_case=report.days_without_case(),
        places=places,
        buildings_by_status={s: per_status.get(s, 0) for s in rules.statuses},
        statuses=[(s, rules.label(s, "zh"), rules.label(s, "en")) for s in rules.statuses],
    )


def _distributions_of(community_id: int, day: dt.date, moment: dt.datetime) -> QuerySet[Distribution, Any]:
    done = Q(
        deliveries__status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.LEFT_AT_DOOR],
        deliveries__delivered_at__lte=moment,
    )
    return (
        Distribution.objects.filter(community_id=community_id, on__lte=day)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=moment))
        .annotate(total=Count("deliveries"), done=Count("deliveries", filter=done))
        .order_by("-on", "-id")
        .values_list("id", "name", "kind", "on", "total", "done")
    )


_COMMUNITY0 = -190_001  # a community id no row has: the stand-in of the distributions' statement


def _distributions(community: Community, day: dt.date, moment: dt.datetime) -> list[DistributionFigures]:
    """Distributions open at ``moment`` (started by ``day``, not closed): doors done and pending.
    Compiled once with stand-ins, as the figures statement (the ORM's building and compiling of
    this small statement cost more than running it), checked the same way."""
    db = Distribution.objects.db
    key = ("distributions", db, connections[db].vendor, timezone.get_current_timezone_name())
    pairs = [(_COMMUNITY0, community.pk), *_stand_ins(db, day, moment, day)]
    if key not in _COMPILED:
        compiler = _distributions_of(_COMMUNITY0, _DAY0, _MOMENT0).query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        real_sql, real_params = _distributions_of(community.pk, day, moment).query.get_compiler(using=db).as_sql()
        same = sql == real_sql and _swapped(tuple(params), pairs) == tuple(real_params)
        _COMPILED[key] = _Compiled(sql, tuple(params), 0, _converted(compiler)) if same else None
    compiled = _COMPILED[key]
    if compiled is None:
        rows: list[Any] = list(_distributions_of(community.pk, day, moment))
    else:
        with hot_cursor(connections[db]) as cursor:
            cursor.execute(compiled.sql, _swapped(compiled.params, pairs))
            rows = compiled.build(cursor.fetchall())
    return [DistributionFigures(*r) for r in rows]


def _at_risk(user: AnyUser, row: Any, moment: dt.datetime) -> int:
    """The care figure of a daily report's row: counted in its statement (``f_care_flagged``)
    unless a profile needs ``at_risk_count`` (``f_care_beyond``), or the community's clock, active
    now, ends the 48 hours on another day than the clock the statement counted births due by."""
    if not row.f_care_beyond and row.f_care_end == at_risk_window_end(moment):
        return int(row.f_care_flagged)
    return at_risk_count(user, row, now=moment)


def community_row(user: AnyUser, community: Community | str, day: dt.date, *, now: dt.datetime | None = None) -> Any:
    """The community (or its code) with every figure of its report as of ``day``, in one
    statement that also checks the user reads it whole (404 otherwise, never a hint that it
    exists). The one source of the daily report, the overview's figures and the subdistrict row."""
    moment = as_of(day, now)
    scope = communities_read(user)
    scope = scope.filter(code=community) if isinstance(community, str) else scope.filter(pk=community.pk)
    found = _figure_rows(scope, day, moment, volunteers=True, first=True)
    row: Any = found[0] if found else None
    if row is None:
        raise Http404(gettext("Community not found"))
    row.f_care_end = at_risk_window_end(moment)  # the clock the statement counted by
    community_time_zone_activate(row)
    return row


def daily_report(
    user: AnyUser, community: Community | str, day: dt.date, *, now: dt.datetime | None = None
) -> DailyReport:
    """The community's daily report for ``day`` (the community or its code); 404 for a user who
    may not read the community whole."""
    moment = as_of(day, now)
    row = community_row(user, community, day, now=now)
    return DailyReport(
        community=row,
        day=day,
        as_of=moment,
        residents=row.f_residents,
        households=row.f_households,
        cases=_cases_of(row, moment),
        testing=TestingFigures(round=_round_of(row), pending_retests=row.f_retests),
        antigen=_antigen_of(row),
        zones=_zones(row, day),
        work_orders=_orders_of(row),
        requests=_requests_of(row),
        distributions=_distributions(row, day, moment),
        at_risk_48h=_at_risk(user, row, moment),
        volunteers_approved=row.f_volunteers_approved,
        volunteers_on_duty=row.f_volunteers_on_duty,
    )


@dataclass
class KeyFigures:
    """What the overview shows of the day, from the same row as the daily report."""

    community: Community
    day: dt.date
    as_of: dt.datetime
    cases: CaseFigures
    antigen: AntigenFigures
    round: RoundFigures | None
    pending_retests: int
    work_orders: OrderFigures
    requests: RequestFigures


def key_figures(user: AnyUser, community: Community, day: dt.date, *, now: dt.datetime | None = None) -> KeyFigures:
    row = community_row(user, community, day, now=now)
    return KeyFigures(
        community=row,
        day=day,
        as_of=as_of(day, now),
        cases=_cases_of(row, as_of(day, now)),
        antigen=_antigen_of(row),
        round=_round_of(row),
        pending_retests=row.f_retests,
        work_orders=_orders_of(row),
        requests=_requests_of(row),
    )


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def report_json(report: DailyReport) -> dict[str, Any]:
    rnd = report.testing.round
    return {
        "community": {
            "code": report.community.code,
            "name": report.community.name,
            "subdistrict": report.community.subdistrict.name,
        },
        "day": report.day.isoformat(),
        "as_of": timezone.localtime(report.as_of, report.community.tzinfo).isoformat(timespec="seconds"),
        "residents": report.residents,
        "households": report.households,
        "cases": asdict(report.cases),
        "testing": {
            "round": None
            if rnd is None
            else {
                "id": rnd.id,
                "date": rnd.date.isoformat(),
                "status": rnd.status,
                "expected": rnd.expected,
                "sampled": rnd.sampled,
                "missing": rnd.missing,
                "exempt": rnd.exempt,
                "rate": round(rnd.rate, 4),
                "tubes": rnd.tubes,
                "tubes_resulted": rnd.tubes_resulted,
                "positive_tubes": rnd.positive_tubes,
            },
            "pending_retests": report.testing.pending_retests,
        },
        "antigen": {
            "residents": report.antigen.residents,
            "reported": report.antigen.reported,
            "rate": round(report.antigen.rate, 4),
            "positive": report.antigen.positive,
        },
        "zones": {
            "rule_set": report.zones.rule_set,
            "days_without_case": report.zones.days_without_case,
            "places": [
                {
                    "kind": p.kind,
                    "name": p.name,
                    "compound": p.compound,
                    "status": p.status,
                    "label_zh": p.label_zh,
                    "label_en": p.label_en,
                    "last_case_on": _iso(p.last_case_on),
                    "days_without_case": p.days_without_case,
                    "next_change_on": _iso(p.next_change_on),
                    "next_status": p.next_status,
                    "overridden": p.overridden,
                    "held_by": p.held_by,
                }
                for p in report.zones.places
            ],
            "buildings_by_status": report.zones.buildings_by_status,
        },
        "work_orders": asdict(report.work_orders),
        "requests": asdict(report.requests),
        "supplies": {
            "deliveries_done": report.deliveries_done,
            "deliveries_pending": report.deliveries_pending,
            "distributions": [
                {
                    "id": d.id,
                    "name": d.name,
                    "kind": d.kind,
                    "on": d.on.isoformat(),
                    "total": d.total,
                    "done": d.done,
                    "pending": d.pending,
                }
                for d in report.distributions
            ],
        },
        "care": {"at_risk_48h": report.at_risk_48h},
        "volunteers": {"approved": report.volunteers_approved, "on_duty": report.volunteers_on_duty},
    }


# --------------------------------------------------------------------------------------------------
# The subdistrict's table: one row per community, key figures


@dataclass
class SubdistrictRow:
    community: Community
    residents: int
    cases: CaseFigures
    antigen: AntigenFigures
    round_date: dt.date | None
    round_sampled: int
    round: RoundFigures | None
    positive_tubes: int
    pending_retests: int
    zone_status: str
    zone_label_zh: str
    zone_label_en: str
    zone_severity: int
    sealed_places: int
    days_without_case: int | None
    work_orders: OrderFigures
    requests: RequestFigures


@dataclass
class SubdistrictTable:
    day: dt.date
    as_of: dt.datetime
    rows: list[SubdistrictRow]

    def total(self, attr: str) -> int:
        value = 0
        for row in self.rows:
            obj: Any = row
            for part in attr.split("."):
                obj = getattr(obj, part)
            value += int(obj or 0)
        return value


def subdistrict_table(
    user: AnyUser, day: dt.date, *, now: dt.datetime | None = None, only: Q | None = None
) -> SubdistrictTable:
    """One row per community the user may report on (a subdistrict officer: their subdistrict),
    narrowed by ``only`` (a filter on Community: an API key's communities).

    A fixed number of queries whatever the number of communities: the communities with their
    counts (one statement), the day's antigen reports counted per community (one grouped read),
    and the zone reports of all of them at once."""
    moment = as_of(day, now)
    readable = communities_read(user) if only is None else communities_read(user).filter(only)
    communities: list[Community] = _figure_rows(readable, day, moment)
    zone_by_community = zone_reports(communities, day, buildings=False, settings=_zone_settings(communities))
    rows: list[SubdistrictRow] = []
    for c in communities:
        zones = zone_by_community[c.pk]
        rules = zones.rules
        places = [*zones.compounds, *zones.microzones]
        worst = max((p.state.status for p in places), key=rules.severity, default=rules.lowest)
        rows.append(
            SubdistrictRow(
                community=c,
                residents=c.f_residents,  # type: ignore[attr-defined]
                cases=_cases_of(c, moment),
                antigen=_antigen_of(c),
                round_date=c.f_round_date,  # type: ignore[attr-defined]
                round_sampled=c.f_round_sampled,  # type: ignore[attr-defined]
                round=_round_of(c),
                positive_tubes=c.f_round_positive,  # type: ignore[attr-defined]
                pending_retests=c.f_retests,  # type: ignore[attr-defined]
                zone_status=worst,
                zone_label_zh=rules.label(worst, "zh"),
                zone_label_en=rules.label(worst, "en"),
                zone_severity=rules.severity(worst),
                sealed_places=sum(1 for p in places if p.state.status == rules.most_severe),
                days_without_case=zones.days_without_case(),
                work_orders=_orders_of(c),
                requests=_requests_of(c),
            )
        )
    return SubdistrictTable(day=day, as_of=moment, rows=rows)


def _flat(figures: CaseFigures | OrderFigures | RequestFigures) -> dict[str, int]:
    """``asdict`` of a dataclass of counts, without its deep copy of each count (a table row has three)."""
    return {f.name: getattr(figures, f.name) for f in fields(figures)}


def subdistrict_json(table: SubdistrictTable) -> dict[str, Any]:
    return {
        "day": table.day.isoformat(),
        "as_of": timezone.localtime(table.as_of).isoformat(timespec="seconds"),
        "communities": [
            {
                "code": r.community.code,
                "name": r.community.name,
                "subdistrict": r.community.subdistrict.name,
                "residents": r.residents,
                "cases": _flat(r.cases),
                "antigen": {
                    "residents": r.antigen.residents,
                    "reported": r.antigen.reported,
                    "rate": round(r.antigen.rate, 4),
                    "positive": r.antigen.positive,
                },
                "round": {"date": _iso(r.round_date), "sampled": r.round_sampled, "positive_tubes": r.positive_tubes},
                "pending_retests": r.pending_retests,
                "zone": {
                    "status": r.zone_status,
                    "label_zh": r.zone_label_zh,
                    "label_en": r.zone_label_en,
                    "sealed_places": r.sealed_places,
                    "days_without_case": r.days_without_case,
                },
                "work_orders": _flat(r.work_orders),
                "requests": _flat(r.requests),
            }
            for r in table.rows
        ],
    }


def figures_overview_panel(user: User, community: Community) -> OverviewPanel | None:
    """On the overview of a reader of the whole community: today's key figures, from the same
    statement as the daily report (the two never disagree), with a link to the full report."""
    if not can_read_counts(user):
        return None
    try:
        figures = key_figures(user, community, timezone.localdate())
    except Http404:  # sees part of the community only (a grid leader): no whole-community counts
        return None
    return OverviewPanel("reports/_overview_figures.html", {"figures": figures}, order=5)
