"""Registry pages: thin views over the selectors and services."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.permissions import (
    acting_user,
    can_export,
    can_manage_community,
    is_admin,
    is_officer,
    unmask_fields,
)
from fangzhou.accounts.selectors import deputy_annotations, deputy_from_annotations
from fangzhou.lib.ratelimit import public_rate_limited
from fangzhou.lib.rejected import rejected_download, rejected_keep
from fangzhou.lib.sheets import UnreadableFile, read_upload
from fangzhou.registry import selectors
from fangzhou.registry.hooks import overview_panels
from fangzhou.registry.roster.importer import COLUMNS as ROSTER_COLUMNS
from fangzhou.registry.selectors import Access, community_visible_or_404
from fangzhou.registry.services import RegistryError, roster_export, roster_import
from fangzhou.registry.services import resident_call as call_service
from fangzhou.registry.services import resident_transfer_decide as transfer_service
from fangzhou.registry.services import resident_unmask as unmask_service
from fangzhou.registry.siteplan import site_plan_svg


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where each role's day starts: a volunteer's work orders, the officer's subdistrict table
    (counts, never a page of named patients), property management's zones, everyone else their
    community's overview, or the list of their communities when they work in several."""
    role = getattr(request.user, "role", "")
    if role == Role.VOLUNTEER:
        return redirect("workorders:index")
    if is_officer(request.user):
        return redirect("reports:index")
    if role == Role.PROPERTY_MANAGER:
        places = list(selectors.communities_for(request.user, Access.PLACES))
        if len(places) == 1:
            return redirect("zones:community", code=places[0].code)
        return render(request, "registry/home.html", {"communities": places, "zones": True})
    communities = list(selectors.communities_visible(request.user))
    if len(communities) == 1:
        return redirect("registry:community", code=communities[0].code)
    return render(request, "registry/home.html", {"communities": communities})


MEASURES = ("households", "residents", "special")
HEAD_PANELS_BEFORE = 10  # overview panels with a lower order are shown above the counts


@login_required
def community_overview(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code, annotate=deputy_annotations())
    measure = request.GET.get("measure", "households")
    if measure not in MEASURES:
        measure = "households"
    overview = selectors.community_overview(request.user, community)
    panels = overview_panels(acting_user(request), community) if not request.headers.get("HX-Request") else []
    context = {
        # What needs action today comes first: panels placed before the counts (the zone plan),
        # the counts, then the others (special care's at-risk list).
        "head_panels": [p for p in panels if p.order < HEAD_PANELS_BEFORE],
        "panels": [p for p in panels if p.order >= HEAD_PANELS_BEFORE],
        "community": community,
        "overview": overview,
        "measure": measure,
        "measures": MEASURES,
        "plan": site_plan_svg(overview.buildings, measure=measure),
        "can_roster": can_manage_community(request.user, community.pk),
        "deputy": deputy_from_annotations(community),
    }
    if request.headers.get("HX-Request"):
        return render(request, "registry/_site_plan.html", context)
    return render(request, "registry/overview.html", context)


@login_required
def building_detail(request: HttpRequest, building_id: int) -> HttpResponse:
    building = selectors.building_get(request.user, building_id)
    if building is None:
        raise Http404(_("Building not found"))
    households = selectors.building_households(building)
    reveal = bool(unmask_fields(request.user, building.community_id))
    return render(request, "registry/building.html", {"building": building, "households": households, "reveal": reveal})


@login_required
def resident_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:40]
    results = selectors.resident_search(request.user, query)
    template = "registry/_search_results.html" if request.headers.get("HX-Request") else "registry/search.html"
    return render(request, template, {"q": query, "results": results})


class _Dial(HttpResponseRedirect):
    """A redirect to the phone's dialler (Django's redirects allow only web schemes)."""

    allowed_schemes = ["tel"]


@login_required
def resident_call(request: HttpRequest, resident_id: int) -> HttpResponse:
    """The call button: audit the call like an unmasking, then hand the number to the dialler
    (``tel:``). The number is in no page; only this answer's Location carries it, to the phone."""
    resident = selectors.resident_to_call(request.user, resident_id)
    if resident is None:
        raise Http404(_("Resident not found"))
    number = call_service(actor=acting_user(request), resident=resident, where=request.GET.get("from", ""))
    if not number:
        text = _("No phone number is registered for this resident.") + " 此住户未登记电话。"
        return HttpResponse(text, status=404, content_type="text/plain; charset=utf-8")
    response = _Dial("tel:" + re.sub(r"[^\d+]", "", number))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def resident_unmask(request: HttpRequest, resident_id: int) -> HttpResponse:
    resident = selectors.resident_get(request.user, resident_id)
    if resident is None:
        raise Http404(_("Resident not found"))
    if not unmask_fields(request.user, resident.community_id):
        return HttpResponseForbidden(_("You may not see this resident's full details."))
    values = unmask_service(actor=acting_user(request), resident=resident)
    return render(request, "registry/_unmasked.html", {"resident": resident, "values": values})


@login_required
def roster_upload(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not import this community's roster."))
    context: dict[str, object] = {"community": community}
    if request.method == "POST":
        upload = request.FILES.get("file")
        dry_run = request.POST.get("mode") != "import"
        if upload is None:
            context["error"] = _("Choose a file first.")
        else:
            try:
                data = read_upload(upload)
                assert isinstance(request.user, User)
                report = roster_import(
                    community=community,
                    actor=request.user,
                    data=data,
                    filename=upload.name or "roster",
                    dry_run=dry_run,
                )
            except UnreadableFile as exc:
                context["error"] = f"{exc.zh} / {exc.en}"
            else:
                shown = report.as_dict()
                # A column as the sheet calls it (手机号), never the importer's key (phone).
                shown["rejected"] = [
                    {**r, "column": ROSTER_COLUMNS.aliases.get(r["column"], (r["column"],))[0]}
                    for r in shown["rejected"]
                ]
                context["report"] = shown
                context["rejected_file"] = rejected_keep(
                    request,
                    f"roster-{community.pk}",
                    data=data,
                    filename=upload.name or "roster",
                    columns=ROSTER_COLUMNS,
                    rejections=report.rejections(),
                )
                if not dry_run:
                    messages.success(request, _("Roster imported."))
        status = 400 if "error" in context else 200
        return render(request, "registry/roster_upload.html", context, status=status)
    return render(request, "registry/roster_upload.html", context)


@login_required
def roster_rejected(request: HttpRequest, code: str) -> HttpResponse:
    """The rows the last roster upload sent back, with a reason column: fix them and upload again."""
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not import this community's roster."))
    return rejected_download(request, f"roster-{community.pk}")


@login_required
def roster_download(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_export(request.user, community.pk):
        return HttpResponseForbidden(_("You may not export this community's roster."))
    assert isinstance(request.user, User)
    content = roster_export(community=community, actor=request.user)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="roster-{community.code}.xlsx"'
    return response


@login_required
def transfers(request: HttpRequest) -> HttpResponse:
    """The subdistrict officer's list of people whom another community's roster names."""
    if not (is_officer(request.user) or is_admin(request.user)):
        return HttpResponseForbidden(_("Only the subdistrict decides moves between communities."))
    pending = list(selectors.transfers_pending(request.user)[:200])
    return render(request, "registry/transfers.html", {"transfers": pending})


@login_required
@require_POST
def transfer_decide(request: HttpRequest, transfer_id: int) -> HttpResponse:
    if not (is_officer(request.user) or is_admin(request.user)):
        raise Http404(_("Not found"))
    decision = request.POST.get("decision")
    if decision not in {"approve", "decline"}:
        return HttpResponseBadRequest("请选择同意或不同意。/ Choose approve or decline.")
    try:
        transfer_service(transfer_id=transfer_id, actor=acting_user(request), approve=decision == "approve")
    except RegistryError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    else:
        messages.success(request, _("Move approved.") if decision == "approve" else _("Move declined."))
    return redirect("registry:transfers")


@public_rate_limited
def public_building(request: HttpRequest, token: str) -> HttpResponse:
    """The building's public QR landing page (no account): what a resident can do from home."""
    building = selectors.building_by_token(token)
    if building is None:
        return render(request, "registry/public_unknown.html", status=404)
    return render(request, "registry/public_building.html", {"building": building, "token": token})
