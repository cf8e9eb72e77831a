"""Special-care pages: the registry and who is at risk, a profile with its schedules, the daily
check-in list, medicine requests and trips, and the residents' public status page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.permissions import acting_user, can_manage_community, is_officer, is_volunteer
from fangzhou.care import selectors, services
from fangzhou.care.models import CheckInStatus, MedicineStatus, Payer, TreatmentKind
from fangzhou.care.services import CareError
from fangzhou.lib.filters import building_param, choice_param, date_param
from fangzhou.lib.ratelimit import HouseholdLocked, identify_guarded, public_rate_limited
from fangzhou.registry import selectors as registry_selectors
from fangzhou.registry.models import SpecialCare
from fangzhou.registry.selectors import building_by_token, community_visible_or_404
from fangzhou.workorders import outbox
from fangzhou.workorders.models import OutboxReceipt

WEEKDAYS = [(1, "一"), (2, "二"), (3, "三"), (4, "四"), (5, "五"), (6, "六"), (7, "日")]


def _staff_only(request: HttpRequest) -> None:
    """Volunteers see care work through their work orders, not the registry."""
    if is_volunteer(request.user):
        raise Http404(_("Not found"))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    communities = list(registry_selectors.communities_visible(request.user))
    if len(communities) == 1:
        return redirect("care:community", code=communities[0].code)
    return render(request, "care/home.html", {"communities": communities})


@login_required
def community(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    need, e1 = choice_param(request.GET.get("need"), SpecialCare.values)
    buildings = list(
        registry_selectors.buildings_visible(request.user).filter(community=community).select_related("compound")
    )
    building_id, e2 = building_param(request.GET.get("building"), {b.pk for b in buildings})
    on, e3 = date_param(request.GET.get("on"))
    errors = [e for e in (e1, e2, e3) if e]
    return render(
        request,
        "care/community.html",
        {
            "community": community,
            "risks": selectors.at_risk_next_48h(request.user, community),
            "profiles": selectors.community_profiles(request.user, community, need, building_id=building_id, on=on),
            "need": need,
            "needs": SpecialCare.choices,
            "buildings": buildings,
            "building_id": building_id,
            "on": on,
            "filtered": bool(need or building_id or on),
            "filter_errors": errors,
            "manage": can_manage_community(request.user, community.pk),
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def sync(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not change the special-care registry."))
    report = services.care_registry_sync(community=community, actor=acting_user(request))
    messages.success(
        request, _("Registry updated: %(c)s added, %(u)s updated.") % {"c": report.created, "u": report.updated}
    )
    return redirect("care:community", code=community.code)


@login_required
@require_POST
def escorts(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not create escort orders."))
    report = services.care_escorts_ensure(community=community, actor=acting_user(request))
    messages.success(request, _("%(n)s escort orders created.") % {"n": report.created})
    return redirect("care:community", code=community.code)


def _profile(request: HttpRequest, profile_id: int) -> Any:
    _staff_only(request)
    profile = selectors.profile_get(request.user, profile_id)
    if profile is None:
        raise Http404(_("Not found"))
    return profile


@login_required
def profile(request: HttpRequest, profile_id: int) -> HttpResponse:
    p = _profile(request, profile_id)
    manage = can_manage_community(request.user, p.community.pk)
    context: dict[str, Any] = {
        "p": p,
        "manage": manage,
        "needs": SpecialCare.choices,
        "kinds": TreatmentKind.choices,
        "weekdays": WEEKDAYS,
        "payers": Payer.choices,
        "volunteers": User.objects.filter(community=p.community, role=Role.VOLUNTEER, is_active=True).order_by(
            "username"
        )
        if manage
        else [],
        "requests": selectors.medicine_requests_visible(request.user).filter(resident=p.resident)[:20],
        "checkins": p.checkins.all()[:7],
    }
    status = 200
    if request.method == "POST":
        if not manage:
            return HttpResponseForbidden(_("You may not change the special-care registry."))
        action = request.POST.get("action")
        try:
            if action == "profile":
                raw_due = request.POST.get("due_date") or ""
                carer_id = request.POST.get("carer") or ""
                services.care_profile_update(
                    profile_id=p.pk,
                    actor=acting_user(request),
                    needs=request.POST.getlist("needs"),
                    due_date=dt.date.fromisoformat(raw_due) if raw_due else None,
                    carer=User.objects.filter(pk=int(carer_id)).first() if carer_id.isdigit() else None,
                    note=request.POST.get("note", ""),
                )
            elif action == "schedule":
                services.treatment_schedule_set(
                    profile_id=p.pk,
                    actor=acting_user(request),
                    kind=request.POST.get("kind", ""),
                    weekdays=",".join(request.POST.getlist("weekdays")),
                    at=dt.time.fromisoformat(request.POST.get("at") or ""),
                    hospital=request.POST.get("hospital", ""),
                )
            elif action == "stop":
                schedule = p.schedules.filter(pk=request.POST.get("schedule") or 0).first()
                if schedule is None:
                    raise Http404(_("Not found"))
                services.treatment_schedule_stop(schedule_id=schedule.pk, actor=acting_user(request))
            elif action == "medicine":
                medicines = [
                    {"name": n, "dose": d, "quantity": q}
                    for n, d, q in zip(
                        request.POST.getlist("med_name"),
                        request.POST.getlist("med_dose"),
                        request.POST.getlist("med_quantity"),
                        strict=False,
                    )
                ]
                services.medicine_request_create(
                    resident=p.resident,
                    actor=acting_user(request),
                    medicines=medicines,
                    pharmacy=request.POST.get("pharmacy", ""),
                    prescription=request.POST.get("prescription", ""),
                    urgency=int(request.POST.get("urgency") or 2),
                    payer=request.POST.get("payer") or Payer.RESIDENT,
                    client_id=request.POST.get("client_id") or None,
                )
        except CareError as exc:
            context["error"] = f"{exc.zh} / {exc.en}"
            status = 400
        except ValueError:
            context["error"] = "日期或时间无效 / invalid date or time"
            status = 400
        else:
            messages.success(request, _("Saved."))
            return redirect("care:profile", profile_id=p.pk)
    return render(request, "care/profile.html", context, status=status)


@login_required
def checkins(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    today = timezone.localdate()
    return render(
        request,
        "care/checkins.html",
        {
            "community": community,
            "today": today,
            "rows": selectors.checkins_today(request.user, community, today),
            "manage": can_manage_community(request.user, community.pk),
        },
    )


@login_required
@require_POST
def checkin(request: HttpRequest, profile_id: int) -> HttpResponse:
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    p = _profile(request, profile_id)
    if is_officer(request.user):
        text = _("You may not record check-ins.")
        return outbox.answer(
            request,
            kind="checkin",
            target_id=profile_id,
            outcome=OutboxReceipt.Outcome.REFUSED,
            message=text,
            page=lambda: HttpResponseForbidden(text),
        )
    status = request.POST.get("status", CheckInStatus.OK)
    # A tap sent late from the outbox counts for the day it was tapped (up to yesterday).
    today = timezone.localdate()
    tapped = outbox.done_at_client_of(request)
    on = today
    if tapped is not None and today - dt.timedelta(days=1) <= timezone.localdate(tapped) <= today:
        on = timezone.localdate(tapped)
    tap = outbox.Tap(request, "checkin")  # the receipt is committed with the check-in
    try:
        record = services.checkin_record(
            profile_id=p.pk,
            actor=acting_user(request),
            status=status,
            on=on,
            receipt=lambda c: tap.record(target_id=profile_id, message=str(c.get_status_display())),
        )
    except CareError as exc:
        both = f"{exc.zh} / {exc.en}"
        return outbox.answer(
            request,
            kind="checkin",
            target_id=profile_id,
            outcome=OutboxReceipt.Outcome.REFUSED,
            message=exc.zh if (get_language() or "zh-hans").startswith("zh") else exc.en,
            page=lambda: HttpResponse(both, status=400),
        )

    def page() -> HttpResponse:
        if request.headers.get("HX-Request"):
            return render(request, "care/_checkin.html", {"p": p, "c": record})
        return redirect("care:checkins", code=p.community.code)

    return tap.respond(page, target_id=profile_id, message=str(record.get_status_display()))


@login_required
@require_POST
def checkins_close(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not close the check-in day."))
    report = services.care_checkins_close(community=community, actor=acting_user(request))
    messages.success(request, _("%(n)s missed check-ins are urgent work orders now.") % {"n": report.missed})
    return redirect("care:checkins", code=community.code)


@login_required
def medicine(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    open_requests = (
        selectors.medicine_requests_visible(request.user)
        .filter(community=community, status__in=[MedicineStatus.REQUESTED, MedicineStatus.ON_TRIP])
        .select_related("resident__household__building__compound", "trip__order__assignee")
        .order_by("pharmacy", "urgency", "created_at")
    )
    return render(
        request,
        "care/medicine.html",
        {"community": community, "requests": open_requests, "manage": can_manage_community(request.user, community.pk)},
    )


@login_required
@require_POST
def medicine_batch(request: HttpRequest, code: str) -> HttpResponse:
    _staff_only(request)
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("You may not batch medicine trips."))
    report = services.medicine_trips_batch(community=community, actor=acting_user(request))
    messages.success(request, _("%(t)s trips for %(r)s requests.") % {"t": len(report.trips), "r": report.requests})
    return redirect("care:medicine", code=community.code)


@login_required
@require_POST
def medicine_deliver(request: HttpRequest, request_id: int) -> HttpResponse:
    item = selectors.medicine_request_get(request.user, request_id)
    if item is None:
        raise Http404(_("Not found"))
    if is_officer(request.user):
        return HttpResponseForbidden(_("You may not record deliveries."))
    try:
        services.medicine_request_deliver(request_id=item.pk, actor=acting_user(request))
    except CareError as exc:
        messages.error(request, f"{exc.zh} / {exc.en}")
    if is_volunteer(request.user):
        messages.success(request, _("Saved."))
        return redirect("registry:overview")
    return redirect("care:medicine", code=item.resident.community.code)


@public_rate_limited
def public_status(request: HttpRequest, token: str) -> HttpResponse:
    """No account: a resident checks their medicine requests by room and the last 4 phone digits."""
    building = building_by_token(token)
    if building is None:
        raise Http404(_("Not found"))
    context: dict[str, Any] = {"building": building, "token": token}
    if request.method == "POST":  # not in the address: the digits stay out of logs and history
        room = request.POST.get("room", "")[:16]
        last4 = request.POST.get("last4", "")[:4]
        try:
            result = identify_guarded(token, room, lambda: selectors.public_medicine_status(building, room, last4))
        except HouseholdLocked as exc:
            context.update(room=room, locked=exc.reason)
            response = render(request, "care/public.html", context, status=429)
            response["Retry-After"] = str(exc.retry_after)
            response["Cache-Control"] = "no-store"
            return response
        context.update(room=room, asked=True, result=result)
    response = render(request, "care/public.html", context)
    response["Cache-Control"] = "no-store"
    return response
