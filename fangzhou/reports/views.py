"""Report pages: the community's daily report (phone, desk, print), the subdistrict's table, exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fangzhou.accounts.models import Role
from fangzhou.accounts.permissions import can_read_counts, is_admin, is_officer
from fangzhou.registry.models import Community, Subdistrict
from fangzhou.registry.selectors import Access, communities_read, community_visible_or_404
from fangzhou.reports import charts, exports, selectors
from fangzhou.reports.federation import federated_tables

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _refuse_non_readers(request: HttpRequest) -> HttpResponse | None:
    if not can_read_counts(request.user):
        return HttpResponseForbidden(_("Only the committee and the subdistrict see daily reports."))
    return None


def _lang() -> str:
    return "en" if (translation.get_language() or "zh").startswith("en") else "zh"


def _day(request: HttpRequest) -> tuple[dt.date, selectors.ReportError | None]:
    try:
        return selectors.report_day(request.GET.get("day")), None
    except selectors.ReportError as exc:
        return timezone.localdate(), exc


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The subdistrict officer's landing view: one row per community. The committee goes to its own report."""
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    role = getattr(request.user, "role", "")
    own = getattr(request.user, "community", None)
    if role in {Role.SECRETARY, Role.SOCIAL_WORKER} and own is not None:
        query = "?" + urlencode({"day": request.GET["day"]}) if request.GET.get("day") else ""
        return redirect(reverse("reports:daily", args=[own.code]) + query)
    day, error = _day(request)
    table = selectors.subdistrict_table(request.user, day)
    context = {
        "table": table,
        "rows": _table_rows(table, day, _lang()),
        "day": day,
        "today": timezone.localdate(),
        "error": error,
        "lang": _lang(),
        "subdistricts": sorted({row.community.subdistrict.name for row in table.rows}),
        "screens": _screens(request, table),
        "federated": federated_tables(day),
        "totals": {
            "new_cases": table.total("cases.new"),
            "sealed": table.total("sealed_places"),
            "open_requests": table.total("requests.open"),
        },
    }
    return render(request, "reports/subdistrict.html", context, status=400 if error else 200)


def _percent(part: int, whole: int) -> str:
    """``{% widthratio part whole|default:1 100 %}``, as the template tag computes it."""
    return str(round(float(part) / float(whole or 1) * 100))


def _table_rows(table: selectors.SubdistrictTable, day: dt.date, lang: str) -> list[dict[str, Any]]:
    """The table's rows as the page prints them, one plain dict a community: each cell the text
    the template writes as it is (looked up by key, no filter, tag, URL or number formatting per
    cell), the same text its filters and tags made of the row: a count as ``{{ n }}`` prints it
    (``str``: the settings group no thousands), the residents with ``intcomma``, the antigen rate
    as ``widthratio``, the round's date as ``m-d``; the flags the template tests stay booleans."""
    query = f"?day={day:%Y-%m-%d}"
    rows = []
    for r in table.rows:
        code = r.community.code
        cases, orders = r.cases, r.work_orders
        rows.append(
            {
                "code": code,
                "name": r.community.name,
                "url": reverse("reports:daily", args=[code]) + query,
                "residents": intcomma(r.residents),
                "new": str(cases.new),
                "any_new": bool(cases.new),
                "total": str(cases.total),
                "awaiting_transfer": str(cases.awaiting_transfer),
                "in_isolation": str(cases.in_isolation),
                "home_monitoring": str(cases.home_monitoring),
                "antigen_rate": _percent(r.antigen.reported, r.antigen.residents),
                "round": f"{r.round_date:%m-%d} · {r.round_sampled}" if r.round_date else "—",
                "positive_tubes": str(r.positive_tubes),
                "pending_retests": str(r.pending_retests),
                "zone_severity": str(r.zone_severity),
                "zone_label": r.zone_label_en if lang == "en" else r.zone_label_zh,
                "sealed_places": f" ×{r.sealed_places}" if r.sealed_places > 1 else "",
                "days_without_case": "—" if r.days_without_case is None else str(r.days_without_case),
                "orders_open": str(orders.open),
                "orders_overdue": orders.overdue,
                "requests_open": str(r.requests.open),
            }
        )
    return rows


def _screens(request: HttpRequest, table: selectors.SubdistrictTable) -> list[tuple[int, str]]:
    """The big screens this reader may open: their own subdistrict's (the administrator: each shown)."""
    if not (is_officer(request.user) or is_admin(request.user)):
        return []
    own = getattr(request.user, "subdistrict_id", None)
    found = {(r.community.subdistrict_id, r.community.subdistrict.name) for r in table.rows}
    return sorted((sid, name) for sid, name in found if is_admin(request.user) or sid == own)


@login_required
def daily(request: HttpRequest, code: str) -> HttpResponse:
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    day, error = _day(request)
    if error:
        community, report = community_visible_or_404(request.user, code, need=Access.READ), None
    else:
        report = selectors.daily_report(request.user, code, day)  # checks access in the same statement
        community = report.community
        _remember_own_community(request, community)
    context = {
        "community": community,
        "report": report,
        "day": day,
        "today": timezone.localdate(),
        "error": error,
        "lang": _lang(),
        "subdistrict_view": is_officer(request.user) or is_admin(request.user),
    }
    return render(request, "reports/daily.html", context, status=400 if error else 200)


def _remember_own_community(request: HttpRequest, community: Community) -> None:
    """The page's navigation points at the user's own community: hand it the one already read."""
    if getattr(request.user, "community_id", None) == community.pk:
        request.user.community = community  # type: ignore[union-attr]


def _checked_day(request: HttpRequest) -> dt.date:
    """For downloads: a bad date is a bilingual 400 page (``Refused`` through the middleware)."""
    return selectors.report_day(request.GET.get("day"))


@login_required
def daily_xlsx(request: HttpRequest, code: str) -> HttpResponse:
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    community = community_visible_or_404(request.user, code, need=Access.READ)
    day = _checked_day(request)
    content = exports.report_xlsx(selectors.daily_report(request.user, community, day))
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="daily-{community.code}-{day:%Y%m%d}.xlsx"'
    return response


@login_required
def daily_pdf(request: HttpRequest, code: str) -> HttpResponse:
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    community = community_visible_or_404(request.user, code, need=Access.READ)
    day = _checked_day(request)
    content = exports.report_pdf(selectors.daily_report(request.user, community, day))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="daily-{community.code}-{day:%Y%m%d}.pdf"'
    return response


@login_required
def subdistrict_xlsx(request: HttpRequest) -> HttpResponse:
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    day = _checked_day(request)
    content = exports.subdistrict_xlsx(selectors.subdistrict_table(request.user, day))
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="subdistrict-{day:%Y%m%d}.xlsx"'
    return response


# --------------------------------------------------------------------------------------------------
# Charts: a page per community, a JSON endpoint per figure, the subdistrict's big screen


def _window(request: HttpRequest) -> charts.Window:
    return charts.chart_window(request.GET.get("day"), request.GET.get("days"))


def _json(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "private, no-store"
    return response


def _bad_window(exc: selectors.ReportError) -> JsonResponse:
    return JsonResponse({"error": {"zh": exc.zh, "en": exc.en}}, status=400, json_dumps_params={"ensure_ascii": False})


def _chart_community(request: HttpRequest, code: str) -> Community:
    return community_visible_or_404(request.user, code, need=Access.READ)


def _chart_json(
    request: HttpRequest, code: str, build: Callable[[Community, charts.Window], dict[str, Any]]
) -> HttpResponse:
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    community = _chart_community(request, code)
    try:
        window = _window(request)
    except selectors.ReportError as exc:
        return _bad_window(exc)
    return _json(build(community, window))


@login_required
def chart_cases(request: HttpRequest, code: str) -> HttpResponse:
    return _chart_json(request, code, lambda c, w: charts.case_curve_json(charts.case_curve(c, w, lang=_lang())))


@login_required
def chart_antigen(request: HttpRequest, code: str) -> HttpResponse:
    return _chart_json(request, code, lambda c, w: charts.antigen_json(charts.antigen_series(c, w)))


@login_required
def chart_pcr(request: HttpRequest, code: str) -> HttpResponse:
    return _chart_json(request, code, lambda c, w: charts.pcr_json(charts.pcr_rounds(c, w)))


@login_required
def chart_orders(request: HttpRequest, code: str) -> HttpResponse:
    return _chart_json(request, code, lambda c, w: charts.orders_json(charts.order_series(c, w)))


@login_required
def chart_plan(request: HttpRequest, code: str) -> HttpResponse:
    return _chart_json(request, code, lambda c, w: charts.plan_json(charts.plan_series(c, w, lang=_lang())))


@login_required
def community_charts(request: HttpRequest, code: str) -> HttpResponse:
    """Every chart of a community with its table, rendered from the same selectors as the JSON."""
    refused = _refuse_non_readers(request)
    if refused is not None:
        return refused
    community = _chart_community(request, code)
    _remember_own_community(request, community)
    error: selectors.ReportError | None = None
    try:
        window = _window(request)
    except selectors.ReportError as exc:
        window, error = charts.Window(timezone.localdate(), charts.DEFAULT_DAYS), exc
    lang = _lang()
    context = {
        "community": community,
        "window": window,
        "day": window.end,
        "today": timezone.localdate(),
        "error": error,
        "lang": lang,
        "query": urlencode({"day": window.end.isoformat(), "days": window.length}),
        "curve": charts.case_curve(community, window, lang=lang),
        "antigen": charts.antigen_series(community, window),
        "pcr": charts.pcr_rounds(community, window),
        "orders": charts.order_series(community, window),
        "plan": charts.plan_series(community, window, lang=lang),
        "since_legend": charts.since_legend(),
        "subdistrict_view": is_officer(request.user) or is_admin(request.user),
    }
    return render(request, "reports/charts.html", context, status=400 if error else 200)


def _screen_scope(request: HttpRequest, subdistrict_id: int) -> tuple[Subdistrict, Q]:
    """The big screen is the subdistrict's: its officers and the administrator; anyone else is
    told nothing (404), as for a community they do not read."""
    user = request.user
    mine = is_admin(user) or (is_officer(user) and getattr(user, "subdistrict_id", None) == subdistrict_id)
    subdistrict = Subdistrict.objects.filter(pk=subdistrict_id).first() if mine else None
    if subdistrict is None:
        raise Http404(_("Subdistrict not found"))
    return subdistrict, Q(subdistrict_id=subdistrict_id)


def _screen_context(request: HttpRequest, subdistrict_id: int) -> tuple[dict[str, Any], int]:
    subdistrict, only = _screen_scope(request, subdistrict_id)
    error: selectors.ReportError | None = None
    try:
        window = _window(request)
    except selectors.ReportError as exc:
        window, error = charts.Window(timezone.localdate(), charts.DEFAULT_DAYS), exc
    table = selectors.subdistrict_table(request.user, window.end, only=only)
    curve = charts.subdistrict_case_curve(communities_read(request.user).filter(only), window)
    context = {
        "subdistrict": subdistrict,
        "table": table,
        "curve": curve,
        "window": window,
        "day": window.end,
        "error": error,
        "lang": _lang(),
        "refresh_s": settings.FANGZHOU_SCREEN_REFRESH_S,
        "federated": federated_tables(window.end),  # the federation's peers (issue 15), as on the table
        "query": urlencode({"day": window.end.isoformat(), "days": window.length}),
        "totals": {
            "new_cases": table.total("cases.new"),
            "sealed": table.total("sealed_places"),
            "open_orders": table.total("work_orders.open"),
            "open_requests": table.total("requests.open"),
        },
    }
    return context, 400 if error else 200


@login_required
def screen(request: HttpRequest, subdistrict_id: int) -> HttpResponse:
    """The subdistrict's big screen (大屏): the table of communities, the curve, the zone tiles,
    refreshed in place every ``FANGZHOU_SCREEN_REFRESH_S`` seconds (htmx polls ``screen_live``)."""
    context, status = _screen_context(request, subdistrict_id)
    return render(request, "reports/screen.html", context, status=status)


@login_required
def screen_live(request: HttpRequest, subdistrict_id: int) -> HttpResponse:
    context, status = _screen_context(request, subdistrict_id)
    return render(request, "reports/_screen_body.html", context, status=status)


@login_required
def screen_cases(request: HttpRequest, subdistrict_id: int) -> HttpResponse:
    _subdistrict, only = _screen_scope(request, subdistrict_id)
    try:
        window = _window(request)
    except selectors.ReportError as exc:
        return _bad_window(exc)
    return _json(
        charts.case_curve_json(charts.subdistrict_case_curve(communities_read(request.user).filter(only), window))
    )
