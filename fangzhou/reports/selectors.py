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
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_read_counts
from fangzhou.care.selectors import at_risk_count
from fangzhou.cases.models import Case, CloseContact
from fangzhou.lib.errors import Refused
from fangzhou.registry.hooks import OverviewPanel
from fangzhou.registry.models import Community, Household, Resident
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
    """``qs`` counted per community, as a scalar subquery on the outer community row (0 if none)."""
    grouped = (
        qs.filter(**{community_path: OuterRef("pk")})
        .order_by()
        .values(community_path)
        .annotate(n=Count(counted, distinct=distinct))
        .values("n")[:1]
    )
    return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)


def _with_figures(
    communities: QuerySet[Community], day: dt.date, moment: dt.datetime, *, volunteers: bool = False
) -> QuerySet[Community]:
    """The communities, each with every count of its report row, in one statement: one scalar
    subquery per figure (an index lookup per community), never a join of two many-valued sides.
    Residents and households; work orders open, overdue, done and new as of ``moment``;
    residents' requests open, closed and new; residents pending re-test; close contacts in home
    isolation; the antigen figures of ``antigen_glance`` (residents of the community's buildings,
    those with a result for the day, positives); the latest round up to ``day`` with its residents
    sampled and its positive tubes."""
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
    reports = AntigenReport.objects.filter(day=day).exclude(result=AntigenResult.NOT_TESTED)
    latest = Round.objects.filter(community_id=OuterRef("pk"), date__lte=day).order_by("-date", "-id")
    figures: dict[str, Any] = {
        "f_residents": _count_of(Resident.objects.all(), "community_id"),
        "f_households": _count_of(Household.objects.all(), "building__community_id"),
        "f_antigen_residents": _count_of(Resident.objects.all(), "household__building__community_id"),
        "f_antigen_reported": _count_of(reports, "community_id"),
        "f_antigen_positive": _count_of(reports.filter(result=AntigenResult.POSITIVE), "community_id"),
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
    qs = communities.annotate(**figures)
    return qs.annotate(**_round_figures(moment))


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


def _round_figures(moment: dt.datetime, *, community: str = "pk") -> dict[str, Coalesce]:
    """The latest round's figures (``f_round_id`` of the outer row), the same counts as the round
    page (``testing.selectors.round_counts``): residents of the community's buildings sampled,
    exempt (a case in isolation or monitoring on the round's day, or a pending re-test) or expected,
    and its tubes. Each a scalar subquery; samples and tubes are never joined together.
    ``community`` names the outer row's community id: ``pk`` on a community row, ``community_id``
    on a round row (the rounds chart: every round with the same figures)."""
    rid = OuterRef("f_round_id")
    tubes = Tube.objects.filter(round_id=rid)
    residents = Resident.objects.filter(household__building__community_id=OuterRef(community))
    sampled = Exists(Sample.objects.filter(round_id=OuterRef(rid), resident_id=OuterRef("pk")))
    round_day = OuterRef(OuterRef("f_round_date"))
    exempt = Exists(
        Case.objects.filter(resident_id=OuterRef("pk"), report_date__lte=round_day).filter(
            Q(discharged_on__isnull=True) | Q(discharged_on__gt=round_day) | Q(monitoring_until__gte=round_day)
        )
    ) | Exists(Retest.objects.filter(resident_id=OuterRef("pk"), status=Retest.Status.PENDING))

    def counted(qs: QuerySet[Any], key: str) -> Coalesce:
        grouped = qs.order_by().values(key).annotate(n=Count("id")).values("n")[:1]
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    resulted = Q(lab_result__isnull=False, lab_result__imported_at__lte=moment)
    positive = Q(lab_result__result=Result.POSITIVE, lab_result__imported_at__lte=moment)
    return {
        "f_round_residents": counted(residents, "household__building__community_id"),
        "f_round_sampled": counted(residents.filter(sampled), "household__building__community_id"),
        "f_round_exempt": counted(residents.filter(~sampled & exempt), "household__building__community_id"),
        "f_round_tubes": counted(tubes, "round_id"),
        "f_round_resulted": counted(tubes.filter(resulted), "round_id"),
        "f_round_positive": counted(tubes.filter(positive), "round_id"),
    }


def _orders_of(c: Any) -> OrderFigures:
    return OrderFigures(c.f_orders_open, c.f_orders_overdue, c.f_orders_done, c.f_orders_new)


def _requests_of(c: Any) -> RequestFigures:
    return RequestFigures(c.f_requests_open, c.f_requests_closed, c.f_requests_new)


def _antigen_of(c: Any) -> AntigenFigures:
    return AntigenFigures(residents=c.f_antigen_residents, reported=c.f_antigen_reported, positive=c.f_antigen_positive)


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
    return RoundFigures(
        id=c.f_round_id,
        date=c.f_round_date,
        status=c.f_round_status,
        expected=c.f_round_residents - c.f_round_exempt,
        sampled=c.f_round_sampled,
        missing=max(c.f_round_residents - c.f_round_exempt - c.f_round_sampled, 0),
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
    report = zone_reports([community], day, settings=settings)[community.pk]
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
    per_status = Counter(b.state.status for b in report.buildings)
    return ZoneFigures(
        rule_set=rules.name,
        days_without_case=report.days_without_case(),
        places=places,
        buildings_by_status={s: per_status.get(s, 0) for s in rules.statuses},
        statuses=[(s, rules.label(s, "zh"), rules.label(s, "en")) for s in rules.statuses],
    )


def _distributions(community: Community, day: dt.date, moment: dt.datetime) -> list[DistributionFigures]:
    """Distributions open at ``moment`` (started by ``day``, not closed): doors done and pending."""
    done = Q(
        deliveries__status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.LEFT_AT_DOOR],
        deliveries__delivered_at__lte=moment,
    )
    rows = (
        Distribution.objects.filter(community=community, on__lte=day)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=moment))
        .annotate(total=Count("deliveries"), done=Count("deliveries", filter=done))
        .order_by("-on", "-id")
        .values("id", "name", "kind", "on", "total", "done")
    )
    return [DistributionFigures(r["id"], r["name"], r["kind"], r["on"], r["total"], r["done"]) for r in rows]


def _at_risk(user: AnyUser, community: Community, moment: dt.datetime) -> int:
    return at_risk_count(user, community, now=moment)


def community_row(user: AnyUser, community: Community | str, day: dt.date, *, now: dt.datetime | None = None) -> Any:
    """The community (or its code) with every figure of its report as of ``day``, in one
    statement that also checks the user reads it whole (404 otherwise, never a hint that it
    exists). The one source of the daily report, the overview's figures and the subdistrict row."""
    moment = as_of(day, now)
    scope = communities_read(user)
    scope = scope.filter(code=community) if isinstance(community, str) else scope.filter(pk=community.pk)
    row: Any = _with_figures(scope, day, moment, volunteers=True).first()
    if row is None:
        raise Http404(gettext("Community not found"))
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
    counts (one statement), the cases, and the zone reports of all of them at once."""
    moment = as_of(day, now)
    readable = communities_read(user) if only is None else communities_read(user).filter(only)
    communities = list(_with_figures(readable, day, moment))
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
                "cases": asdict(r.cases),
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
                "work_orders": asdict(r.work_orders),
                "requests": asdict(r.requests),
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
