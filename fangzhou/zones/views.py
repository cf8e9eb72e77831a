"""Zone pages: the committee's main view, the block editor, the residents' public page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.lib.ratelimit import public_rate_limited
from fangzhou.registry.models import Compound
from fangzhou.registry.selectors import Access, building_by_token, communities_visible, community_visible_or_404
from fangzhou.zones import services
from fangzhou.zones.core import RULE_SETS
from fangzhou.zones.models import MicroZone, ZoneOverride, ZoneSettings
from fangzhou.zones.plan import add_blocks, add_routes, zone_plan
from fangzhou.zones.selectors import (
    UnknownRuleSet,
    _map_status,
    rule_set_for,
    rule_set_named,
    visible_building_ids,
    zone_report,
)
from fangzhou.zones.site import access_check_block, building_corners, compound_site, convex_hull


def _lang() -> str:
    return "en" if (translation.get_language() or "zh").startswith("en") else "zh"


def _date(raw: str | None) -> tuple[dt.date, str | None]:
    today = timezone.localdate()
    if not raw:
        return today, None
    try:
        return dt.date.fromisoformat(raw), None
    except ValueError:
        return today, _("The date must look like 2022-04-28.") + " 日期格式应为 2022-04-28。"


@login_required
def community_zones(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code, need=Access.PLACES)
    on, error = _date(request.GET.get("on"))
    preview = request.GET.get("rules") or ""
    try:
        rules = rule_set_named(preview) if preview else rule_set_for(community)
    except UnknownRuleSet as exc:
        error, rules, preview = str(exc), rule_set_for(community), ""
    report = zone_report(community, on, rules)
    visible = visible_building_ids(request.user, community)
    lang = _lang()
    plan = zone_plan(report, counts_for=visible, lang=lang)
    zones = [*report.compounds, *report.microzones]
    overrides = list(
        ZoneOverride.objects.filter(community=community, ended_on__isnull=True, until__gte=on)
        .select_related("compound", "microzone", "created_by")
        .order_by("-created_at")
    )
    context: dict[str, Any] = {
        "community": community,
        "report": report,
        "plan": plan,
        "zones": zones,
        "legend": [(report.colour(s), report.label(s, lang)) for s in rules.statuses],
        "status_choices": [(s, report.label(s, lang)) for s in rules.statuses],
        "label": lambda s: report.label(s, lang),
        "rule_sets": list(RULE_SETS.values()),
        "preview": preview,
        "saved_rules": rule_set_for(community).name,
        "gate_on": ZoneSettings.objects.filter(community=community, clean_round_gate=True).exists(),
        "on": on,
        "error": error,
        "can_write": can_manage_community(request.user, community.pk),
        "overrides": overrides,
        "compounds": Compound.objects.filter(community=community),
        "blocks": MicroZone.objects.filter(community=community, dissolved_on__isnull=True),
        "lang": lang,
        "days_without_case": report.days_without_case(),
    }
    for z in zones:
        z.status_label = report.label(z.state.status, lang)  # type: ignore[attr-defined]
        z.held_by = report.held_by(z.state)  # type: ignore[attr-defined]
        z.next_label = report.label(z.state.next_status, lang) if z.state.next_status else ""  # type: ignore[attr-defined]
        z.colour = report.colour(z.state.status)  # type: ignore[attr-defined]
        z.timeline_labels = [(d, report.label(s, lang), report.colour(s)) for d, s in z.timeline]  # type: ignore[attr-defined]
        z.upcoming_labels = [(d, report.label(s, lang)) for d, s in z.state.upcoming]  # type: ignore[attr-defined]
    for o in overrides:  # a status of another rule set is shown as its nearest of these rules
        mapped = _map_status(o.status, rules) or rules.lowest
        o.status_label = report.label(mapped, lang)  # type: ignore[attr-defined]
    status = 400 if error else 200
    return render(request, "zones/community.html", context, status=status)


@login_required
@require_POST
def rules_set(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("Only the committee may change the rule set."))
    try:
        services.zone_rules_set(
            community=community,
            rule_set=request.POST.get("rules", ""),
            actor=acting_user(request),
            clean_round_gate=request.POST.get("gate") == "1",
        )
    except services.ZoneError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    else:
        messages.success(request, _("Rule set changed; every status is recomputed."))
    return redirect("zones:community", code=community.code)


@login_required
@require_POST
def override_create(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("Only the committee may override a zone."))
    place = request.POST.get("place", "")
    compound = microzone = None
    if place.startswith("c") and place[1:].isdigit():
        compound = Compound.objects.filter(community=community, pk=int(place[1:])).first()
    elif place.startswith("z") and place[1:].isdigit():
        microzone = MicroZone.objects.filter(community=community, pk=int(place[1:])).first()
    since, e1 = _date(request.POST.get("since"))
    until, e2 = _date(request.POST.get("until"))
    if e1 or e2 or not request.POST.get("until"):
        messages.error(request, _("Give the last day of the override.") + " 请填写截止日期。")
        return redirect("zones:community", code=community.code)
    try:
        services.zone_override_create(
            community=community,
            actor=acting_user(request),
            status=request.POST.get("status", ""),
            reason=request.POST.get("reason", ""),
            since=since,
            until=until,
            compound=compound,
            microzone=microzone,
        )
    except services.ZoneError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    else:
        messages.success(request, _("Override recorded."))
    return redirect("zones:community", code=community.code)


@login_required
@require_POST
def override_end(request: HttpRequest, override_id: int) -> HttpResponse:
    override = ZoneOverride.objects.filter(pk=override_id, community__in=communities_visible(request.user)).first()
    if override is None:
        raise Http404(_("Override not found"))
    if not can_manage_community(request.user, override.community_id):
        return HttpResponseForbidden(_("Only the committee may end an override."))
    services.zone_override_end(override_id=override.pk, on=timezone.localdate(), actor=acting_user(request))
    return redirect("zones:community", code=override.community.code)


def _ids(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if v.isdigit()})


@login_required
def blocks(request: HttpRequest, code: str) -> HttpResponse:
    """Draw a block by picking buildings on the plan; check access; save or flag."""
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("Only the committee may draw blocks."))
    compounds = list(Compound.objects.filter(community=community))
    if not compounds:
        raise Http404(_("No compound"))
    raw = request.POST.get("compound") or request.GET.get("compound") or ""
    compound = next((c for c in compounds if str(c.pk) == raw), compounds[0])
    editing = None
    raw_block = request.POST.get("block") or request.GET.get("block") or ""
    if raw_block.isdigit():
        editing = MicroZone.objects.filter(compound=compound, pk=int(raw_block), dissolved_on__isnull=True).first()
    on = timezone.localdate()
    report = zone_report(community, on)
    picked = (
        _ids(request.POST.getlist("buildings"))
        if request.method == "POST"
        else (sorted(editing.buildings.values_list("pk", flat=True)) if editing else [])
    )
    name = request.POST.get("name", editing.name if editing else "").strip()
    outcome = None
    error = ""
    saved = None
    action = request.POST.get("action", "")
    if request.method == "POST":
        try:
            if not picked:
                raise services.ZoneError("请在平面图上点选楼栋", "pick buildings on the plan")
            if action == "save":
                accept = request.POST.get("accept") == "1"
                if editing:
                    result = services.microzone_change(
                        microzone_id=editing.pk, building_ids=picked, actor=acting_user(request), accept_cut_off=accept
                    )
                else:
                    result = services.microzone_draw(
                        compound=compound,
                        name=name,
                        building_ids=picked,
                        drawn_on=on,
                        actor=acting_user(request),
                        accept_cut_off=accept,
                    )
                saved = result.microzone
                outcome = result.outcome
            else:
                outcome = access_check_block(compound, picked, exclude=editing)
        except services.BlockCutsOff as exc:
            outcome = exc.outcome
            error = f"{exc.zh} / {exc.en}"
        except services.ZoneError as exc:
            error = f"{exc.zh} / {exc.en}"
        except ValueError:
            error = "所选楼栋不在平面图上 / the picked buildings are not on the plan"
    if saved is not None and not request.headers.get("HX-Request"):
        messages.success(request, _("Block saved."))
        return redirect(reverse("zones:blocks", args=[community.code]) + f"?compound={compound.pk}")
    flagged = set()
    if outcome is not None:
        flagged = {int(k[1:]) for k in outcome.cut_off_keys if k.startswith("b")}
    plan = zone_plan(report, compound_ids={compound.pk}, selected=set(picked), flagged=flagged, lang=_lang())
    site = compound_site(compound)
    others = [
        mz
        for mz in MicroZone.objects.filter(compound=compound, dissolved_on__isnull=True).prefetch_related("buildings")
        if editing is None or mz.pk != editing.pk
    ]
    add_blocks(
        plan,
        [
            (convex_hull(c for b in mz.buildings.all() if b.pk in site.buildings for c in building_corners(b)), mz.name)
            for mz in others
        ],
    )
    if outcome is not None:
        add_blocks(plan, [(outcome.polygon, name or _("new block"))])
        add_routes(plan, outcome.routes)
    context = {
        "community": community,
        "compounds": compounds,
        "compound": compound,
        "plan": plan,
        "picked": picked,
        "name": name,
        "outcome": outcome,
        "error": error,
        "editing": editing,
        "saved": saved,
        "has_roads": bool(plan.roads),
        "active_blocks": MicroZone.objects.filter(compound=compound, dissolved_on__isnull=True).prefetch_related(
            "buildings"
        ),
    }
    template = "zones/_block_editor.html" if request.headers.get("HX-Request") else "zones/blocks.html"
    return render(request, template, context, status=400 if error and not outcome else 200)


@login_required
@require_POST
def block_dissolve(request: HttpRequest, block_id: int) -> HttpResponse:
    mz = MicroZone.objects.filter(pk=block_id, community__in=communities_visible(request.user)).first()
    if mz is None:
        raise Http404(_("Block not found"))
    if not can_manage_community(request.user, mz.community_id):
        return HttpResponseForbidden(_("Only the committee may unseal a block."))
    services.microzone_dissolve(microzone_id=mz.pk, on=timezone.localdate(), actor=acting_user(request))
    messages.success(request, _("Block unsealed."))
    return redirect(reverse("zones:blocks", args=[mz.community.code]) + f"?compound={mz.compound_id}")


@public_rate_limited
def public_building(request: HttpRequest, token: str) -> HttpResponse:
    """The residents' page behind the building's QR code: its status and countdown, nothing personal."""
    building = building_by_token(token)
    if building is None:
        raise Http404(_("This link is not valid any more."))
    on = timezone.localdate()
    report = zone_report(building.community, on)
    mine = report.building(building.pk)
    if mine is None:
        raise Http404(_("This link is not valid any more."))
    lang = _lang()
    state = mine.state
    holding = report.holding_block(state)
    context = {
        "building": building,
        "state": state,
        "status_label": report.label(state.status, lang),
        "next_label": report.label(state.next_status, lang) if state.next_status else "",
        "colour": report.colour(state.status),
        "countdown": (state.next_change_on - on).days if state.next_change_on else None,
        "zone": mine.zone,
        "held_by": holding.name if holding else "",
        "held_by_label": report.label(holding.state.status, lang) if holding else "",
        "on": on,
    }
    response = render(request, "zones/public.html", context)
    response["Cache-Control"] = "no-store"
    return response
