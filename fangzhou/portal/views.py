"""The household page (no account) and the building leader's group text (signed in).

Residents: ``/home/p/<token>/`` (from the building's QR page) asks room + the last 4 digits of a
registered phone, limited like every public check (per address and token, and per household), and
gives a signed household pass (``portal.session``); ``/home/`` is that household's one page.
"""

from __future__ import annotations

import json
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from weasyprint import HTML

from fangzhou.accounts.models import Role
from fangzhou.lib.personal import mask_name
from fangzhou.lib.ratelimit import HouseholdLocked, identify_guarded, public_rate_limited
from fangzhou.lib.urls import public_url
from fangzhou.notices import services as notice_services
from fangzhou.notices.texts import notice_text
from fangzhou.portal import selectors
from fangzhou.portal.grouptext import GroupText, group_text
from fangzhou.portal.session import pass_end, pass_give, pass_read
from fangzhou.registry.models import Building, Resident
from fangzhou.registry.selectors import building_by_token, community_time_zone_activate
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.surveys import selectors as survey_selectors
from fangzhou.surveys import services as survey_services
from fangzhou.surveys.models import Survey
from fangzhou.testing.selectors import household_identify

ENDPOINT_MAX = 1000


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Cookie"
    return response


# --------------------------------------------------------------------------------------------------
# Residents


@public_rate_limited
@ensure_csrf_cookie
def household_enter(request: HttpRequest, token: str) -> HttpResponse:
    """Room + the last 4 phone digits: a right pair opens the household page on this phone."""
    building = building_by_token(token)
    if building is None:
        return render(request, "registry/public_unknown.html", status=404)
    community_time_zone_activate(building.community)
    context: dict[str, Any] = {
        "building": building,
        "token": token,
        "session_hours": settings.FANGZHOU_HOUSEHOLD_SESSION_HOURS,
    }
    if request.method == "POST":  # not in the address: the digits stay out of logs and history
        room = request.POST.get("room", "")[:16]
        phone4 = request.POST.get("phone4", "")[:8]
        context["room"] = room
        try:
            household = identify_guarded(token, room, lambda: household_identify(building, room, phone4))
        except HouseholdLocked as exc:
            context["error"] = exc.reason
            response = render(request, "portal/enter.html", context, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return _no_store(response)
        if household is None:
            # The same words whether the room exists or not: the page never tells which.
            context["error"] = _("Room or phone digits do not match. Check them, or call your building leader.")
            return _no_store(render(request, "portal/enter.html", context, status=400))
        response = redirect("portal:household")
        response.status_code = 303
        pass_give(response, household_id=household.pk, token=token)
        return _no_store(response)
    return _no_store(render(request, "portal/enter.html", context))


def _refused_page(request: HttpRequest) -> HttpResponse:
    return _no_store(render(request, "portal/expired.html", status=403))


@require_GET
@ensure_csrf_cookie
def household(request: HttpRequest) -> HttpResponse:
    """The household's one page: opening it marks its notices read."""
    given = pass_read(request)
    if given is None:
        return _refused_page(request)
    page = selectors.household_page(given.household_id, given.matches)
    if page is None:  # the household is gone, or its building has a new QR code
        response = _refused_page(request)
        pass_end(response)
        return response
    community_time_zone_activate(page.building.community)
    if page.unread:
        notice_services.household_notices_read(page.household.pk)
    context = {
        "page": page,
        "token": page.building.public_token,
        "vapid_public_key": _vapid_key(),
        "surveys": survey_selectors.open_for_household(page.household),
    }
    return _no_store(render(request, "portal/household.html", context))


@ensure_csrf_cookie
def household_survey(request: HttpRequest, survey_id: int) -> HttpResponse:
    """A needs survey answered by the household itself (its pass), the same form a leader uses."""
    given = pass_read(request)
    if given is None:
        return _refused_page(request)
    page = selectors.household_page(given.household_id, given.matches)
    if page is None:
        return _refused_page(request)
    community_time_zone_activate(page.building.community)
    household = page.household
    survey = Survey.objects.filter(
        pk=survey_id, community_id=household.building.community_id, status=Survey.Status.OPEN
    ).first()
    if survey is None:
        raise Http404(_("Survey not found"))
    answer = survey.answers.filter(household=household).first()
    values: dict[str, Any] = dict(answer.values) if answer is not None else {}
    error, status = "", 200
    if request.method == "POST":
        raw = {key: request.POST.getlist(key) for key in request.POST}
        try:
            survey_services.answer_save(survey_id=survey.pk, household=household, raw=raw, actor=None)
        except survey_services.SurveyError as exc:
            error, status = exc.reason, 400
            values = survey_selectors.form_values(raw)
        else:
            response = redirect("portal:household")
            response.status_code = 303
            return _no_store(response)
    members = [(r.pk, mask_name(r.name)) for r in Resident.objects.filter(household=household).order_by("pk")]
    questions = survey_selectors.answer_form(survey, values)
    context = {
        "survey": survey,
        "title": survey_selectors.text(survey.title_zh, survey.title_en),
        "members": members,
        "questions": questions,
        "error": error,
        "household": household,
    }
    return _no_store(render(request, "portal/survey.html", context, status=status))


def _vapid_key() -> str:
    return str(settings.VAPID_PUBLIC_KEY)


@require_POST
def household_leave(request: HttpRequest) -> HttpResponse:
    """ "Not my phone": the pass is taken back; the building's QR page again."""
    given = pass_read(request)
    target = reverse("portal:left")
    if given is not None:
        page_token = (
            Building.objects.filter(households__pk=given.household_id).values_list("public_token", flat=True).first()
        )
        if page_token and given.matches(page_token):
            target = reverse("registry:public", args=[page_token])
    response = redirect(target)
    response.status_code = 303
    pass_end(response)
    return _no_store(response)


@require_GET
def household_left(request: HttpRequest) -> HttpResponse:
    return _no_store(render(request, "portal/expired.html", {"left": True}))


def _json_refusal(zh: str, en: str, status: int) -> JsonResponse:
    english = (translation.get_language() or "zh").startswith("en")
    return JsonResponse({"ok": False, "detail": en if english else zh}, status=status)


def _subscription(request: HttpRequest) -> dict[str, str] | None:
    """The browser's PushSubscription.toJSON(): ``{"endpoint", "keys": {"p256dh", "auth"}}``."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    endpoint = data.get("endpoint")
    raw_keys = data.get("keys")
    keys: dict[str, Any] = raw_keys if isinstance(raw_keys, dict) else {}
    if not isinstance(endpoint, str) or not endpoint.startswith("https://") or len(endpoint) > ENDPOINT_MAX:
        return None
    p256dh, auth = keys.get("p256dh", ""), keys.get("auth", "")
    return {
        "endpoint": endpoint,
        "p256dh": p256dh if isinstance(p256dh, str) else "",
        "auth": auth if isinstance(auth, str) else "",
    }


@require_POST
def push_subscribe(request: HttpRequest) -> HttpResponse:
    """Store this phone's Web Push subscription for the household of the pass (or forget it)."""
    given = pass_read(request)
    if given is None:
        return _json_refusal(
            "页面已过期，请重新扫描楼栋二维码。",
            "This page has expired: scan your building's QR code again.",
            403,
        )
    row = Building.objects.filter(households__pk=given.household_id).values_list("public_token", "community_id").first()
    if row is None or not given.matches(row[0]):
        return _json_refusal(
            "页面已过期，请重新扫描楼栋二维码。", "This page has expired: scan your building's QR code again.", 403
        )
    sub = _subscription(request)
    if sub is None:
        return _json_refusal(
            "订阅信息无效，请刷新页面再试。", "Not a valid subscription: reload the page and try again.", 400
        )
    if request.GET.get("remove") == "1":
        removed = notice_services.push_subscription_remove(household_id=given.household_id, endpoint=sub["endpoint"])
        return JsonResponse({"ok": True, "removed": removed})
    if not (0 < len(sub["p256dh"]) <= 200 and 0 < len(sub["auth"]) <= 64):
        return _json_refusal(
            "订阅信息无效，请刷新页面再试。", "Not a valid subscription: reload the page and try again.", 400
        )
    created = notice_services.push_subscription_save(household_id=given.household_id, community_id=int(row[1]), **sub)
    return JsonResponse({"ok": True, "created": created})


# --------------------------------------------------------------------------------------------------
# The building leader's group text


def _leader(request: HttpRequest) -> None:
    if (
        getattr(request.user, "role", "") == Role.PROPERTY_MANAGER
    ):  # property management sees places, never residents' matters
        raise Http404(_("Not found"))


@login_required
@require_GET
def group_notices(request: HttpRequest) -> HttpResponse:
    _leader(request)
    rows = selectors.notices_for_leader(request.user)  # type: ignore[arg-type]
    items = [{"notice": n, "text": notice_text(n), "buildings": bs} for n, bs in rows]
    return render(request, "portal/group_list.html", {"items": items})


def _group_text(request: HttpRequest, notice_id: int, building_id: int) -> tuple[GroupText, Building, str]:
    _leader(request)
    found = selectors.leader_notice(request.user, notice_id, building_id)  # type: ignore[arg-type]
    if found is None:
        raise Http404(_("Not found"))
    notice, building = found
    if not building.public_token:
        building_tokens_ensure(community=building.community)
        building.refresh_from_db(fields=["public_token"])
    link = public_url(reverse("registry:public", args=[building.public_token]), request=request)
    community_time_zone_activate(building.community)
    with translation.override("zh-hans"):  # a building's group reads Chinese first
        body = notice_text(notice, building=building.full_label)
        rooms_label, told = _("Rooms: "), _("The households concerned were told on their household page.")
        link_label = _("Your household page (antigen report, PCR status, notices): scan the QR code or open")
        committee, notice_word = _("residents committee"), _("notice")
        footer = f"{building.community.name} {committee} {timezone.localdate():%Y-%m-%d}"
        title = f"{building.full_label} {notice_word}"
    with translation.override("en"):
        english = notice_text(notice, building=building.full_label)
    text = group_text(
        kind=notice.kind,
        building_label=title,
        body=body,
        english=english,
        rooms=selectors.notice_rooms(notice, building),
        names=selectors.building_names(building),
        link_label=link_label,
        link=link,
        footer=footer,
        rooms_label=rooms_label,
        told_label=told,
    )
    return text, building, link


@login_required
@require_GET
def group_text_page(request: HttpRequest, notice_id: int, building_id: int) -> HttpResponse:
    text, building, _link = _group_text(request, notice_id, building_id)
    context = {"group": text, "building": building, "notice_id": notice_id}
    return render(request, "portal/group_text.html", context)


@login_required
@require_GET
def group_door_notice(request: HttpRequest, notice_id: int, building_id: int) -> HttpResponse:
    """The same words as an A4 notice for the door, with the building's QR code."""
    text, building, link = _group_text(request, notice_id, building_id)
    svg = segno.make(link, error="m").svg_inline(scale=6, border=2)
    html = render_to_string("portal/door_notice.html", {"group": text, "building": building, "svg": svg, "url": link})
    pdf = HTML(string=html).write_pdf()  # self-contained: nothing to fetch from any host
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="notice-{notice_id}-{building.pk}.pdf"'
    return response
