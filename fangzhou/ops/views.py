"""The operator's pages and the committee's page of the end of the emergency.

``/healthz`` (the process answers) and ``/readyz`` (it can serve: database, cache, broker, migrations).

Both are served by :class:`fangzhou.ops.middleware.HealthMiddleware` ahead of the host check and
the HTTPS redirect, so that a load balancer or systemd can probe an instance on its own port.
They show nothing personal and nothing about the configuration: names of checks, ok or not,
timings, and the class of a failure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, is_secretary_of
from fangzhou.lib.errors import Refused
from fangzhou.ops.models import EmergencyEnd
from fangzhou.ops.readiness import readiness
from fangzhou.ops.retention import (
    EmergencyEndError,
    community_today,
    emergency_end_check,
    emergency_end_set,
    retention_preview,
)
from fangzhou.ops.schedule import SCHEDULE
from fangzhou.registry.models import Community
from fangzhou.registry.selectors import Access, community_visible_or_404


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readyz(request: HttpRequest) -> JsonResponse:
    results = readiness()
    ready = all(result.ok for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": {name: r.as_dict() for name, r in results.items()}},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


# The committee's page: the end of the emergency, and what retention will do from it.

KIND_LABELS: dict[str, Any] = {  # lazy: the request's language
    "antigen_reports": gettext_lazy("Antigen reports"),
    "pcr_samples": gettext_lazy("PCR samples"),
    "cases": gettext_lazy("Cases"),
    "photos": gettext_lazy("Photos"),
    "audit": gettext_lazy("Audit log"),
    "api_receipts": gettext_lazy("Machine clients' receipts"),
    "outbox_receipts": gettext_lazy("Phones' outbox receipts"),
    "notice_deliveries": gettext_lazy("Notice deliveries"),
}
KIND_EFFECTS: dict[str, Any] = {
    "antigen_reports": gettext_lazy(
        "The residents who reported lose name, ID number, phone and birth date; the counts stay"
    ),
    "pcr_samples": gettext_lazy("The residents sampled lose name, ID number, phone and birth date; the counts stay"),
    "cases": gettext_lazy("The cases' residents lose their identity, the cases their notes; the counts stay"),
    "photos": gettext_lazy("Photos of kits, deliveries, work orders and requests are deleted"),
    "audit": gettext_lazy("Audit rows from before that day are deleted"),
    "api_receipts": gettext_lazy("Receipts of machine clients are deleted"),
    "outbox_receipts": gettext_lazy("Receipts of phones' offline actions are deleted"),
    "notice_deliveries": gettext_lazy("The record of who was sent which notice is deleted"),
}


def _in_language(exc: Refused) -> str:
    return exc.zh if (get_language() or "zh-hans").startswith("zh") else exc.en


def _retention_at() -> dt.time | None:
    return next((p.at for p in SCHEDULE if p.name == "retention"), None)


def _plan_rows(community: Community, ended_on: dt.date | None, today: dt.date) -> list[dict[str, Any]]:
    """The retention dry run of every kind (``retention_preview``) as the page's rows."""
    report = retention_preview(community, ended_on=ended_on, today=today)
    return [
        {
            "kind": kind,
            "label": KIND_LABELS[kind],
            "effect": KIND_EFFECTS[kind],
            "action": k["action"],
            "days": k["days"],
            "due_on": dt.date.fromisoformat(k["due_on"]),
            "due": k["due"],
            "days_left": (dt.date.fromisoformat(k["due_on"]) - today).days,
            "rows": k["rows"],
        }
        for kind, k in report.kinds.items()
    ]


def _emergency_page(
    request: HttpRequest,
    community: Community,
    *,
    error: str = "",
    proposed: dt.date | None = None,
    form_day: str = "",
    status: int = 200,
) -> HttpResponse:
    end = EmergencyEnd.objects.filter(community=community).select_related("set_by").first()
    today = community_today(community)
    context: dict[str, Any] = {
        "community": community,
        "end": end,
        "today": today,
        "form_day": form_day or today.isoformat(),
        "can_declare": is_secretary_of(request.user, community.pk),
        "locked": end is not None and end.retention_ran_at is not None,
        "rows": _plan_rows(community, None, today) if end else [],
        "proposed": proposed,
        "proposed_rows": _plan_rows(community, proposed, today) if proposed else [],
        "retention_at": _retention_at(),
        "error": error,
    }
    return render(request, "ops/emergency.html", context, status=status)


def _declarer(request: HttpRequest, code: str) -> Community:
    """The community whose end this user may declare: its secretary, her deputy, an administrator."""
    found = community_visible_or_404(request.user, code, need=Access.MANAGE)
    if not is_secretary_of(request.user, found.pk):
        raise PermissionDenied
    return found


@login_required
def emergency(request: HttpRequest, code: str) -> HttpResponse:
    """The community's committee (its managers) sees it; the secretary (or her deputy) changes it."""
    found = community_visible_or_404(request.user, code, need=Access.MANAGE)
    return _emergency_page(request, found)


@login_required
@require_POST
def emergency_end(request: HttpRequest, code: str) -> HttpResponse:
    """Two steps: the day (checked, and what retention will do from it shown), then the confirmation."""
    found = _declarer(request, code)
    raw = request.POST.get("ended_on", "")
    try:
        ended_on = dt.date.fromisoformat(raw)
    except ValueError:
        return _emergency_page(request, found, error=_("Give the day as YYYY-MM-DD."), form_day=raw[:10], status=400)
    try:
        emergency_end_check(community=found, ended_on=ended_on)
        if request.POST.get("confirm") != "yes":
            return _emergency_page(request, found, proposed=ended_on, form_day=raw)
        emergency_end_set(community=found, ended_on=ended_on, actor=acting_user(request))
    except EmergencyEndError as exc:
        return _emergency_page(request, found, error=_in_language(exc), form_day=raw, status=400)
    messages.success(request, _("The end of the emergency is recorded: %(day)s.") % {"day": ended_on.isoformat()})
    return redirect("ops:emergency", code=found.code)


@login_required
@require_POST
def emergency_withdraw(request: HttpRequest, code: str) -> HttpResponse:
    found = _declarer(request, code)
    try:
        emergency_end_set(community=found, ended_on=None, actor=acting_user(request))
    except EmergencyEndError as exc:
        return _emergency_page(request, found, error=_in_language(exc), status=400)
    messages.success(request, _("The end is withdrawn: the emergency goes on and nothing will be deleted."))
    return redirect("ops:emergency", code=found.code)
