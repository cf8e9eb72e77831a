"""Report pages: the community's daily report (phone, desk, print), the subdistrict's table, exports."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fangzhou.accounts.models import Role
from fangzhou.accounts.permissions import can_read_counts, is_admin, is_officer
from fangzhou.registry.models import Community
from fangzhou.registry.selectors import Access, community_visible_or_404
from fangzhou.reports import exports, selectors
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
        "day": day,
        "today": timezone.localdate(),
        "error": error,
        "lang": _lang(),
        "subdistricts": sorted({row.community.subdistrict.name for row in table.rows}),
        "federated": federated_tables(day),
        "totals": {
            "new_cases": table.total("cases.new"),
            "sealed": table.total("sealed_places"),
            "open_requests": table.total("requests.open"),
        },
    }
    return render(request, "reports/subdistrict.html", context, status=400 if error else 200)


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
