"""Testing pages: rounds, the sampling desk, lab uploads, door lists, antigen glance and the public page."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import (
    acting_user,
    can_close_tube,
    can_manage_community,
    can_unmask,
    is_committee,
    is_leader,
    is_officer,
)
from fangzhou.cases.models import Source
from fangzhou.lib.filters import building_param
from fangzhou.lib.ratelimit import (
    HouseholdLocked,
    identify_guarded,
    public_rate_limited,
    public_rate_limited_at_identify,
)
from fangzhou.lib.rejected import rejected_download, rejected_keep
from fangzhou.lib.sheets import UnreadableFile, read_upload
from fangzhou.lib.urls import public_url
from fangzhou.registry import selectors as registry
from fangzhou.registry.models import Building, Household, Resident
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.testing import selectors, services
from fangzhou.testing.models import AntigenResult, Retest, Round, SamplingSite, Tube
from fangzhou.testing.services import TestingError
from fangzhou.workorders import outbox
from fangzhou.workorders.models import OutboxReceipt

# Public page limits, per client address and per building token, in a 10-minute window.
PHOTO_LIMIT = 5 * 1024 * 1024


def _round(request: HttpRequest, round_id: int) -> Round:
    rnd = selectors.round_get(request.user, round_id)
    if rnd is None:
        raise Http404(_("Round not found"))
    return rnd


def _building(request: HttpRequest, building_id: int) -> Building:
    building = registry.building_get(request.user, building_id)
    if building is None:
        raise Http404(_("Building not found"))
    return building


def _refused(request: HttpRequest) -> HttpResponse:
    return HttpResponseForbidden(_("Only the committee may do this. / 只有居委会可以执行此操作。"))


def _station(request: HttpRequest, rnd: Round) -> str:
    desk = request.GET.get("desk") or request.POST.get("desk") or ""
    if desk == "door":
        return f"door:{acting_user(request).pk}"
    try:
        number = max(1, min(int(desk or 1), 99))
    except ValueError:
        number = 1
    site = request.GET.get("site") or request.POST.get("site") or ""
    return f"site:{site or 0}:{number}"


# --------------------------------------------------------------------------------------------------
# Rounds


@login_required
def home(request: HttpRequest) -> HttpResponse:
    communities = list(registry.communities_visible(request.user))
    if len(communities) == 1:
        return redirect("testing:rounds", code=communities[0].code)
    return render(request, "testing/home.html", {"communities": communities})


@login_required
def rounds(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    error = ""
    if request.method == "POST":
        if not can_manage_community(request.user, community.pk):
            return _refused(request)
        try:
            date = dt.date.fromisoformat(request.POST.get("date", ""))
            rnd = services.round_create(
                community=community,
                date=date,
                pool_size=int(request.POST.get("pool_size") or 10),
                actor=acting_user(request),
            )
        except ValueError as exc:
            error = (
                f"{exc.zh} / {exc.en}"
                if isinstance(exc, TestingError)
                else _("Invalid date or pool size. / 日期或混采数无效。")
            )
        else:
            return redirect("testing:round", round_id=rnd.pk)
    context = {
        "community": community,
        "rounds": selectors.rounds_visible(request.user).filter(community=community)[:30],
        "today": timezone.localdate(),
        "error": error,
        "committee": is_committee(request.user),
        "can_confirm": can_manage_community(request.user, community.pk),  # also: may create a round
        "retests": selectors.retests_visible(request.user, community),
        "plan": selectors.pool_recommendation(community, timezone.localdate()) if is_committee(request.user) else None,
    }
    return render(request, "testing/rounds.html", context, status=400 if error else 200)


def _no_call(request: HttpRequest, community_id: int) -> bool:
    """No call button for someone who may not dial the residents (the subdistrict officer, whose
    job is counts): it would open a "not found" (``registry.selectors.resident_to_call``)."""
    return not can_unmask(request.user, community_id, field="phone")


@login_required
def round_page(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    counts = selectors.round_counts(request.user, rnd)
    context = {
        "round": rnd,
        "counts": counts,
        "slots": selectors.round_schedule_rows(request.user, rnd),
        "sites": list(rnd.sites.all()),
        "can_run": can_manage_community(request.user, rnd.community_id),
        "can_confirm": can_manage_community(request.user, rnd.community_id),
        "retests": list(selectors.retests_visible(request.user, rnd.community)),
        "no_call": _no_call(request, rnd.community_id),
    }
    if context["can_run"]:
        context["tubes"] = selectors.round_tubes(rnd, limit=50)
        context["coverage"] = selectors.coverage_check(rnd)
    if request.headers.get("HX-Request"):
        return render(request, "testing/_counts.html", context)
    return render(request, "testing/round.html", context)


@login_required
@require_POST
def site_add(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    if not can_manage_community(request.user, rnd.community_id):
        return _refused(request)
    try:
        services.site_add(
            round=rnd,
            name=request.POST.get("name", ""),
            desks=int(request.POST.get("desks") or 1),
            opens_at=dt.time.fromisoformat(request.POST.get("opens_at") or "07:00"),
            closes_at=dt.time.fromisoformat(request.POST.get("closes_at") or "11:00"),
            x=float(request.POST["x"]) if request.POST.get("x") else None,
            y=float(request.POST["y"]) if request.POST.get("y") else None,
            actor=acting_user(request),
        )
    except TestingError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    except ValueError:
        messages.error(request, _("Invalid number or time. / 数字或时间无效。"))
    return redirect("testing:round", round_id=rnd.pk)


@login_required
@require_POST
def schedule(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    if not can_manage_community(request.user, rnd.community_id):
        return _refused(request)
    try:
        plan = services.round_schedule(round=rnd, actor=acting_user(request))
    except TestingError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    else:
        if plan.unscheduled:
            messages.warning(
                request,
                _("%(n)d building(s) did not fit: add a site, desks or hours.") % {"n": len(plan.unscheduled)},
            )
        else:
            messages.success(request, _("Schedule made."))
    return redirect("testing:round", round_id=rnd.pk)


@login_required
def missing(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    building_id = request.GET.get("building")
    residents = selectors.missing_residents(
        request.user, rnd, int(building_id) if building_id and building_id.isdigit() else None
    )
    groups: dict[str, list[Resident]] = {}
    for r in residents:
        groups.setdefault(f"{r.household.building.compound.name} {r.household.building.label}", []).append(r)
    context = {"round": rnd, "groups": groups, "total": len(residents), "no_call": _no_call(request, rnd.community_id)}
    return render(request, "testing/missing.html", context)


@login_required
def doors(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    return render(request, "testing/doors.html", {"round": rnd, "lists": selectors.door_lists(request.user, rnd)})


@login_required
@require_POST
def door_take(request: HttpRequest, round_id: int) -> HttpResponse:
    """One resident sampled at their door, tapped on the door list (maybe offline, sent later by
    the outbox): idempotent on ``client_id``; a closed tube or a resident already sampled in this
    round is a conflict (409) said in the reader's language."""
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    rnd = _round(request, round_id)
    raw = request.POST.get("resident", "")
    resident = (
        registry.residents_visible(request.user)
        .filter(pk=int(raw) if raw.isdigit() else 0, community_id=rnd.community_id)
        .select_related("household")
        .first()
    )
    if resident is None:
        raise Http404(_("Resident not found. / 找不到该居民。"))
    if is_officer(request.user):  # a district officer reads the round; sampling is the community's
        text = _("You may not record samples.")
        return outbox.answer(
            request,
            kind="door_sample",
            target_id=resident.pk,
            outcome=OutboxReceipt.Outcome.REFUSED,
            message=text,
            page=lambda: HttpResponseForbidden(text),
        )
    zh = (get_language() or "zh-hans").startswith("zh")
    code = "".join(request.POST.get("tube_code", "").split()).upper()
    closed = Tube.objects.filter(round=rnd, code=code, status=Tube.Status.CLOSED).exists() if code else False

    def conflict(text: str) -> HttpResponse:
        return outbox.answer(
            request,
            kind="door_sample",
            target_id=resident.pk,
            outcome=OutboxReceipt.Outcome.CONFLICT,
            message=text,
            page=lambda: HttpResponse(f'<p class="error" role="status">{escape(text)}</p>', status=409),
        )

    if closed:
        return conflict(_("Tube %(code)s is already closed: use a new tube.") % {"code": code})
    tap = outbox.Tap(request, "door_sample")  # the receipt is committed with the sample

    def sampled(tube: Tube) -> str:
        return _("Sampled: %(name)s, tube %(code)s.") % {"name": resident.name, "code": tube.code}

    try:
        result = services.sample_take(
            round=rnd,
            residents=[resident],
            actor=acting_user(request),
            station=f"door:{acting_user(request).pk}",
            door_to_door=True,
            tube_code=code,
            receipt=lambda r: tap.record(target_id=resident.pk, message=sampled(r.tube)),
        )
    except TestingError as exc:
        return conflict(exc.zh if zh else exc.en)
    text = sampled(result.tube)
    return tap.respond(
        lambda: HttpResponse(f'<p class="flash" role="status">{escape(text)}</p>'), target_id=resident.pk, message=text
    )


@login_required
def manifest(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    if not can_manage_community(request.user, rnd.community_id):
        return _refused(request)
    response = HttpResponse("\ufeff" + services.manifest_csv(round=rnd), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="manifest-round-{rnd.pk}.csv"'
    return response


@login_required
def upload(request: HttpRequest, round_id: int, what: str) -> HttpResponse:
    """Lab results (what="results") or samples from another app (what="samples")."""
    rnd = _round(request, round_id)
    if not can_manage_community(request.user, rnd.community_id):
        return _refused(request)
    context: dict[str, Any] = {"round": rnd, "what": what}
    if request.method == "POST":
        file = request.FILES.get("file")
        if file is None:
            context["error"] = _("Choose a file first. / 请先选择文件。")
        else:
            try:
                data = read_upload(file)
                importer = services.results_import if what == "results" else services.samples_import
                report = importer(round=rnd, data=data, filename=file.name or what, actor=acting_user(request))
            except UnreadableFile as exc:
                context["error"] = f"{exc.zh} / {exc.en}"
            except TestingError as exc:
                context["error"] = f"{exc.zh} / {exc.en}"
            else:
                context["report"] = report.as_dict()
                context["rejected_file"] = rejected_keep(
                    request,
                    f"{what}-{rnd.pk}",
                    data=data,
                    filename=file.name or what,
                    columns=services.RESULTS if what == "results" else services.SAMPLES,
                    rejections=report.rejections(),
                )
    return render(request, "testing/upload.html", context, status=400 if "error" in context else 200)


@login_required
def upload_rejected(request: HttpRequest, round_id: int, what: str) -> HttpResponse:
    """The rows the last samples or results upload of this round sent back, with the reason."""
    rnd = _round(request, round_id)
    if not can_manage_community(request.user, rnd.community_id):
        return _refused(request)
    return rejected_download(request, f"{what}-{rnd.pk}")


# --------------------------------------------------------------------------------------------------
# Sampling desk


@login_required
def desk(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    station = _station(request, rnd)
    query = request.GET.get("q", "")[:80]
    context: dict[str, Any] = {
        "round": rnd,
        "q": query,
        "rows": selectors.desk_search(request.user, rnd, query) if query else [],
        "tube": selectors.open_tube(rnd, station),
        "desk": request.GET.get("desk", "1"),
        "site": request.GET.get("site", ""),
        "sites": list(rnd.sites.all()),
    }
    if request.headers.get("HX-Request"):
        return render(request, "testing/_desk_results.html", context)
    return render(request, "testing/desk.html", context)


@login_required
@require_POST
def desk_take(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    station = _station(request, rnd)
    ids = [int(i) for i in request.POST.getlist("resident") if i.isdigit()]
    residents = list(
        registry.residents_visible(request.user)
        .filter(pk__in=ids, community_id=rnd.community_id)
        .select_related("household")
    )
    site_id = request.POST.get("site", "")
    site = SamplingSite.objects.filter(round=rnd, pk=int(site_id)).first() if site_id.isdigit() else None
    context: dict[str, Any] = {"round": rnd, "desk": request.POST.get("desk", "1"), "site": site_id}
    status = 200
    if len(residents) != len(ids) or not ids:
        context["error"] = _("Resident not found. / 找不到该居民。")
        status = 404 if ids else 400
    else:
        try:
            result = services.sample_take(
                round=rnd,
                residents=residents,
                actor=acting_user(request),
                station=station,
                site=site,
                door_to_door=request.POST.get("desk") == "door",
                tube_code=request.POST.get("tube_code", ""),
            )
        except TestingError as exc:
            context["error"] = f"{exc.zh} / {exc.en}"
            status = 409
        else:
            context["taken"] = result
    context["tube"] = selectors.open_tube(rnd, station)
    response = render(request, "testing/_desk_tube.html", context, status=status)
    if "taken" in context:
        response["HX-Trigger"] = "sampled"
    return response


@login_required
@require_POST
def tube_close(request: HttpRequest, tube_id: int) -> HttpResponse:
    tube = selectors.tube_get(request.user, tube_id)
    if tube is None:
        raise Http404(_("Tube not found"))
    if not can_close_tube(request.user, tube.round.community_id, opened_by_id=tube.opened_by_id):
        return HttpResponseForbidden(_("Only the committee or whoever fills the tube may close it."))
    services.tube_close(tube=tube, actor=acting_user(request))
    context = {"round": tube.round, "tube": None, "closed_code": tube.code, "desk": request.POST.get("desk", "1")}
    return render(request, "testing/_desk_tube.html", context)


@login_required
def retest_confirm(request: HttpRequest, retest_id: int) -> HttpResponse:
    """Confirm the case of a resident on the re-test list: one page that shows the result that
    justifies it and asks once; the answer opens the case."""
    retest = selectors.retest_get(request.user, retest_id)
    if retest is None:
        raise Http404(_("Re-test not found"))
    if not can_manage_community(request.user, retest.community_id):
        return HttpResponseForbidden(_("Only the committee may confirm a case. / 只有居委会可以确诊。"))
    context: dict[str, Any] = {
        "retest": retest,
        "today": timezone.localdate(),
        "next": _next(request),
        "source": Source(services.RETEST_CASE_SOURCE[Retest.Reason(retest.reason)]).label,
        "lab": getattr(retest.source_tube, "lab_result", None) if retest.source_tube else None,
    }
    if request.method == "POST":
        try:
            day = dt.date.fromisoformat(request.POST.get("report_date", ""))
            _retest, case = services.retest_case_confirm(
                retest_id=retest.pk, actor=acting_user(request), report_date=day
            )
        except TestingError as exc:
            context["error"] = f"{exc.zh} / {exc.en}"
        except ValueError:
            context["error"] = _("Invalid date. / 日期无效。")
        else:
            messages.success(request, _("Case confirmed: transfer, disinfection and household check are queued."))
            return redirect("cases:detail", case_id=case.pk)
        return render(request, "testing/retest_confirm.html", context, status=400)
    return render(request, "testing/retest_confirm.html", context)


def _next(request: HttpRequest) -> str:
    """Where "back" goes: a local path only."""
    target = request.GET.get("next") or request.POST.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else ""


@login_required
def resident_qr(request: HttpRequest, resident_id: int) -> HttpResponse:
    """A resident's personal QR code (signed id) as SVG, for printing on a card."""
    resident = registry.resident_get(request.user, resident_id)
    if resident is None:
        raise Http404(_("Resident not found"))
    out = io.BytesIO()
    segno.make(selectors.resident_qr_payload(resident.pk), error="m").save(out, kind="svg", scale=6, border=2)
    return HttpResponse(out.getvalue(), content_type="image/svg+xml")


@login_required
def building_cards(request: HttpRequest, building_id: int) -> HttpResponse:
    """Printable QR cards for every resident of a building (scanned at the desk)."""
    building = _building(request, building_id)
    residents = list(Resident.objects.filter(household__building=building).select_related("household"))
    cards = []
    for r in residents:
        r.household.building = building  # already loaded with its compound: no query per card
        svg = segno.make(selectors.resident_qr_payload(r.pk), error="m").svg_inline(scale=4, border=2)
        cards.append({"resident": r, "svg": svg})
    return render(request, "testing/cards.html", {"building": building, "cards": cards})


# --------------------------------------------------------------------------------------------------
# Antigen: glance, wall screen, building grid, kits, poster


def _day(request: HttpRequest) -> dt.date:
    try:
        return dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return timezone.localdate()


@login_required
def antigen_glance(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    day = _day(request)
    glance = selectors.antigen_glance(request.user, community, day)
    wall = request.GET.get("wall") == "1"
    context: dict[str, Any] = {
        "community": community,
        "glance": glance,
        "wall": wall,
        "day": day,
        "no_call": _no_call(request, community.pk),
    }
    if request.headers.get("HX-Request"):
        return render(request, "testing/_glance.html", context)
    if not wall:
        # The not-reported list, one building at a time (a community has thousands of names).
        buildings = {b.building.pk: b.building for b in glance.buildings}
        building_id, error = building_param(request.GET.get("building"), buildings)
        context.update(
            buildings=list(buildings.values()),
            building_id=building_id,
            filter_error=error,
            not_reported=(
                selectors.antigen_not_reported(request.user, buildings[building_id], day)
                if building_id is not None
                else None
            ),
        )
    return render(
        request,
        "testing/antigen_wall.html" if wall else "testing/antigen.html",
        context,
        status=400 if context.get("filter_error") else 200,
    )


@login_required
def antigen_building(request: HttpRequest, building_id: int) -> HttpResponse:
    building = _building(request, building_id)
    day = _day(request)
    # Kits are handed out, and the building's links posted, by its leader or the committee; the
    # subdistrict officer reads the counts and changes nothing (nor does anyone else who may look).
    may_enter = _may_enter(request, building)
    if request.method == "POST":
        if not may_enter:
            return HttpResponseForbidden(
                _("Only the building leader or the committee records kits. / 只有楼组长或居委会可以登记发放试剂。")
            )
        household_id = request.POST.get("household", "")
        household = building.households.filter(pk=int(household_id)).first() if household_id.isdigit() else None
        try:
            kits = int(request.POST.get("kits", ""))
        except ValueError:
            kits = -1
        if household is None:
            messages.error(request, _("Household not found. / 找不到该户。"))
        else:
            try:
                services.kit_handout_record(household=household, day=day, kits=kits, actor=acting_user(request))
            except TestingError as exc:
                messages.error(request, f"{exc.zh} / {exc.en}")
            else:
                messages.success(request, _("Kits recorded."))
        return redirect(reverse("testing:antigen_building", args=[building.pk]) + f"?day={day.isoformat()}")
    glance = selectors.antigen_glance(request.user, building.community, day, building_id=building.pk)
    links: list[tuple[str, str, str]] = []
    if may_enter:
        if not building.public_token:  # as the poster does: the building's QR link exists once asked for
            building_tokens_ensure(community=building.community)
            building.refresh_from_db(fields=["public_token"])
        # The links as text, to paste into the building's WeChat group (the poster carries the same).
        links = [
            ("antigen", _("Antigen report"), reverse("testing:public", args=[building.public_token])),
            (
                "home",
                _("All residents' pages of the building"),
                reverse("registry:public", args=[building.public_token]),
            ),
        ]
    not_reported = selectors.antigen_not_reported(request.user, building, day)
    context = {
        "may_enter": may_enter,
        "links": [(key, label, public_url(path, request=request)) for key, label, path in links],
        "building": building,
        "grid": glance.buildings[0] if glance.buildings else None,
        "glance": glance,
        "day": day,
        "not_reported": not_reported,
        "on_behalf": _by_household(not_reported) if may_enter else [],
        "results": [c for c in AntigenResult.choices if c[0] != AntigenResult.NOT_TESTED],
        "kits": selectors.kit_reconciliation(request.user, building, day),
        "no_call": _no_call(request, building.community_id),
    }
    return render(request, "testing/antigen_building.html", context)


def _may_enter(request: HttpRequest, building: Building) -> bool:
    user = acting_user(request)
    return is_leader(user) or can_manage_community(user, building.community_id)


def _by_household(not_reported: list[Resident]) -> list[tuple[Household, list[Resident]]]:
    """The chase list by household: each household with its members not reported yet."""
    rows: dict[int, tuple[Household, list[Resident]]] = {}
    for r in not_reported:
        rows.setdefault(r.household_id, (r.household, []))[1].append(r)
    return list(rows.values())


def _said(text: str, *, bad: bool, status: int = 200) -> HttpResponse:
    css = "error" if bad else "flash"
    return HttpResponse(f'<p class="{css}" role="status">{escape(text)}</p>', status=status)


@login_required
@require_POST
def antigen_on_behalf(request: HttpRequest, household_id: int) -> HttpResponse:
    """A building leader enters a household's antigen results from the building's chase list
    (maybe offline, sent later by the outbox): idempotent on ``client_id``; a member reported by
    someone else after the tap is a conflict (409) in the reader's language; the receipt is
    written in the same transaction as the reports."""
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    household = (
        Household.objects.filter(pk=household_id, building__in=registry.buildings_visible(request.user).values("pk"))
        .select_related("building")
        .first()
    )
    if household is None:
        raise Http404(_("Household not found. / 找不到该户。"))
    user = acting_user(request)
    kind = "antigen_on_behalf"

    def refused(text: str, status: int) -> HttpResponse:
        return outbox.answer(
            request,
            kind=kind,
            target_id=household.pk,
            outcome=OutboxReceipt.Outcome.REFUSED,
            message=text,
            status=status,
            page=lambda: _said(text, bad=True, status=status),
        )

    if not (is_leader(user) or can_manage_community(user, household.building.community_id)):
        return refused(_("You may not enter antigen results for a household."), 403)
    try:
        day = dt.date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    results = {int(k[1:]): str(v) for k, v in request.POST.items() if k[:1] == "r" and k[1:].isdigit() and v}
    zh = (get_language() or "zh-hans").startswith("zh")
    tap = outbox.Tap(request, kind)
    room = household.room

    def record(result: services.AntigenOutcome) -> None:
        tap.record(target_id=household.pk, message=_reported_text(room, len(result.submission.results)))

    try:
        outcome = services.antigen_report_on_behalf(
            household=household,
            day=day,
            results=results,
            client_id=outbox.client_id_of(request) or uuid.uuid4().hex,
            actor=user,
            tapped_at=outbox.done_at_client_of(request),
            receipt=record,
        )
    except services.AntigenNewer as exc:
        text = exc.zh if zh else exc.en
        return outbox.answer(
            request,
            kind=kind,
            target_id=household.pk,
            outcome=OutboxReceipt.Outcome.CONFLICT,
            message=text,
            page=lambda: _said(text, bad=True, status=409),
        )
    except TestingError as exc:  # bad input (a person not of the household, no result): said, not retried
        return refused(exc.zh if zh else exc.en, 400)
    text = _reported_text(room, len(outcome.submission.results))
    return tap.respond(lambda: _said(text, bad=False), target_id=household.pk, message=text)


def _reported_text(room: str, count: int) -> str:
    return _("Room %(room)s: %(n)s result(s) recorded.") % {"room": room, "n": count}


@login_required
def poster(request: HttpRequest, building_id: int) -> HttpResponse:
    """A4 PDF poster with the building's QR link to the public antigen page."""
    from weasyprint import HTML

    building = _building(request, building_id)
    if not building.public_token:
        building_tokens_ensure(community=building.community)
        building.refresh_from_db(fields=["public_token"])
    url = public_url(reverse("testing:public", args=[building.public_token]), request=request)
    svg = segno.make(url, error="m").svg_inline(scale=10, border=2)
    html = render_to_string("testing/poster.html", {"building": building, "svg": svg, "url": url})
    pdf = HTML(string=html).write_pdf()  # self-contained: nothing to fetch from any host
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="antigen-poster-{building.pk}.pdf"'
    return response


# --------------------------------------------------------------------------------------------------
# Public antigen page (no account)


def _public_building(token: str) -> Building:
    building = registry.building_by_token(token)
    if building is None:
        raise Http404("二维码已失效，请联系楼组长。/ This QR code is no longer valid.")
    registry.community_time_zone_activate(building.community)  # the page's times on its community's clock
    return building


def _fail(zh: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "detail": zh}, status=status)


def _locked(exc: HouseholdLocked) -> JsonResponse:
    response = JsonResponse({"ok": False, "detail": exc.reason, "retry_after": exc.retry_after}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _identify(request: HttpRequest, token: str) -> Household | None:
    """Room + last 4 phone digits, counted per household: raises HouseholdLocked after a few wrong.
    The page's public limit is counted in the same step, before the building is read
    (``public_rate_limited_at_identify``); an unknown token is a 404 then."""
    room, phone4 = request.POST.get("room", ""), request.POST.get("phone4", "")

    def attempt() -> Household | None:
        return selectors.household_identify(_public_building(token), room, phone4)

    return identify_guarded(token, room, attempt, request=request)


@public_rate_limited
@ensure_csrf_cookie
def public(request: HttpRequest, token: str) -> HttpResponse:
    building = _public_building(token)
    return render(
        request,
        "testing/public.html",
        {"building": building, "token": token, "today": timezone.localdate(), "choices": AntigenResult.choices},
    )


@public_rate_limited_at_identify  # every resident's first post: one round trip to Redis, as the submit
@require_POST
def public_identify(request: HttpRequest, token: str) -> HttpResponse:
    try:
        household = _identify(request, token)
    except HouseholdLocked as exc:
        return _locked(exc)
    if household is None:
        return _fail(_("Room or phone digits do not match. Check them, or call your building leader."), 404)
    today = selectors.household_today(household, timezone.localdate())
    members = [
        {"id": r.pk, "name": r.name, "result": today[r.pk][0] if r.pk in today else ""}
        for r in Resident.objects.filter(household=household).order_by("id")
    ]
    # "Already reported today": the page shows what was sent, and when, before it offers a correction.
    last = max((at for _result, at in today.values()), default=None)
    reported_at = timezone.localtime(last).strftime("%H:%M") if last else ""
    return JsonResponse({"ok": True, "room": household.room, "members": members, "reported_at": reported_at})


@public_rate_limited_at_identify  # counted in the household's check, before any SQL (one round trip on Redis)
@require_POST
def public_submit(request: HttpRequest, token: str) -> HttpResponse:
    room, phone4 = request.POST.get("room", ""), request.POST.get("phone4", "")
    client_id = request.POST.get("client_id", "")
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        day = today
    found: list[tuple[int | None, selectors.AntigenRead | None]] = []

    def attempt() -> selectors.HouseholdKey | None:
        # One query: the building, the household, the phone check, and what the service must
        # know before it writes (the members, an earlier submission with this client id, today's
        # pending re-tests).
        building, household, read = selectors.public_antigen_lookup(token, room, phone4, client_id=client_id, day=day)
        found.append((building, read))
        return household

    try:
        household = identify_guarded(token, room, attempt, request=request)
    except HouseholdLocked as exc:
        return _locked(exc)
    if found and found[0][0] is None:
        raise Http404("二维码已失效，请联系楼组长。/ This QR code is no longer valid.")
    if household is None:
        return _fail(_("Room or phone digits do not match. Check them, or call your building leader."), 404)
    if not today - dt.timedelta(days=1) <= day <= today:
        return _fail(_("Only today's results (or yesterday's, if they were not sent) can be reported."))
    try:
        raw = json.loads(request.POST.get("results", "{}"))
        results = {int(k): str(v) for k, v in raw.items() if v}
    except (ValueError, AttributeError):
        return _fail(_("Invalid results. Reload the page and try again."))
    photo = request.FILES.get("photo")
    data: bytes | None = None
    if photo is not None:
        if (photo.size or 0) > PHOTO_LIMIT or not (photo.content_type or "").startswith("image/"):
            return _fail(_("The photo must be an image under 5 MB."))
        data = photo.read()
    try:
        outcome = services.antigen_report_submit(
            household=household,
            day=day,
            results=results,
            client_id=client_id,
            photo=data,
            photo_name=photo.name if photo is not None and photo.name else "",
            known=found[0][1] if found else None,
        )
    except TestingError as exc:
        return _fail(exc.zh if get_language().startswith("zh") else exc.en)
    # When it was stored, on the server's clock (a phone's clock may be wrong): what the page shows.
    at = timezone.now() if outcome.created else outcome.submission.received_at
    return JsonResponse(
        {
            "ok": True,
            "stored": True,
            "client_id": outcome.client_id,
            "duplicate": not outcome.created,
            "reported_at": timezone.localtime(at).strftime("%H:%M"),
        }
    )
