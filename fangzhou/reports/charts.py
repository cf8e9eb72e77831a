"""The charts' figures: one selector per figure, each a few grouped queries over a window of days.

Every chart on a page is drawn from one of these and has its table beside it, rendered on the
server from the same object; the JSON endpoint serialises the same object (``*_json``). Scope is
the pages' scope: the caller passes a community the user reads whole (``community_visible_or_404``
with ``Access.READ``) or the communities of the big screen (``communities_read`` narrowed to one
subdistrict). Figures that the daily report also shows come from the daily report's own
definitions (``zone_figures``, ``_round_figures``, ``_open_at``), so a chart and the report never
disagree. Counts only: nothing here names a person.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from fangzhou.cases.models import Case, Source
from fangzhou.registry.models import Building, Community
from fangzhou.registry.roster import normalize as nz
from fangzhou.reports.selectors import (
    ReportError,
    ZoneFigures,
    _open_at,
    _round_figures,
    _round_of,
    as_of,
    day_bounds,
    report_day,
    zone_figures,
)
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.testing.models import AntigenReport, AntigenResult, Round
from fangzhou.workorders.models import Status, WorkOrder
from fangzhou.zones.plan import Plan, zone_plan
from fangzhou.zones.selectors import SEVERITY_COLOURS, TIMELINE_DAYS, zone_report

DEFAULT_DAYS = 28  # "连续近一个月无新增": a month of days on one screen
MAX_DAYS = TIMELINE_DAYS  # the zones' timelines reach back this far


@dataclass(frozen=True)
class Window:
    """The days a chart covers, ending on ``end`` (a report day: not in the future)."""

    end: dt.date
    length: int

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.length - 1)

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.length)]


def chart_window(raw_day: str | None, raw_days: str | None, *, today: dt.date | None = None) -> Window:
    """The window from ``?day=YYYY-MM-DD&days=N``; a bad value is refused in both languages."""
    end = report_day(raw_day, today=today)
    if not raw_days:
        return Window(end, DEFAULT_DAYS)
    try:
        length = int(raw_days.strip())
    except ValueError:
        length = 0
    if not 1 <= length <= MAX_DAYS:
        raise ReportError(
            f"天数应为 1 到 {MAX_DAYS} 之间的整数：{raw_days[:20]}",
            f"days must be a whole number from 1 to {MAX_DAYS}: {raw_days[:20]}",
        )
    return Window(end, length)


@dataclass
class Series:
    """One line or bar series: a translated name and one value per day (or per category)."""

    key: str
    name: str
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass
class DayTable:
    """A chart's table: one row per day, one column per series (what the chart draws)."""

    columns: list[Series]
    rows: list[tuple[dt.date, list[int]]]


def day_table(window: Window, columns: list[Series]) -> DayTable:
    return DayTable(columns, [(d, [c.values[i] for c in columns]) for i, d in enumerate(window.days)])


def _series(key: str, name: str, by_day: dict[dt.date, int], days: list[dt.date]) -> Series:
    return Series(key, name, [by_day.get(d, 0) for d in days])


# --------------------------------------------------------------------------------------------------
# The epidemic curve


@dataclass
class Countdown:
    place: str
    status: str
    colour: str
    days_without_case: int | None
    next_label: str
    countdown: int | None


@dataclass
class CaseCurve:
    title: str
    window: Window
    total: Series
    by_source: list[Series]
    by_place: list[Series]  # by compound (a community) or by community (a subdistrict)
    place_heading: str
    days_without_case: int | None
    countdowns: list[Countdown] = field(default_factory=list)

    @property
    def table(self) -> DayTable:
        return day_table(self.window, [self.total, *self.by_source, *self.by_place])


def _countdowns(zones: ZoneFigures, lang: str) -> list[Countdown]:
    return [
        Countdown(
            place=p.name,
            status=p.label_en if lang == "en" else p.label_zh,
            colour=SEVERITY_COLOURS[min(p.severity, len(SEVERITY_COLOURS) - 1)],
            days_without_case=p.days_without_case,
            next_label=p.next_label_en if lang == "en" else p.next_label_zh,
            countdown=p.countdown,
        )
        for p in zones.places
    ]


def _source_series(rows: list[Any], days: list[dt.date]) -> list[Series]:
    per: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per[r["source"]][r["report_date"]] += r["n"]
    return [_series(code, str(label), per.get(code, {}), days) for code, label in Source.choices]


def _place_series(rows: list[Any], key: str, days: list[dt.date]) -> list[Series]:
    per: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per[r[key]][r["report_date"]] += r["n"]
    return [_series(name, name, per[name], days) for name in sorted(per)]


def _total_series(rows: list[Any], days: list[dt.date]) -> Series:
    by_day: dict[dt.date, int] = defaultdict(int)
    for r in rows:
        by_day[r["report_date"]] += r["n"]
    return _series("total", _("New cases"), by_day, days)


def case_curve(community: Community, window: Window, *, lang: str = "zh") -> CaseCurve:
    """New cases per day (by report date, the zones' date of record) by source and by compound,
    with the daily report's days without a new case and each place's countdown on the last day.
    One grouped query for the curve, the zone figures' own for the rest."""
    rows = list(
        Case.objects.filter(community=community, report_date__range=(window.start, window.end))
        .values("report_date", "source", compound=F("building__compound__name"))
        .annotate(n=Count("id"))
        .order_by()
    )
    zones = zone_figures(community, window.end)
    return CaseCurve(
        title=_("Epidemic curve: new cases per day"),
        window=window,
        total=_total_series(rows, window.days),
        by_source=_source_series(rows, window.days),
        by_place=_place_series(rows, "compound", window.days),
        place_heading=_("Compound"),
        days_without_case=zones.days_without_case,
        countdowns=_countdowns(zones, lang),
    )


def subdistrict_case_curve(communities: QuerySet[Community], window: Window) -> CaseCurve:
    """The subdistrict's curve: new cases per day by source and by community (one grouped query).
    Days without a new case and the zones are per community in the subdistrict table beside it."""
    rows = list(
        Case.objects.filter(community__in=communities, report_date__range=(window.start, window.end))
        .values("report_date", "source", place=F("community__name"))
        .annotate(n=Count("id"))
        .order_by()
    )
    return CaseCurve(
        title=_("Epidemic curve: new cases per day"),
        window=window,
        total=_total_series(rows, window.days),
        by_source=_source_series(rows, window.days),
        by_place=_place_series(rows, "place", window.days),
        place_heading=_("Community"),
        days_without_case=None,
    )


# --------------------------------------------------------------------------------------------------
# Antigen self-reports


@dataclass
class AntigenPlace:
    name: str
    residents: int
    reported: int
    positive: int

    @property
    def rate(self) -> int:
        """Percent reported, rounded (the daily report's rate)."""
        return round(100 * self.reported / self.residents) if self.residents else 0


@dataclass
class AntigenSeries:
    title: str
    window: Window
    residents: int
    reported: Series
    positive: Series
    rate: list[int]  # percent of residents reported, per day
    buildings: list[AntigenPlace]  # on the window's last day
    grids: list[AntigenPlace]

    @property
    def table(self) -> DayTable:
        return day_table(
            self.window, [self.reported, self.positive, Series("rate", _("Reporting rate (%)"), self.rate)]
        )


def antigen_series(community: Community, window: Window) -> AntigenSeries:
    """Residents with an antigen result per day and positives per day (the daily report's
    ``antigen_glance`` counts, day by day), and per building and grid on the last day.
    Three grouped queries: per day, per building on the last day, residents per building."""
    reports = AntigenReport.objects.filter(community=community).exclude(result=AntigenResult.NOT_TESTED)
    positive = Q(result=AntigenResult.POSITIVE)
    per_day: dict[dt.date, Any] = {
        r["day"]: r
        for r in reports.filter(day__range=(window.start, window.end))
        .values("day")
        .annotate(n=Count("id"), p=Count("id", filter=positive))
        .order_by()
    }
    last_day: dict[int, Any] = {
        r["household__building_id"]: r
        for r in reports.filter(day=window.end)
        .values("household__building_id")
        .annotate(n=Count("id"), p=Count("id", filter=positive))
        .order_by()
    }
    buildings = (
        Building.objects.filter(community=community)
        .annotate(residents=Count("households__residents"))
        .values("id", "number", "compound__name", "grid__name", "residents")
        .order_by("compound_id", "sort_key", "number")
    )
    rows: list[AntigenPlace] = []
    grids: dict[str, AntigenPlace] = {}
    for b in buildings:
        got: dict[str, Any] = last_day.get(b["id"], {})
        place = AntigenPlace(
            f"{b['compound__name']} {b['number']}号楼", b["residents"], got.get("n", 0), got.get("p", 0)
        )
        rows.append(place)
        grid_name = b["grid__name"] or "—"
        grid = grids.setdefault(grid_name, AntigenPlace(grid_name, 0, 0, 0))
        grid.residents += place.residents
        grid.reported += place.reported
        grid.positive += place.positive
    residents = sum(p.residents for p in rows)
    reported = [per_day.get(d, {}).get("n", 0) for d in window.days]
    return AntigenSeries(
        title=_("Antigen self-reports per day"),
        window=window,
        residents=residents,
        reported=Series("reported", _("Residents reported"), reported),
        positive=Series("positive", _("Positive"), [per_day.get(d, {}).get("p", 0) for d in window.days]),
        rate=[round(100 * n / residents) if residents else 0 for n in reported],
        buildings=rows,
        grids=sorted(grids.values(), key=lambda g: nz.label_order_key(g.name)),
    )


# --------------------------------------------------------------------------------------------------
# PCR rounds


@dataclass
class RoundBar:
    date: dt.date
    sampled: int
    missing: int
    exempt: int
    tubes: int
    tubes_resulted: int
    positive_tubes: int

    @property
    def positivity(self) -> float:
        """Percent of the resulted tubes that were positive, one decimal."""
        return round(100 * self.positive_tubes / self.tubes_resulted, 1) if self.tubes_resulted else 0.0


@dataclass
class PcrRounds:
    title: str
    rounds: list[RoundBar]


def pcr_rounds(community: Community, window: Window, *, now: dt.datetime | None = None) -> PcrRounds:
    """Every round of the window with the daily report's round figures (sampled, missed, exempt,
    tubes resulted and positive), each as of the end of the window: one statement."""
    moment = as_of(window.end, now)
    rows = (
        Round.objects.filter(community=community, date__range=(window.start, window.end))
        .annotate(f_round_id=F("id"), f_round_date=F("date"), f_round_status=F("status"))
        .annotate(**_round_figures(moment, community="community_id"))
        .order_by("date", "id")
    )
    bars = []
    for r in rows:
        figures = _round_of(r)
        assert figures is not None
        bars.append(
            RoundBar(
                r.date,
                figures.sampled,
                figures.missing,
                figures.exempt,
                figures.tubes,
                figures.tubes_resulted,
                figures.positive_tubes,
            )
        )
    return PcrRounds(_("PCR rounds: coverage and pooled-tube positivity"), bars)


# --------------------------------------------------------------------------------------------------
# Work orders and deliveries

AGE_BUCKETS = ((0, 1), (1, 2), (2, 3), (3, 7), (7, None))  # days, [from, to)


@dataclass
class OrderSeries:
    title: str
    window: Window
    opened: Series
    done: Series
    deliveries: Series
    ages: list[tuple[str, int]]  # open orders at the end of the window by age

    @property
    def table(self) -> DayTable:
        return day_table(self.window, [self.opened, self.done, self.deliveries])

    @property
    def open_total(self) -> int:
        return sum(n for _label, n in self.ages)


def _per_local_day(qs: QuerySet[Any], stamp: str, community: Community) -> dict[dt.date, int]:
    return {
        r["d"]: r["n"]
        for r in qs.annotate(d=TruncDate(stamp, tzinfo=community.tzinfo)).values("d").annotate(n=Count("id")).order_by()
    }


def _age_label(low: int, high: int | None) -> str:
    if high is None:
        return _("%(n)s days or more") % {"n": low}
    return _("%(a)s–%(b)s days") % {"a": low, "b": high}


def order_series(community: Community, window: Window, *, now: dt.datetime | None = None) -> OrderSeries:
    """Work orders opened and done per day (the daily report's "new" and "done", day by day), the
    open ones at the end of the window by age, and doors delivered per day: four grouped queries."""
    moment = as_of(window.end, now)
    first, _end = day_bounds(window.start)
    orders = WorkOrder.objects.filter(community=community)
    opened = _per_local_day(orders.filter(created_at__gte=first, created_at__lte=moment), "created_at", community)
    done = _per_local_day(
        orders.filter(status=Status.DONE, closed_at__gte=first, closed_at__lte=moment), "closed_at", community
    )
    buckets: dict[str, Any] = {}
    for i, (low, high) in enumerate(AGE_BUCKETS):
        age = Q(created_at__lte=moment - dt.timedelta(days=low))
        if high is not None:
            age &= Q(created_at__gt=moment - dt.timedelta(days=high))
        buckets[f"b{i}"] = Count("id", filter=age)
    counted = orders.filter(_open_at(moment)).aggregate(**buckets)
    delivered = Delivery.objects.filter(
        distribution__community=community,
        status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.LEFT_AT_DOOR],
        delivered_at__gte=first,
        delivered_at__lte=moment,
    )
    days = window.days
    return OrderSeries(
        title=_("Work orders and deliveries per day"),
        window=window,
        opened=_series("opened", _("Work orders opened"), opened, days),
        done=_series("done", _("Work orders done"), done, days),
        deliveries=_series(
            "deliveries", _("Doors delivered"), _per_local_day(delivered, "delivered_at", community), days
        ),
        ages=[(_age_label(low, high), counted[f"b{i}"]) for i, (low, high) in enumerate(AGE_BUCKETS)],
    )


# --------------------------------------------------------------------------------------------------
# The site plan through time


@dataclass
class PlanSeries:
    title: str
    window: Window
    plan: Plan
    statuses: list[tuple[str, str, str]]  # (code, label, colour), least severe first
    zone: dict[int, list[int]]  # building id -> index into statuses, per day
    since: dict[int, list[int | None]]  # building id -> days since its last case, per day
    names: dict[int, str]

    @property
    def table(self) -> list[tuple[str, str, str, int | None]]:
        """Each building on the last day: name, zone label, colour, days since its last case."""
        return [
            (name, self.statuses[self.zone[b][-1]][1], self.statuses[self.zone[b][-1]][2], self.since[b][-1])
            for b, name in self.names.items()
        ]


def plan_series(community: Community, window: Window, *, lang: str = "zh") -> PlanSeries:
    """Each building's zone status and days since its last case on every day of the window, for
    a slider over the site plan drawn for the last day. Statuses come from the zones' timelines
    (the zones page's "history"), the last day from the report itself (with its overrides);
    days since the last case from one grouped query of case days per building."""
    report = zone_report(community, window.end)
    plan = zone_plan(report, lang=lang)
    rules = report.rules
    codes = list(rules.statuses)
    index = {code: i for i, code in enumerate(codes)}
    days = window.days
    zone: dict[int, list[int]] = {}
    for b in report.buildings:
        place = report.place(b.zone_key)
        points = place.timeline if place is not None else []
        row: list[int] = []
        for d in days[:-1]:
            status = next((s for on, s in reversed(points) if on <= d), points[0][1] if points else b.state.status)
            row.append(index.get(status, 0))
        row.append(index.get(b.state.status, 0))
        zone[b.id] = row
    case_days: dict[int, list[dt.date]] = defaultdict(list)
    for building_id, day in (
        Case.objects.filter(community=community, report_date__lte=window.end)
        .values_list("building_id", "report_date")
        .distinct()
        .order_by("building_id", "report_date")
    ):
        case_days[building_id].append(day)
    since: dict[int, list[int | None]] = {}
    for b in report.buildings:
        seen = case_days.get(b.id, [])
        since[b.id] = [_days_since(seen, d) for d in days]
    statuses = [(c, rules.label(c, lang), report.colour(c)) for c in codes]
    return PlanSeries(
        title=_("Site plan by zone and days since the last case"),
        window=window,
        plan=plan,
        statuses=statuses,
        zone=zone,
        since=since,
        names={b.id: b.full_label for b in report.buildings},
    )


def _days_since(case_days: list[dt.date], day: dt.date) -> int | None:
    past = [d for d in case_days if d <= day]
    return (day - past[-1]).days if past else None


# --------------------------------------------------------------------------------------------------
# JSON: what the chart script draws (labels already in the reader's language)


def _days_json(window: Window) -> list[str]:
    return [d.isoformat() for d in window.days]


def _series_json(s: Series) -> dict[str, Any]:
    return {"key": s.key, "name": s.name, "values": s.values}


def case_curve_json(curve: CaseCurve) -> dict[str, Any]:
    return {
        "title": curve.title,
        "days": _days_json(curve.window),
        "axis": {"x": _("Report date"), "y": _("New cases")},
        "total": _series_json(curve.total),
        "by_source": [_series_json(s) for s in curve.by_source],
        "by_place": [_series_json(s) for s in curve.by_place],
        "days_without_case": curve.days_without_case,
        "countdowns": [
            {
                "place": c.place,
                "status": c.status,
                "days_without_case": c.days_without_case,
                "next": c.next_label,
                "countdown": c.countdown,
            }
            for c in curve.countdowns
        ],
    }


def antigen_json(a: AntigenSeries) -> dict[str, Any]:
    return {
        "title": a.title,
        "days": _days_json(a.window),
        "axis": {"x": _("Day"), "y": _("Residents"), "rate": _("Reporting rate (%)")},
        "residents": a.residents,
        "reported": _series_json(a.reported),
        "positive": _series_json(a.positive),
        "rate": {"name": _("Reporting rate (%)"), "values": a.rate},
        "buildings": [
            {"name": p.name, "residents": p.residents, "reported": p.reported, "positive": p.positive, "rate": p.rate}
            for p in a.buildings
        ],
        "grids": [
            {"name": p.name, "residents": p.residents, "reported": p.reported, "positive": p.positive, "rate": p.rate}
            for p in a.grids
        ],
    }


def pcr_json(p: PcrRounds) -> dict[str, Any]:
    return {
        "title": p.title,
        "axis": {"x": _("Round"), "y": _("Residents"), "rate": _("Positive tubes (%)")},
        "names": {
            "sampled": _("Sampled"),
            "missing": _("Missed"),
            "exempt": _("Exempt"),
            "positivity": _("Positive tubes (%)"),
        },
        "rounds": [
            {
                "date": r.date.isoformat(),
                "sampled": r.sampled,
                "missing": r.missing,
                "exempt": r.exempt,
                "tubes": r.tubes,
                "tubes_resulted": r.tubes_resulted,
                "positive_tubes": r.positive_tubes,
                "positivity": r.positivity,
            }
            for r in p.rounds
        ],
    }


def orders_json(o: OrderSeries) -> dict[str, Any]:
    return {
        "title": o.title,
        "days": _days_json(o.window),
        "axis": {"x": _("Day"), "y": _("Count"), "age": _("Open work orders by age")},
        "opened": _series_json(o.opened),
        "done": _series_json(o.done),
        "deliveries": _series_json(o.deliveries),
        "ages": [{"name": label, "value": n} for label, n in o.ages],
        "open_total": o.open_total,
    }


def plan_json(p: PlanSeries) -> dict[str, Any]:
    return {
        "title": p.title,
        "days": _days_json(p.window),
        "statuses": [{"code": c, "name": label, "colour": colour} for c, label, colour in p.statuses],
        "since_legend": since_legend(),
        "zone": {str(k): v for k, v in p.zone.items()},
        "since": {str(k): v for k, v in p.since.items()},
    }


SINCE_STEPS = ((0, 0, "#8b0000"), (1, 6, "#e0493b"), (7, 13, "#f6b94f"), (14, 27, "#c6e48b"), (28, None, "#2e7d32"))


def since_legend() -> list[dict[str, Any]]:
    """Colours of "days since the last case": dark red today, green from 28 days (a month)."""
    out: list[dict[str, Any]] = []
    for low, high, colour in SINCE_STEPS:
        if high is None:
            name = _("%(n)s days or more") % {"n": low}
        elif low == high:
            name = _("a case that day")
        else:
            name = _("%(a)s–%(b)s days") % {"a": low, "b": high}
        out.append({"from": low, "to": high, "colour": colour, "name": name})
    out.append({"from": None, "to": None, "colour": "#e8f1fb", "name": _("no case yet")})
    return out


def generated_at() -> str:
    return timezone.localtime().isoformat(timespec="seconds")
