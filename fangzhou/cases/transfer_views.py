"""The transfers page: sites and their beds, the waiting list, planning a batch, the hand-over."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.cases import selectors, transfers
from fangzhou.cases.models import SiteKind, TransferBatch
from fangzhou.cases.views import case_people_community
from fangzhou.registry.models import Community


def _community(request: HttpRequest, code: str, *, write: bool) -> Community | HttpResponse:
    return case_people_community(
        request, code, refusal=_("Only the committee may arrange transfers.") if write else None
    )


def _page(request: HttpRequest, community: Community, *, error: str = "", status: int = 200) -> HttpResponse:
    now = timezone.now()
    context = {
        "community": community,
        "sites": transfers.sites_with_beds(community),
        "waiting": selectors.transfer_waiting(request.user, community, now=now),
        "batches": selectors.transfer_batches(request.user, community),
        "site_kinds": SiteKind.choices,
        "can_write": can_manage_community(request.user, community.pk),
        "client_id": uuid.uuid4().hex,
        "pickup_default": timezone.localtime(now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:00"),
        "error": error,
        "planned": TransferBatch.Status.PLANNED,
    }
    return render(request, "cases/transfers.html", context, status=status)


@login_required
def transfer_list(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=False)
    if isinstance(community, HttpResponse):
        return community
    return _page(request, community)


def _pickup(raw: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(raw)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


@login_required
@require_POST
def transfer_plan(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    raw_site = request.POST.get("site", "")
    case_ids = [int(v) for v in request.POST.getlist("case") if v.isdigit()]
    try:
        pickup_at = _pickup(request.POST.get("pickup_at", ""))
    except ValueError:
        return _page(request, community, error="接车时间格式无效 / the pick-up time is not valid", status=400)
    try:
        plan = transfers.transfer_batch_plan(
            community=community,
            site_id=int(raw_site) if raw_site.isdigit() else 0,
            case_ids=case_ids,
            pickup_at=pickup_at,
            vehicle=request.POST.get("vehicle", ""),
            client_id=request.POST.get("client_id", ""),
            actor=acting_user(request),
        )
    except transfers.TransferError as exc:
        return _page(request, community, error=exc.reason, status=400)
    count = plan.batch.cases.count()
    messages.success(request, _("Transfer batch planned: %(n)d people.") % {"n": count})
    return redirect("cases:transfers", code=community.code)


@login_required
@require_POST
def site_save(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    raw = request.POST.get("capacity", "").strip()
    if not raw.isdigit():
        return _page(request, community, error="床位数应为整数 / beds must be a whole number", status=400)
    try:
        transfers.isolation_site_save(
            community=community,
            name=request.POST.get("name", ""),
            kind=request.POST.get("kind", ""),
            capacity=int(raw),
            actor=acting_user(request),
        )
    except transfers.TransferError as exc:
        return _page(request, community, error=exc.reason, status=400)
    messages.success(request, _("Site saved."))
    return redirect("cases:transfers", code=community.code)


@login_required
@require_POST
def hand_over(request: HttpRequest, code: str, batch_id: int) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    try:
        transfers.transfer_batch_hand_over(
            community=community,
            batch_id=batch_id,
            receiver=request.POST.get("receiver", ""),
            actor=acting_user(request),
        )
    except transfers.TransferError as exc:
        return _page(request, community, error=exc.reason, status=400)
    messages.success(request, _("Handed over: the cases are recorded at their site."))
    return redirect("cases:transfers", code=community.code)


@login_required
@require_POST
def batch_cancel(request: HttpRequest, code: str, batch_id: int) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    try:
        transfers.transfer_batch_cancel(community=community, batch_id=batch_id, actor=acting_user(request))
    except transfers.TransferError as exc:
        return _page(request, community, error=exc.reason, status=400)
    messages.success(request, _("Batch cancelled: its people are waiting again."))
    return redirect("cases:transfers", code=community.code)
