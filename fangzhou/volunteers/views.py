"""Volunteer pages: public sign-up, the committee's list and approval, work groups, the duty roster,
a volunteer's own page. Thin: parse, check scope, call one service, render."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import acting_user, can_manage_community, can_see_phone
from fangzhou.lib.ratelimit import public_rate_limited
from fangzhou.lib.urls import public_url
from fangzhou.registry.models import Building, Community
from fangzhou.registry.selectors import communities_managed, communities_read
from fangzhou.volunteers import selectors, services
from fangzhou.volunteers.gate import still_needed
from fangzhou.volunteers.models import (
    Post,
    Shift,
    ShiftAssignment,
    Skill,
    SwapRequest,
    TestKind,
    TestResult,
    TimeSlot,
    Volunteer,
    VolunteerKind,
    VolunteerStatus,
    Weekday,
    WorkGroup,
)
from fangzhou.volunteers.services import VolunteerError
from fangzhou.workorders.models import Group


def _community(request: HttpRequest, *, manage: bool = False) -> Community:
    """The community the committee member works on (?c=code, else their own, else their only one)."""
    qs = communities_managed(request.user) if manage else communities_read(request.user)
    code = request.GET.get("c") or request.POST.get("c")
    if code:
        community = qs.filter(code=code).first()
    else:
        user = request.user
        own = getattr(user, "community_id", None)
        community = qs.filter(pk=own).first() if own else None
        if community is None:
            community = qs.order_by("code").first()
    if community is None:
        raise Http404(_("Community not found"))
    return community


def _day(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def _error(exc: VolunteerError) -> str:
    return f"{exc.zh} / {exc.en}"


# --- public sign-up -------------------------------------------------------------------------


@public_rate_limited
def signup(request: HttpRequest, token: str) -> HttpResponse:
    community = services.signup_link_community(token)
    if community is None:
        raise Http404(_("This sign-up link is not valid any more. Ask the committee for the new one."))
    buildings = list(Building.objects.filter(community=community).select_related("compound"))
    context: dict[str, Any] = {
        "community": community,
        "buildings": buildings,
        "kinds": VolunteerKind.choices,
        "skills": Skill.choices,
        "work_groups": Group.choices,
        "days": Weekday.choices,
        "slots": TimeSlot.choices,
        "client_id": uuid.uuid4().hex,
        "form": {},
        "chosen": {"groups": [], "days": [], "slots": [], "skills": []},
    }
    if request.method == "POST":
        form = request.POST
        building = None
        building_id = form.get("building", "")
        if building_id.isdigit():
            building = Building.objects.filter(community=community, pk=int(building_id)).first()
        try:
            volunteer, _created = services.volunteer_signup(
                community=community,
                client_id=form.get("client_id", ""),
                name=form.get("name", ""),
                phone=form.get("phone", ""),
                kind=form.get("kind", ""),
                building=building,
                skills=form.getlist("skills"),
                availability=form.get("availability", ""),
                groups=form.getlist("groups"),
                days=form.getlist("days"),
                slots=form.getlist("slots"),
            )
        except VolunteerError as exc:
            chosen = {key: form.getlist(key) for key in ("groups", "days", "slots", "skills")}
            context.update(
                error=_error(exc), form=form, chosen=chosen, client_id=form.get("client_id") or context["client_id"]
            )
            return render(request, "volunteers/signup.html", context, status=400)
        return redirect(reverse("volunteers:signup_done", args=[token, volunteer.client_id]))
    return render(request, "volunteers/signup.html", context)


@public_rate_limited
def signup_done(request: HttpRequest, token: str, client_id: str) -> HttpResponse:
    community = services.signup_link_community(token)
    volunteer = Volunteer.objects.filter(community=community, client_id=client_id).first() if community else None
    if volunteer is None:
        raise Http404(_("Sign-up not found"))
    return render(request, "volunteers/signup_done.html", {"volunteer": volunteer, "community": community})


# --- committee ------------------------------------------------------------------------------


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not communities_read(request.user).exists():
        if selectors.volunteer_of(request.user) is not None:
            return redirect("volunteers:me")
        if selectors.groups_led(request.user).exists():
            return redirect("volunteers:groups")
        return HttpResponseForbidden(_("Only the committee manages volunteers."))
    community = _community(request)
    status = request.GET.get("status", "")
    volunteers = list(
        Volunteer.objects.filter(community=community)
        .select_related("building", "user")
        .prefetch_related("groups")
        .order_by("status", "name")
    )
    health = selectors.volunteer_health_many([v for v in volunteers if v.status == VolunteerStatus.APPROVED])
    pending = [v for v in volunteers if v.status == VolunteerStatus.PENDING]
    approved = [v for v in volunteers if v.status == VolunteerStatus.APPROVED]
    if status == "blocked":
        approved = [v for v in approved if not health[v.pk].ok]
    link = services.signup_link_ensure(community=community)
    return render(
        request,
        "volunteers/index.html",
        {
            "community": community,
            "pending": pending,
            "approved": [(v, health[v.pk]) for v in approved],
            "blocked_count": sum(1 for r in health.values() if not r.ok),
            "status": status,
            "groups": Group.choices,
            "signup_url": public_url(reverse("volunteers:signup", args=[link.token]), request=request),
            "can_manage": can_manage_community(request.user, community.pk),
        },
    )


def _managed_volunteer(request: HttpRequest, pk: int) -> Volunteer:
    volunteer = selectors.volunteer_get(request.user, pk)
    if volunteer is None:
        raise Http404(_("Volunteer not found"))
    if not can_manage_community(request.user, volunteer.community.pk):
        raise Http404(_("Volunteer not found"))
    return volunteer


@login_required
@require_POST
def phone_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = selectors.volunteer_get(request.user, pk)
    if volunteer is None:
        raise Http404(_("Volunteer not found"))
    if not can_see_phone(request.user, volunteer.community_id, owner_id=volunteer.user_id):
        return HttpResponseForbidden(_("You may not see this volunteer's full phone."))
    phone = services.volunteer_phone_reveal(volunteer=volunteer, actor=acting_user(request))
    return render(request, "volunteers/_phone.html", {"v": volunteer, "phone": phone})


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = _managed_volunteer(request, pk)
    approval = services.volunteer_approve(
        volunteer=volunteer, actor=acting_user(request), groups=request.POST.getlist("groups")
    )
    context: dict[str, Any] = {"approval": approval, "volunteer": approval.volunteer}
    if approval.token is not None:
        url = public_url(reverse("accounts:signin_link", args=[approval.token]), request=request)
        context.update(url=url, svg=segno.make(url, error="m").svg_inline(scale=5, border=2))
    response = render(request, "volunteers/approved.html", context)
    response["Cache-Control"] = "no-store"  # the link is shown once
    return response


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = _managed_volunteer(request, pk)
    try:
        services.volunteer_reject(volunteer=volunteer, actor=acting_user(request))
    except VolunteerError as exc:
        messages.error(request, _error(exc))
    return redirect(f"{reverse('volunteers:index')}?c={volunteer.community.code}")


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = selectors.volunteer_get(request.user, pk)
    if volunteer is None:
        raise Http404(_("Volunteer not found"))
    positive = selectors.last_positive(volunteer)
    manage = can_manage_community(request.user, volunteer.community.pk)
    health = selectors.volunteer_health(volunteer)
    member_of = set(volunteer.groups.values_list("code", flat=True))
    context = {
        "v": volunteer,
        "health": health,
        "needs": still_needed(health, hours=settings.FANGZHOU_VOLUNTEER_TEST_HOURS, in_a_group=bool(member_of))
        if volunteer.status == VolunteerStatus.APPROVED
        else [],
        "tests": list(volunteer.tests.all()[:10]),
        "groups": Group.choices,
        "member_of": member_of,
        "shifts": selectors.shifts_of(volunteer, since=timezone.now() - dt.timedelta(days=3)),
        "positive": positive,
        "exposure": selectors.exposure(volunteer, positive_at=positive.tested_at) if positive and manage else None,
        "can_manage": manage,
        "can_see_phone": can_see_phone(request.user, volunteer.community_id, owner_id=volunteer.user_id),
        "is_self": volunteer.user_id == request.user.pk,
        "results": TestResult.choices,
        "test_kinds": TestKind.choices,
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "volunteers/detail.html", context)


@login_required
@require_POST
def groups_set(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = _managed_volunteer(request, pk)
    services.volunteer_groups_set(volunteer=volunteer, codes=request.POST.getlist("groups"), actor=acting_user(request))
    messages.success(request, _("Work groups saved."))
    return redirect("volunteers:detail", pk=volunteer.pk)


@login_required
@require_POST
def test_record(request: HttpRequest, pk: int) -> HttpResponse:
    volunteer = selectors.volunteer_get(request.user, pk)
    if volunteer is None:
        raise Http404(_("Volunteer not found"))
    if volunteer.user_id != request.user.pk and not can_manage_community(request.user, volunteer.community.pk):
        raise Http404(_("Volunteer not found"))
    try:
        tested_at = dt.datetime.fromisoformat(request.POST.get("tested_at", ""))
        if timezone.is_naive(tested_at):
            tested_at = timezone.make_aware(tested_at)
    except ValueError:
        messages.error(request, "请填写检测时间 / enter when the test was done")
        return redirect("volunteers:detail", pk=volunteer.pk)
    try:
        services.volunteer_test_record(
            volunteer=volunteer,
            tested_at=tested_at,
            result=request.POST.get("result", ""),
            kind=request.POST.get("kind", TestKind.ANTIGEN),
            actor=acting_user(request),
        )
        messages.success(request, _("Test recorded."))
    except VolunteerError as exc:
        messages.error(request, _error(exc))
    return redirect("volunteers:detail", pk=volunteer.pk)


@login_required
def me(request: HttpRequest) -> HttpResponse:
    volunteer = selectors.volunteer_of(request.user)
    if volunteer is None:
        raise Http404(_("You have no volunteer profile."))
    return detail(request, volunteer.pk)


# --- work groups ----------------------------------------------------------------------------


@login_required
def groups(request: HttpRequest) -> HttpResponse:
    visible = selectors.groups_visible(request.user)
    if not visible.exists() and not communities_read(request.user).exists():
        return HttpResponseForbidden(_("You are in no work group."))
    community = None
    if communities_read(request.user).exists():
        community = _community(request)
        services.work_groups_ensure(community=community)
        visible = visible.filter(community=community)
    rows = list(visible.prefetch_related("members").order_by("id"))
    leads = (
        list(User.objects.filter(community=community, is_active=True).order_by("display_name", "username"))
        if community
        else []
    )
    return render(
        request,
        "volunteers/groups.html",
        {
            "community": community,
            "rows": rows,
            "leads": leads,
            "can_manage": community is not None and can_manage_community(request.user, community.pk),
        },
    )


@login_required
@require_POST
def group_lead(request: HttpRequest, group_id: int) -> HttpResponse:
    group = WorkGroup.objects.filter(pk=group_id, community__in=communities_managed(request.user)).first()
    if group is None:
        raise Http404(_("Work group not found"))
    lead_id = request.POST.get("lead", "")
    lead = User.objects.filter(pk=int(lead_id), community=group.community).first() if lead_id.isdigit() else None
    try:
        services.work_group_lead_set(group=group, lead=lead, actor=acting_user(request))
    except VolunteerError as exc:
        messages.error(request, _error(exc))
    return redirect(f"{reverse('volunteers:groups')}?c={group.community.code}")


# --- the duty roster ------------------------------------------------------------------------


def _roster_context(request: HttpRequest, community: Community, day: dt.date) -> dict[str, Any]:
    rows = selectors.roster_day(community=community, day=day)
    manage = can_manage_community(request.user, community.pk)
    return {
        "community": community,
        "day": day,
        "prev": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "rows": rows,
        "gaps": sum(r.gap for r in rows),
        "filled": sum(r.serving for r in rows),
        "not_serving": sum(len(r.blocked) for r in rows),
        "can_manage": manage,
        "work_groups": services.work_groups_ensure(community=community) if manage else [],
        "posts": Post.choices,
    }


@login_required
def roster(request: HttpRequest) -> HttpResponse:
    if not communities_read(request.user).exists():
        return HttpResponseForbidden(_("Only the committee sees the whole roster."))
    community = _community(request)
    day = _day(request.GET.get("date"))
    context = _roster_context(request, community, day)
    template = "volunteers/roster_print.html" if request.GET.get("print") else "volunteers/roster.html"
    return render(request, template, context)


@login_required
def roster_xlsx(request: HttpRequest) -> HttpResponse:
    if not communities_read(request.user).exists():
        return HttpResponseForbidden(_("Only the committee sees the whole roster."))
    community = _community(request)
    day = _day(request.GET.get("date"))
    content = services.roster_export_xlsx(community=community, day=day, actor=acting_user(request))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="duty-{community.code}-{day.isoformat()}.xlsx"'
    return response


def _roster_redirect(community: Community, day: dt.date) -> HttpResponse:
    return redirect(f"{reverse('volunteers:roster')}?c={community.code}&date={day.isoformat()}")


@login_required
@require_POST
def shift_new(request: HttpRequest) -> HttpResponse:
    community = _community(request, manage=True)
    day = _day(request.POST.get("date"))
    group = WorkGroup.objects.filter(community=community, pk=request.POST.get("group") or 0).first()
    try:
        start_t = dt.time.fromisoformat(request.POST.get("start", ""))
        hours = int(request.POST.get("hours", "4"))
        needed = int(request.POST.get("needed", "1"))
    except ValueError:
        messages.error(request, "时间或人数无效 / the time or the number is not valid")
        return _roster_redirect(community, day)
    if group is None:
        messages.error(request, "请选择工作组 / choose a work group")
        return _roster_redirect(community, day)
    starts = timezone.make_aware(dt.datetime.combine(day, start_t))
    try:
        services.shift_create(
            group=group,
            post=request.POST.get("post", ""),
            place=request.POST.get("place", ""),
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=max(1, min(hours, 24))),
            needed=needed,
            actor=acting_user(request),
        )
    except VolunteerError as exc:
        messages.error(request, _error(exc))
    return _roster_redirect(community, day)


def _managed_shift(request: HttpRequest, shift_id: int) -> Shift:
    shift = (
        Shift.objects.filter(pk=shift_id, community__in=communities_managed(request.user))
        .select_related("group", "community")
        .first()
    )
    if shift is None:
        raise Http404(_("Shift not found"))
    return shift


@login_required
def shift_assign(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = _managed_shift(request, shift_id)
    error = ""
    if request.method == "POST":
        volunteer = Volunteer.objects.filter(pk=request.POST.get("volunteer") or 0, community=shift.community).first()
        if volunteer is None:
            error = "请选择志愿者 / choose a volunteer"
        else:
            try:
                services.shift_assign(shift=shift, volunteer=volunteer, actor=acting_user(request))
                messages.success(request, _("%(name)s is on the shift.") % {"name": volunteer.name})
                return _roster_redirect(shift.community, timezone.localtime(shift.starts_at).date())
            except VolunteerError as exc:
                error = _error(exc)
    return render(
        request,
        "volunteers/assign.html",
        {"shift": shift, "candidates": selectors.eligible_for(shift), "error": error},
        status=400 if error else 200,
    )


@login_required
@require_POST
def assignment_remove(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = (
        ShiftAssignment.objects.filter(pk=assignment_id, shift__community__in=communities_managed(request.user))
        .select_related("shift__community")
        .first()
    )
    if assignment is None:
        raise Http404(_("Shift not found"))
    services.shift_unassign(assignment=assignment, actor=acting_user(request))
    return _roster_redirect(assignment.shift.community, timezone.localtime(assignment.shift.starts_at).date())


@login_required
@require_POST
def roster_autofill(request: HttpRequest) -> HttpResponse:
    community = _community(request, manage=True)
    day = _day(request.POST.get("date"))
    filled = services.shifts_autofill(community=community, day=day, actor=acting_user(request))
    messages.success(request, _("Filled %(n)d place(s) with eligible volunteers.") % {"n": filled})
    return _roster_redirect(community, day)


# --- swaps ----------------------------------------------------------------------------------


@login_required
@require_POST
def swap_request(request: HttpRequest, assignment_id: int) -> HttpResponse:
    volunteer = selectors.volunteer_of(request.user)
    assignment = (
        ShiftAssignment.objects.filter(pk=assignment_id, volunteer=volunteer).select_related("shift").first()
        if volunteer
        else None
    )
    if assignment is None or volunteer is None:
        raise Http404(_("Shift not found"))
    services.swap_request_create(
        assignment=assignment, actor=acting_user(request), reason=request.POST.get("reason", "")
    )
    messages.success(request, _("Swap requested. The committee or your group lead will find someone."))
    return redirect("volunteers:me")


@login_required
def swaps(request: HttpRequest) -> HttpResponse:
    community = _community(request, manage=True)
    open_swaps = selectors.swaps_open(community)
    return render(
        request,
        "volunteers/swaps.html",
        {"community": community, "swaps": [(s, selectors.eligible_for(s.assignment.shift)) for s in open_swaps]},
    )


@login_required
@require_POST
def swap_decide(request: HttpRequest, swap_id: int) -> HttpResponse:
    swap = (
        SwapRequest.objects.filter(pk=swap_id, assignment__shift__community__in=communities_managed(request.user))
        .select_related("assignment__shift__community")
        .first()
    )
    if swap is None:
        raise Http404(_("Swap request not found"))
    community = swap.assignment.shift.community
    accept = request.POST.get("accept") == "1"
    to = Volunteer.objects.filter(pk=request.POST.get("to") or 0, community=community).first()
    try:
        services.swap_request_decide(swap=swap, actor=acting_user(request), to=to, accept=accept)
        messages.success(request, _("Swap done.") if accept else _("Swap cancelled."))
    except VolunteerError as exc:
        messages.error(request, _error(exc))
    return redirect(f"{reverse('volunteers:swaps')}?c={community.code}")


# --- sign-up QR poster ----------------------------------------------------------------------


@login_required
def signup_qr(request: HttpRequest) -> HttpResponse:
    community = _community(request, manage=True)
    if request.method == "POST":
        services.signup_link_rotate(community=community, actor=acting_user(request))
        messages.success(request, _("New sign-up link made; the old poster no longer works."))
        return redirect(f"{reverse('volunteers:signup_qr')}?c={community.code}")
    link = services.signup_link_ensure(community=community)
    url = public_url(reverse("volunteers:signup", args=[link.token]), request=request)
    svg = segno.make(url, error="m").svg_inline(scale=6)
    return render(request, "volunteers/qr.html", {"community": community, "url": url, "svg": svg})
