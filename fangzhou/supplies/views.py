"""Supplies pages: distributions, door lists marked on a phone, progress, route plans."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import (
    acting_user,
    can_manage_community,
    can_mark_deliveries,
    is_leader,
    is_volunteer,
)
from fangzhou.lib.rejected import rejected_download, rejected_held, rejected_keep
from fangzhou.lib.sheets import UnreadableFile, read_upload
from fangzhou.registry import selectors as registry_selectors
from fangzhou.registry.models import Household
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.supplies import selectors, services
from fangzhou.supplies.exports import delivery_list_pdf, delivery_list_xlsx
from fangzhou.supplies.models import Delivery, DistributionKind, PlanStatus, Scaling
from fangzhou.supplies.plan_svg import route_plan_svg
from fangzhou.supplies.services import SuppliesError
from fangzhou.workorders import outbox
from fangzhou.workorders.models import OutboxReceipt
from fangzhou.zones.selectors import building_is_sealed
from fangzhou.zones.sitegraph import community_site_graph


def _error(exc: SuppliesError | UnreadableFile) -> str:
    return f"{exc.zh} / {exc.en}"


def parse_items(text: str) -> dict[str, int]:
    """'大米:2, 食用油 1' → {'大米': 2, '食用油': 1}."""
    items: dict[str, int] = {}
    for part in re.split(r"[,，;；\n]+", text):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(.+?)\s*[:：×xX*\s]\s*(\d+)", part)
        if match is None:
            raise SuppliesError(f"看不懂「{part}」，请写成 物品:数量", f"cannot read {part!r}; write item:quantity")
        items[match[1].strip()] = items.get(match[1].strip(), 0) + int(match[2])
    return items


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if is_volunteer(user):
        return redirect("supplies:mine")
    communities = list(registry_selectors.communities_visible(user))
    if len(communities) == 1:
        return redirect("supplies:community", code=communities[0].code)
    return render(request, "supplies/home.html", {"communities": communities})


@login_required
def community(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    manage = can_manage_community(request.user, community.pk)
    context: dict[str, Any] = {
        "community": community,
        "distributions": selectors.distributions_visible(request.user).filter(community=community),
        "manage": manage,
        "kinds": DistributionKind.choices,
        "scalings": Scaling.choices,
        "default_scaling": services.package_scaling_default(),
        "today": timezone.localdate(),
    }
    status = 200
    if request.method == "POST":
        if not manage:
            return HttpResponseForbidden(_("You may not create distributions here."))
        try:
            on = dt.date.fromisoformat(request.POST.get("on") or timezone.localdate().isoformat())
            distribution = services.distribution_create(
                community=community,
                name=request.POST.get("name", ""),
                kind=request.POST.get("kind", ""),
                on=on,
                package=parse_items(request.POST.get("package", "")),
                scaling=request.POST.get("scaling") or None,
                actor=acting_user(request),
            )
        except SuppliesError as exc:
            context["error"] = _error(exc)
            status = 400
        except ValueError:
            context["error"] = "日期无效 / invalid date"
            status = 400
        else:
            return redirect("supplies:distribution", distribution_id=distribution.pk)
    return render(request, "supplies/community.html", context, status=status)


def _distribution(request: HttpRequest, distribution_id: int) -> Any:
    distribution = selectors.distribution_get(request.user, distribution_id)
    if distribution is None:
        raise Http404(_("Distribution not found"))
    return distribution


@login_required
def distribution(request: HttpRequest, distribution_id: int) -> HttpResponse:
    dist = _distribution(request, distribution_id)
    progress = selectors.distribution_progress(request.user, dist)
    manage = can_manage_community(request.user, dist.community.pk)
    context = {
        "distribution": dist,
        "progress": progress,
        "manage": manage,
        "volunteers": selectors.volunteers_of(dist.community) if manage else [],
        "import": dist.imports.first() if manage else None,
        "compounds": list(dist.community.compounds.order_by("id")) if manage else [],
        "rejected_file": manage and rejected_held(request, f"purchase-{dist.pk}"),
    }
    if request.headers.get("HX-Request"):
        return render(request, "supplies/_progress.html", context)
    return render(request, "supplies/distribution.html", context)


def _manage_post(request: HttpRequest, distribution_id: int) -> Any:
    dist = _distribution(request, distribution_id)
    if not can_manage_community(request.user, dist.community.pk):
        raise PermissionError
    return dist


@login_required
@require_POST
def allocate(request: HttpRequest, distribution_id: int) -> HttpResponse:
    try:
        dist = _manage_post(request, distribution_id)
    except PermissionError:
        return HttpResponseForbidden(_("You may not change this distribution."))
    try:
        report = services.distribution_allocate(distribution=dist, actor=acting_user(request))
    except SuppliesError as exc:
        messages.error(request, _error(exc))
    else:
        messages.success(
            request, _("Allocated to %(n)s households (%(c)s new).") % {"n": report.households, "c": report.created}
        )
    return redirect("supplies:distribution", distribution_id=dist.pk)


@login_required
@require_POST
def order_set(request: HttpRequest, distribution_id: int) -> HttpResponse:
    try:
        dist = _manage_post(request, distribution_id)
    except PermissionError:
        return HttpResponseForbidden(_("You may not change this distribution."))
    number = services._norm_building(request.POST.get("building"))
    room = services._norm_room(request.POST.get("room"))
    compound = str(request.POST.get("compound", "")).strip()
    doors = Household.objects.filter(building__community=dist.community, building__number=number, room=room)
    if compound.isdigit():
        doors = doors.filter(building__compound_id=int(compound))
    found = list(doors.select_related("building__compound")[:2])
    household = found[0] if len(found) == 1 else None
    try:
        if len(found) > 1:
            # Two compounds both have this building and room: never guess which door.
            raise SuppliesError(
                f"{number}号楼 {room}室 在多个小区，请选小区", f"building {number} room {room} is in several compounds"
            )
        if household is None:
            raise SuppliesError(f"找不到 {number}号楼 {room}室", f"no room {room} in building {number}")
        services.group_order_set(
            distribution=dist,
            household=household,
            items=parse_items(request.POST.get("items", "")),
            actor=acting_user(request),
        )
    except SuppliesError as exc:
        messages.error(request, _error(exc))
    else:
        messages.success(request, _("Order saved for %(door)s.") % {"door": household.full_label})
    return redirect("supplies:distribution", distribution_id=dist.pk)


@login_required
def order_import_rejected(request: HttpRequest, distribution_id: int) -> HttpResponse:
    """The rows the last group-purchase upload sent back, with the reason, to fix and upload again."""
    dist = _distribution(request, distribution_id)
    if not can_manage_community(request.user, dist.community.pk):
        return HttpResponseForbidden(_("You may not change this distribution."))
    return rejected_download(request, f"purchase-{dist.pk}")


@login_required
@require_POST
def order_import(request: HttpRequest, distribution_id: int) -> HttpResponse:
    try:
        dist = _manage_post(request, distribution_id)
    except PermissionError:
        return HttpResponseForbidden(_("You may not change this distribution."))
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise UnreadableFile("请先选择文件", "choose a file first")
        data = read_upload(upload)
        report = services.group_purchase_import(
            distribution=dist, actor=acting_user(request), data=data, filename=upload.name or "orders"
        )
        rejected_keep(
            request,
            f"purchase-{dist.pk}",
            data=data,
            filename=upload.name or "orders",
            columns=services.IMPORT_COLUMNS,
            rejections=report.rejections(),
        )
    except (UnreadableFile, SuppliesError) as exc:
        messages.error(request, _error(exc))
    else:
        messages.success(
            request,
            _("Imported: %(c)s new doors, %(u)s changed, %(s)s unchanged, %(r)s rows rejected.")
            % {"c": report.created, "u": report.updated, "s": report.unchanged, "r": len(report.rejected)},
        )
    return redirect("supplies:distribution", distribution_id=dist.pk)


@login_required
@require_POST
def assign(request: HttpRequest, distribution_id: int) -> HttpResponse:
    try:
        dist = _manage_post(request, distribution_id)
    except PermissionError:
        return HttpResponseForbidden(_("You may not change this distribution."))
    building = (
        registry_selectors.buildings_visible(request.user)
        .filter(community=dist.community, pk=request.POST.get("building") or 0)
        .first()
    )
    raw = request.POST.get("volunteer") or ""
    volunteer = User.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    try:
        if building is None:
            raise SuppliesError("找不到这栋楼", "building not found")
        services.delivery_assign(distribution=dist, building=building, volunteer=volunteer, actor=acting_user(request))
    except SuppliesError as exc:
        messages.error(request, _error(exc))
    return redirect("supplies:distribution", distribution_id=dist.pk)


@login_required
@require_POST
def sweep(request: HttpRequest, distribution_id: int) -> HttpResponse:
    try:
        dist = _manage_post(request, distribution_id)
    except PermissionError:
        return HttpResponseForbidden(_("You may not change this distribution."))
    report = services.deliveries_sweep(distribution=dist, actor=acting_user(request))
    messages.success(
        request,
        _("%(n)s undelivered doors are work orders now (%(c)s new).") % {"n": report.orders, "c": report.created},
    )
    return redirect("supplies:distribution", distribution_id=dist.pk)


@login_required
def building_list(request: HttpRequest, distribution_id: int, building_id: int) -> HttpResponse:
    dist = _distribution(request, distribution_id)
    building = selectors.building_get(request.user, dist, building_id)
    if building is None:
        raise Http404(_("Building not found"))
    deliveries = selectors.building_deliveries(dist, building)
    sealed = building_is_sealed(building, timezone.localdate())
    done = sum(1 for d in deliveries if d.status != "pending")
    undelivered_only = request.GET.get("undelivered") == "1"
    return render(
        request,
        "supplies/building.html",
        {
            "distribution": dist,
            "building": building,
            "deliveries": deliveries,
            # "undelivered only": the doors still to serve; the counts stay those of the building
            "shown": [d for d in deliveries if d.status == "pending"] if undelivered_only else deliveries,
            "undelivered_only": undelivered_only,
            "pending": len(deliveries) - done,
            "sealed": sealed,
            "done": done,
            "totals": selectors.building_totals(deliveries),
            "can_mark": can_mark_deliveries(request.user),
        },
    )


@login_required
def building_pdf(request: HttpRequest, distribution_id: int, building_id: int) -> HttpResponse:
    dist = _distribution(request, distribution_id)
    building = selectors.building_get(request.user, dist, building_id)
    if building is None:
        raise Http404(_("Building not found"))
    deliveries = selectors.building_deliveries(dist, building)
    content = delivery_list_pdf(
        distribution=dist,
        building=building,
        deliveries=deliveries,
        sealed=building_is_sealed(building, timezone.localdate()),
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="delivery-{dist.pk}-{building.pk}.pdf"'
    return response


@login_required
def building_xlsx(request: HttpRequest, distribution_id: int, building_id: int) -> HttpResponse:
    dist = _distribution(request, distribution_id)
    building = selectors.building_get(request.user, dist, building_id)
    if building is None:
        raise Http404(_("Building not found"))
    content = delivery_list_xlsx(
        distribution=dist, building=building, deliveries=selectors.building_deliveries(dist, building)
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="delivery-{dist.pk}-{building.pk}.xlsx"'
    return response


@login_required
@require_POST
def mark(request: HttpRequest, delivery_id: int) -> HttpResponse:
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    delivery = selectors.delivery_get(request.user, delivery_id)
    if delivery is None:
        raise Http404(_("Delivery not found"))
    kind = "delivery_undo" if request.POST.get("undo") else "delivery_mark"
    if not can_mark_deliveries(request.user):
        text = _("You may not mark deliveries.")
        return outbox.answer(
            request,
            kind=kind,
            target_id=delivery_id,
            outcome=OutboxReceipt.Outcome.REFUSED,
            message=text,
            page=lambda: HttpResponseForbidden(text),
        )
    actor = acting_user(request)
    outcome = OutboxReceipt.Outcome.DONE
    tap = outbox.Tap(request, kind)  # the receipt is committed with the door's change

    def record(changed: Delivery) -> None:
        text = _("Back to not delivered.") if kind == "delivery_undo" else str(changed.get_status_display())
        tap.record(target_id=delivery_id, message=text)

    if request.POST.get("undo"):
        delivery = services.delivery_undo(delivery_id=delivery.pk, actor=actor, receipt=record)
        text = _("Back to not delivered.")
    else:
        photo = request.FILES.get("photo")
        if photo is not None and photo.size and photo.size > 8 * 1024 * 1024:
            return HttpResponse("照片过大（上限 8 MB） / photo too large (8 MB limit)", status=400)
        delivery = services.delivery_mark(delivery_id=delivery.pk, actor=actor, photo=photo, receipt=record)
        text = str(delivery.get_status_display())
        if delivery.delivered_by_id is not None and delivery.delivered_by_id != actor.pk:
            # Another volunteer reached this door first (while this phone had no signal).
            outcome = OutboxReceipt.Outcome.CONFLICT
            text = _("Already delivered by %(who)s at %(time)s.") % {
                "who": delivery.delivered_by,
                "time": timezone.localtime(delivery.delivered_at).strftime("%H:%M") if delivery.delivered_at else "",
            }

    def page() -> HttpResponse:
        deliveries = selectors.building_deliveries(delivery.distribution, delivery.building)
        row = next(d for d in deliveries if d.pk == delivery.pk)
        context = {
            "d": row,
            "distribution": delivery.distribution,
            "sealed": building_is_sealed(delivery.building, timezone.localdate()),
            "can_mark": True,
            "done": sum(1 for d in deliveries if d.status != "pending"),
            "deliveries": deliveries,
            "oob": True,
        }
        if request.headers.get("HX-Request"):
            return render(request, "supplies/_door.html", context)
        return redirect("supplies:building", distribution_id=delivery.distribution_id, building_id=delivery.building_id)

    if outcome == OutboxReceipt.Outcome.CONFLICT:  # nothing was written: the receipt after is safe
        return outbox.answer(request, kind=kind, target_id=delivery_id, outcome=outcome, message=text, page=page)
    return tap.respond(page, target_id=delivery_id, message=text)


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    return render(request, "supplies/mine.html", {"work": selectors.my_work(request.user)})


# --------------------------------------------------------------------------------------------
# Routes


@login_required
def routes(request: HttpRequest, code: str) -> HttpResponse:
    community = community_visible_or_404(request.user, code)
    manage = can_manage_community(request.user, community.pk)
    if not manage and is_leader(request.user):
        raise Http404(_("Route plans are for the committee"))
    context: dict[str, Any] = {
        "community": community,
        "manage": manage,
        "plans": selectors.route_plans_visible(request.user).filter(community=community)[:20],
        "distributions": selectors.distributions_visible(request.user).filter(community=community, closed_at=None),
        "buildings": registry_selectors.buildings_visible(request.user)
        .filter(community=community)
        .select_related("compound")
        .order_by("compound_id", "sort_key"),
        "volunteers": selectors.volunteers_of(community) if manage else [],
        "gates": [],
    }
    if manage:
        try:
            context["gates"] = [(k, v[0]) for k, v in community_site_graph(community).gates.items()]
        except ValueError:
            context["error"] = "还没有楼栋在平面图上 / no building is on the site plan yet"
    status = 200
    if request.method == "POST":
        if not manage:
            return HttpResponseForbidden(_("You may not plan routes here."))
        dist = None
        raw = request.POST.get("distribution") or ""
        if raw.isdigit():
            dist = selectors.distribution_get(request.user, int(raw))
        try:
            capacity = int(request.POST.get("capacity") or 20)
            plan = services.route_plan_request(
                community=community,
                actor=acting_user(request),
                building_ids=[int(b) for b in request.POST.getlist("buildings") if b.isdigit()],
                volunteer_ids=[int(v) for v in request.POST.getlist("volunteers") if v.isdigit()],
                capacity=capacity,
                start=request.POST.get("start", ""),
                distribution=dist,
                name=request.POST.get("name", ""),
            )
        except SuppliesError as exc:
            context["error"] = _error(exc)
            status = 400
        except ValueError:
            context["error"] = "载量应为整数 / capacity must be a whole number"
            status = 400
        else:
            return redirect("supplies:route_plan", plan_id=plan.pk)
    return render(request, "supplies/routes.html", context, status=status)


@login_required
def route_plan(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.route_plan_get(request.user, plan_id)
    if plan is None:
        raise Http404(_("Route plan not found"))
    legs = selectors.route_legs(request.user, plan)
    context = {
        "plan": plan,
        "legs": legs,
        "svg": route_plan_svg(plan, legs) if plan.status == PlanStatus.DONE else None,
        "queued": plan.status == PlanStatus.QUEUED,
    }
    if request.headers.get("HX-Request"):
        return render(request, "supplies/_plan.html", context)
    return render(request, "supplies/route_plan.html", context)
