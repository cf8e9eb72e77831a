"""Case pages: the list (or counts), entering a case, a case's isolation steps, a resident's timeline."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.cases import selectors, services
from fangzhou.cases.hooks import resident_actions
from fangzhou.cases.models import Case, SiteKind, Source
from fangzhou.registry.models import Community
from fangzhou.registry.selectors import community_visible_or_404, resident_get, resident_search


def _case(request: HttpRequest, case_id: int) -> Case:
    case = selectors.case_get(request.user, case_id)
    if case is None:
        raise Http404(_("Case not found"))
    return case


def case_people_community(request: HttpRequest, code: str, *, refusal: str | None) -> Community | HttpResponse:
    """The community of a page about case people (the committee's): 404 to anyone who may not see
    them; with ``refusal`` (a write), 403 with it to anyone who may not manage the community."""
    community = community_visible_or_404(request.user, code)
    if not selectors.sees_case_people(request.user):
        raise Http404(_("Community not found"))
    if refusal is not None and not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(refusal)
    return community


BAD_DATE = "日期格式应为 2022-04-28 / the date must look like 2022-04-28"


@login_required
def case_list(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    people = selectors.sees_case_people(request.user)
    context = {
        "community": community,
        "people": people,
        "cases": selectors.case_list(request.user, community) if people else [],
        "counts": selectors.case_counts_by_building(request.user, community),
        "can_write": can_manage_community(request.user, community.pk),
        "today": timezone.localdate(),
    }
    return render(request, "cases/list.html", context)


@login_required
def case_new(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("Only the committee may enter a case."))
    query = request.GET.get("q", "")[:40]
    context: dict[str, object] = {
        "community": community,
        "q": query,
        "results": resident_search(request.user, query, community=community) if query else [],
        "today": timezone.localdate(),
        "sources": Source.choices,
    }
    if request.method == "POST":
        raw = request.POST.get("resident", "")
        resident = resident_get(request.user, int(raw)) if raw.isdigit() else None
        try:
            day = dt.date.fromisoformat(request.POST.get("report_date", ""))
        except ValueError:
            day = None
        source = request.POST.get("source", Source.STAFF)
        if resident is None or resident.community_id != community.pk:
            context["error"] = "请先选择居民 / choose a resident first"
        elif day is None:
            context["error"] = BAD_DATE
        elif day > timezone.localdate():
            context["error"] = "报告日期不能在未来 / the report date cannot be in the future"
        elif source not in Source.values:
            context["error"] = "来源无效 / unknown source"
        else:
            case, created = services.case_confirm(
                resident=resident, report_date=day, source=source, actor=acting_user(request)
            )
            messages.success(request, _("Case recorded.") if created else _("This case was already recorded."))
            return redirect("cases:detail", case_id=case.pk)
        return render(request, "cases/new.html", context, status=400)
    return render(request, "cases/new.html", context)


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    check = services.case_discharge_check(case)
    context = {
        "case": case,
        "contacts": selectors.contacts_of(case),
        "results": selectors.pcr_results(case),
        "check": check,
        "rules": services.case_rules(case.community),
        "stage": case.stage(timezone.localdate()),
        "site_kinds": SiteKind.choices,
        "can_write": can_manage_community(request.user, case.community_id),
        "today": timezone.localdate(),
        "error": request.GET.get("error", "")[:300],
    }
    return render(request, "cases/detail.html", context)


def _step(request: HttpRequest, case_id: int) -> Case | HttpResponse:
    case = _case(request, case_id)
    if not can_manage_community(request.user, case.community_id):
        return HttpResponseForbidden(_("Only the committee may change a case."))
    return case


def _back(case: Case, error: str = "") -> HttpResponse:
    response = redirect("cases:detail", case_id=case.pk)
    if error:
        from urllib.parse import quote

        response["Location"] += f"?error={quote(error)}"
    return response


@login_required
@require_POST
def case_transfer(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _step(request, case_id)
    if isinstance(case, HttpResponse):
        return case
    try:
        day = dt.date.fromisoformat(request.POST.get("transferred_on", ""))
        services.case_transfer(
            case_id=case.pk,
            site_kind=request.POST.get("site_kind", ""),
            site_name=request.POST.get("site_name", ""),
            transferred_on=day,
            actor=acting_user(request),
        )
    except ValueError as exc:
        return _back(case, str(exc) if isinstance(exc, services.CaseError) else BAD_DATE)
    return _back(case)


@login_required
@require_POST
def case_pcr(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _step(request, case_id)
    if isinstance(case, HttpResponse):
        return case
    try:
        sampled_at = dt.datetime.fromisoformat(request.POST.get("sampled_at", ""))
        raw_ct = request.POST.get("ct", "").strip()
        ct = float(raw_ct) if raw_ct else None
        services.case_pcr_record(
            case_id=case.pk,
            sampled_at=sampled_at,
            negative=request.POST.get("result") == "negative",
            ct=ct,
            actor=acting_user(request),
        )
    except ValueError as exc:
        return _back(case, str(exc) if isinstance(exc, services.CaseError) else "时间或 Ct 值无效 / invalid time or Ct")
    return _back(case)


@login_required
@require_POST
def case_discharge(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _step(request, case_id)
    if isinstance(case, HttpResponse):
        return case
    try:
        day = dt.date.fromisoformat(request.POST.get("discharged_on", ""))
        services.case_discharge(case_id=case.pk, discharged_on=day, actor=acting_user(request))
    except ValueError as exc:
        return _back(case, str(exc) if isinstance(exc, services.CaseError) else BAD_DATE)
    return _back(case)


@login_required
def resident_timeline(request: HttpRequest, resident_id: int) -> HttpResponse:
    resident = resident_get(request.user, resident_id) if selectors.sees_case_people(request.user) else None
    if resident is None:
        raise Http404(_("Resident not found"))
    items, tests = selectors.resident_timeline(resident)
    context = {
        "resident": resident,
        "items": items,
        "tests": tests,
        "actions": resident_actions(acting_user(request), resident),
    }
    return render(request, "cases/timeline.html", context)
