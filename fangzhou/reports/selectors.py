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
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.care.selectors import at_risk_next_48h
from fangzhou.cases.models import Case, CloseContact
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Community, Household, Resident
from fangzhou.registry.selectors import communities_read
from fangzhou.supplies.models import DeliveryStatus, Distribution
from fangzhou.testing.models import AntigenReport, AntigenResult, Result, Retest, Round, Tube
from fangzhou.testing.selectors import antigen_glance, round_counts, rounds_visible
from fangzhou.volunteers.models import ShiftAssignment, Volunteer, VolunteerStatus
from fangzhou.volunteers.selectors import day_bounds as bounds
from fangzhou.workorders.models import ResidentRequest, Status, WorkOrder
from fangzhou.zones.selectors import zone_report

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


def _case_figures(ids: list[int], day: dt.date) -> dict[int, CaseFigures]:
    """Cases reported up to ``day`` and where they stand on ``day`` (``Case.stage``), close contacts
    in home isolation on ``day``."""
    out: dict[int, CaseFigures] = defaultdict(CaseFigures)
    for case in Case.objects.filter(community_id__in=ids, report_date__lte=day).only(
        "id", "community_id", "report_date", "transferred_on", "discharged_on", "monitoring_until"
    ):
        figures = out[case.community_id]
        figures.total += 1
        if case.report_date == day:
            figures.new += 1
        stage = case.stage(day)
        if stage == "reported":
            figures.awaiting_transfer += 1
        elif stage == "isolated":
            figures.in_isolation += 1
        elif stage == "monitoring":
            figures.home_monitoring += 1
    for row in (
        CloseContact.objects.filter(case__community_id__in=ids, since__lte=day, until__gte=day)
        .values("case__community_id")
        .annotate(n=Count("resident_id", distinct=True))
    ):
        out[row["case__community_id"]].close_contacts = row["n"]
    return out


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


def _order_figures(ids: list[int], day: dt.date, moment: dt.datetime) -> dict[int, OrderFigures]:
    start, _end = day_bounds(day)
    open_now = _open_at(moment)
    rows = (
        WorkOrder.objects.filter(community_id__in=ids)
        .values("community_id")
        .annotate(
            open=Count("id", filter=open_now),
            overdue=Count("id", filter=open_now & Q(due_at__lt=moment)),
            done=Count("id", filter=Q(status=Status.DONE, closed_at__gte=start, closed_at__lte=moment)),
            new=Count("id", filter=Q(created_at__gte=start, created_at__lte=moment)),
        )
    )
    return {r["community_id"]: OrderFigures(r["open"], r["overdue"], r["done"], r["new"]) for r in rows}


def _request_figures(ids: list[int], day: dt.date, moment: dt.datetime) -> dict[int, RequestFigures]:
    """Residents' requests: open (their order not yet closed), closed (order done) and new that day."""
    start, _end = day_bounds(day)
    opened = Q(created_at__lte=moment, order__isnull=False) & (
        Q(order__closed_at__isnull=True) | Q(order__closed_at__gt=moment)
    )
    rows = (
        ResidentRequest.objects.filter(community_id__in=ids)
        .values("community_id")
        .annotate(
            open=Count("id", filter=opened),
            closed=Count(
                "id", filter=Q(order__status=Status.DONE, order__closed_at__gte=start, order__closed_at__lte=moment)
            ),
            new=Count("id", filter=Q(created_at__gte=start, created_at__lte=moment)),
        )
    )
    return {r["community_id"]: RequestFigures(r["open"], r["closed"], r["new"]) for r in rows}


def _retests_pending(ids: list[int], moment: dt.datetime) -> dict[int, int]:
    """Residents pending re-test (待复查) at ``moment``: asked for, not yet resolved."""
    pending = Q(created_at__lte=moment) & (
        Q(resolved_at__isnull=True, status=Retest.Status.PENDING) | Q(resolved_at__gt=moment)
    )
    return {
        r["community_id"]: r["n"]
        for r in Retest.objects.filter(pending, community_id__in=ids).values("community_id").annotate(n=Count("id"))
    }


def _resident_counts(ids: list[int]) -> dict[int, tuple[int, int]]:
    residents = dict(
        Resident.objects.filter(community_id__in=ids)
        .values("community_id")
        .annotate(n=Count("id"))
        .values_list("community_id", "n")
    )
    households = dict(
        Household.objects.filter(building__community_id__in=ids)
        .values("building__community_id")
        .annotate(n=Count("id"))
        .values_list("building__community_id", "n")
    )
    return {i: (residents.get(i, 0), households.get(i, 0)) for i in ids}


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


def _latest_round(user: AnyUser, community: Community, day: dt.date, moment: dt.datetime) -> RoundFigures | None:
    rnd = rounds_visible(user).filter(community=community, date__lte=day).order_by("-date", "-id").first()
    if rnd is None:
        return None
    counts = round_counts(user, rnd).total
    tubes = Tube.objects.filter(round=rnd).aggregate(
        n=Count("id"),
        resulted=Count("id", filter=Q(lab_result__isnull=False, lab_result__imported_at__lte=moment)),
        positive=Count("id", filter=Q(lab_result__result=Result.POSITIVE, lab_result__imported_at__lte=moment)),
    )
    return RoundFigures(
        id=rnd.pk,
        date=rnd.date,
        status=rnd.status,
        expected=counts.expected,
        sampled=counts.sampled,
        missing=counts.missing,
        exempt=counts.exempt,
        tubes=tubes["n"],
        tubes_resulted=tubes["resulted"],
        positive_tubes=tubes["positive"],
    )


def _antigen(user: AnyUser, community: Community, day: dt.date) -> AntigenFigures:
    glance = antigen_glance(user, community, day)
    return AntigenFigures(residents=glance.residents, reported=glance.reported, positive=len(glance.positives))


def _zones(community: Community, day: dt.date) -> ZoneFigures:
    report = zone_report(community, day)
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
    return len({risk.profile.pk for risk in at_risk_next_48h(user, community, now=moment)})


def _volunteers(community: Community, day: dt.date) -> tuple[int, int]:
    start, end = day_bounds(day)
    approved = Volunteer.objects.filter(community=community, status=VolunteerStatus.APPROVED).count()
    on_duty = (
        ShiftAssignment.objects.filter(shift__community=community, shift__starts_at__lt=end, shift__ends_at__gt=start)
        .values("volunteer_id")
        .distinct()
        .count()
    )
    return approved, on_duty


def daily_report(user: AnyUser, community: Community, day: dt.date, *, now: dt.datetime | None = None) -> DailyReport:
    """The community's daily report for ``day``. The caller has checked the user's access;
    a user without the right gets an empty report rather than another community's figures."""
    if not communities_read(user).filter(pk=community.pk).exists():
        raise ReportError("无权查看该社区的日报", "you may not see this community's daily report")
    moment = as_of(day, now)
    ids = [community.pk]
    residents, households = _resident_counts(ids)[community.pk]
    approved, on_duty = _volunteers(community, day)
    return DailyReport(
        community=community,
        day=day,
        as_of=moment,
        residents=residents,
        households=households,
        cases=_case_figures(ids, day).get(community.pk, CaseFigures()),
        testing=TestingFigures(
            round=_latest_round(user, community, day, moment),
            pending_retests=_retests_pending(ids, moment).get(community.pk, 0),
        ),
        antigen=_antigen(user, community, day),
        zones=_zones(community, day),
        work_orders=_order_figures(ids, day, moment).get(community.pk, OrderFigures()),
        requests=_request_figures(ids, day, moment).get(community.pk, RequestFigures()),
        distributions=_distributions(community, day, moment),
        at_risk_48h=_at_risk(user, community, moment),
        volunteers_approved=approved,
        volunteers_on_duty=on_duty,
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
        "as_of": timezone.localtime(report.as_of).isoformat(timespec="seconds"),
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


def _antigen_by_community(ids: list[int], day: dt.date) -> dict[int, AntigenFigures]:
    """The antigen figures of ``antigen_glance`` for many communities at once: residents of the
    communities' buildings, those with a result for the day (not "not tested"), positives."""
    residents = dict(
        Resident.objects.filter(household__building__community_id__in=ids)
        .values("household__building__community_id")
        .annotate(n=Count("id"))
        .values_list("household__building__community_id", "n")
    )
    reported: dict[int, tuple[int, int]] = {
        r["household__building__community_id"]: (int(r["n"]), int(r["positive"]))
        for r in AntigenReport.objects.filter(day=day, household__building__community_id__in=ids)
        .exclude(result=AntigenResult.NOT_TESTED)
        .values("household__building__community_id")
        .annotate(n=Count("id"), positive=Count("id", filter=Q(result=AntigenResult.POSITIVE)))
    }
    return {
        i: AntigenFigures(
            residents=residents.get(i, 0),
            reported=reported.get(i, (0, 0))[0],
            positive=reported.get(i, (0, 0))[1],
        )
        for i in ids
    }


def _latest_rounds(ids: list[int], day: dt.date, moment: dt.datetime) -> dict[int, tuple[dt.date, int, int]]:
    """Per community: the latest round up to ``day`` → (date, residents sampled, positive tubes)."""
    latest: dict[int, Round] = {}
    for rnd in Round.objects.filter(community_id__in=ids, date__lte=day).order_by("community_id", "-date", "-id"):
        latest.setdefault(rnd.community_id, rnd)
    round_ids = [r.pk for r in latest.values()]
    rows = {
        r["id"]: r
        for r in Round.objects.filter(pk__in=round_ids)
        .annotate(
            sampled=Count("samples__resident", distinct=True),
            positive=Count(
                "tubes",
                filter=Q(tubes__lab_result__result=Result.POSITIVE, tubes__lab_result__imported_at__lte=moment),
                distinct=True,
            ),
        )
        .values("id", "sampled", "positive")
    }
    return {cid: (rnd.date, int(rows[rnd.pk]["sampled"]), int(rows[rnd.pk]["positive"])) for cid, rnd in latest.items()}


def subdistrict_table(user: AnyUser, day: dt.date, *, now: dt.datetime | None = None) -> SubdistrictTable:
    """One row per community the user may report on (a subdistrict officer: their subdistrict)."""
    moment = as_of(day, now)
    communities = list(communities_read(user))
    ids = [c.pk for c in communities]
    residents = _resident_counts(ids)
    cases = _case_figures(ids, day)
    antigen = _antigen_by_community(ids, day)
    rounds = _latest_rounds(ids, day, moment)
    retests = _retests_pending(ids, moment)
    orders = _order_figures(ids, day, moment)
    requests = _request_figures(ids, day, moment)
    rows: list[SubdistrictRow] = []
    for c in communities:
        zones = zone_report(c, day)
        rules = zones.rules
        places = [*zones.compounds, *zones.microzones]
        worst = max((p.state.status for p in places), key=rules.severity, default=rules.lowest)
        round_date, sampled, positive = rounds.get(c.pk, (None, 0, 0))
        rows.append(
            SubdistrictRow(
                community=c,
                residents=residents[c.pk][0],
                cases=cases.get(c.pk, CaseFigures()),
                antigen=antigen[c.pk],
                round_date=round_date,
                round_sampled=sampled,
                positive_tubes=positive,
                pending_retests=retests.get(c.pk, 0),
                zone_status=worst,
                zone_label_zh=rules.label(worst, "zh"),
                zone_label_en=rules.label(worst, "en"),
                zone_severity=rules.severity(worst),
                sealed_places=sum(1 for p in places if p.state.status == rules.most_severe),
                days_without_case=zones.days_without_case(),
                work_orders=orders.get(c.pk, OrderFigures()),
                requests=requests.get(c.pk, RequestFigures()),
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
