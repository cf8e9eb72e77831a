"""Work-order pages: a volunteer's phone view, the committee's board, an order's history, residents'
requests (public QR page and the committee's list). Thin: scope, one service, render."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError as PydanticValidationError

from fangzhou.accounts.permissions import acting_user, can_claim, is_committee, is_leader, is_officer
from fangzhou.lib.errors import Refused
from fangzhou.lib.filters import building_param, choice_param
from fangzhou.lib.ratelimit import public_rate_limited
from fangzhou.registry.models import Building, Community
from fangzhou.registry.selectors import building_by_token, buildings_visible, communities_visible
from fangzhou.workorders import outbox, selectors, services
from fangzhou.workorders.api import WorkOrderIn, creatable_communities, work_order_make
from fangzhou.workorders.models import (
    Group,
    Kind,
    OutboxReceipt,
    Priority,
    RequestKind,
    RequestSource,
    Status,
    Urgency,
    WorkOrder,
)
from fangzhou.workorders.services import WorkOrderError

DONE, CONFLICT, REFUSED = OutboxReceipt.Outcome.DONE, OutboxReceipt.Outcome.CONFLICT, OutboxReceipt.Outcome.REFUSED
MAX_PHOTO = 8 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}


def _error(exc: WorkOrderError) -> str:
    return f"{exc.zh} / {exc.en}"


def _in_language(exc: Refused) -> str:
    """A refusal in the reader's language."""
    return exc.zh if (get_language() or "zh-hans").startswith("zh") else exc.en


def _photo(request: HttpRequest) -> Any:
    photo = request.FILES.get("photo")
    if photo is None:
        return None
    if (photo.size or 0) > MAX_PHOTO:
        raise WorkOrderError("照片太大（最多 8 MB）", "the photo is too large (8 MB at most)")
    if (photo.content_type or "") not in PHOTO_TYPES:
        raise WorkOrderError("请上传照片（JPEG、PNG）", "upload a photo (JPEG or PNG)")
    return photo


def _committee_community(request: HttpRequest) -> Community | None:
    if not is_committee(request.user):
        return None
    qs = communities_visible(request.user)
    code = request.GET.get("c") or request.POST.get("c")
    if code:
        return qs.filter(code=code).first()
    own = getattr(request.user, "community_id", None)
    return (qs.filter(pk=own).first() if own else None) or qs.first()


def _board(
    request: HttpRequest, community: Community, *, form: Any = None, error: str = "", status: int = 200
) -> HttpResponse:
    can_create = creatable_communities(request.user).filter(pk=community.pk).exists()
    buildings = list(Building.objects.filter(community=community).select_related("compound"))
    building_id, e1 = building_param(request.GET.get("building"), {b.pk for b in buildings})
    kind, e2 = choice_param(request.GET.get("kind"), Kind.values)
    hours, e3 = choice_param(request.GET.get("older"), [str(h) for h in selectors.OLDER_THAN_HOURS])
    open_filter = selectors.OpenFilter(building_id, kind, int(hours) if hours else None)
    filter_errors = [e for e in (e1, e2, e3) if e]
    context: dict[str, Any] = {
        "community": community,
        "board": selectors.board(community, open_filter),
        "open_filter": open_filter,
        "filter_errors": filter_errors,
        "all_buildings": buildings,
        "all_kinds": Kind.choices,
        "older_choices": selectors.OLDER_THAN_HOURS,
        "can_create": can_create,
        "form": form or {},
        "error": error,
    }
    if can_create:
        context.update(
            kinds=Kind.choices,
            priorities=Priority.choices,
            groups=Group.choices,
            buildings=buildings,
            client_id=(form or {}).get("client_id") or uuid.uuid4().hex,
        )
    return render(request, "workorders/board.html", context, status=400 if filter_errors and status == 200 else status)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    community = _committee_community(request)
    if community is not None and request.GET.get("view") != "mine":
        return _board(request, community)
    if is_committee(user):
        raise Http404(_("Community not found"))
    refusal = selectors.door_work_refusal(user)
    return render(
        request,
        "workorders/mine.html",
        {
            "mine": selectors.my_orders(user),
            "nearby": selectors.open_orders_near(user),
            "escalated": selectors.escalated_to_lead(user),
            "ended": selectors.closed_for_me(user),
            "door_blocked": _in_language(refusal) if refusal is not None else "",
        },
    )


def _form_int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise WorkOrderError("请从列表中选择", "choose from the list")
    return int(value)


@login_required
@require_POST
def order_new(request: HttpRequest) -> HttpResponse:
    """The committee makes a work order by hand (the form on the board); a retry makes one order."""
    community = creatable_communities(request.user).filter(code=request.POST.get("c", "")).first()
    if community is None:
        if is_committee(request.user) or creatable_communities(request.user).exists():
            raise Http404(_("Community not found"))
        return HttpResponseForbidden(_("Only the committee makes work orders by hand."))
    form = request.POST
    try:
        due = form.get("due_at", "").strip()
        payload = WorkOrderIn(
            community=community.code,
            kind=form.get("kind", ""),
            title=form.get("title", ""),
            detail=form.get("detail", ""),
            priority=int(form.get("priority") or Priority.NORMAL),
            group=form.get("group", ""),
            due_at=dt.datetime.fromisoformat(due) if due else None,
            building_id=_form_int(form.get("building", "")),
            room=form.get("room", ""),
            acute=form.get("acute") == "1",
            client_id=form.get("client_id") or None,
        )
        order = work_order_make(payload=payload, community=community, actor=acting_user(request))
    except WorkOrderError as exc:
        return _board(request, community, form=form, error=_error(exc), status=400)
    except (ValueError, PydanticValidationError):
        return _board(request, community, form=form, error="输入无效 / invalid input", status=400)
    messages.success(request, _("Work order #%(n)d created.") % {"n": order.pk})
    return redirect("workorders:detail", pk=order.pk)


def _order(request: HttpRequest, pk: int) -> WorkOrder:
    order = selectors.order_get(request.user, pk)
    if order is None:
        raise Http404(_("Work order not found"))
    return order


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(request, pk)
    return render(
        request,
        "workorders/detail.html",
        {
            "o": order,
            "events": _events(order),
            "manage": selectors.can_manage_order(request.user, order),
        },
    )


def _events(order: WorkOrder) -> list[Any]:
    """The order's history with each status in the reader's language (the rows store codes)."""
    return list(order.events.select_related("actor"))  # from_label / to_label: WorkOrderEvent


def _card(request: HttpRequest, order: WorkOrder, *, message: str = "", error: str = "") -> HttpResponse:
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx answers: the card itself carries the refusal (and who won).
        order.door_members = selectors.door_members(order)  # type: ignore[attr-defined]
        return render(
            request,
            "workorders/_card.html",
            {"o": order, "message": message, "error": error, "manage": selectors.can_manage_order(request.user, order)},
        )
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, message)
    if selectors.order_get(request.user, order.pk) is None:
        return redirect("workorders:index")
    return redirect("workorders:detail", pk=order.pk)


@login_required
@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    order = selectors.order_for_claim(request.user, pk)
    if order is None:
        raise Http404(_("Work order not found"))
    if not can_claim(request.user):
        return _outbox_refused(request, "order_claim", pk, _("Your role does not take work orders."))

    def said(outcome: OutboxReceipt.Outcome, text: str, page: Callable[[], HttpResponse]) -> HttpResponse:
        return outbox.answer(request, kind="order_claim", target_id=pk, outcome=outcome, message=text, page=page)

    won = _("It is yours. Tap start when you set off.")
    tap = outbox.Tap(request, "order_claim")  # a won claim's receipt is committed with the claim
    try:
        claim_one = services.door_task_claim if request.POST.get("door") == "1" else services.work_order_claim
        result = claim_one(
            order_id=order.pk, actor=acting_user(request), receipt=lambda _r: tap.record(target_id=pk, message=won)
        )
    except WorkOrderError as exc:
        both = _error(exc)
        return said(CONFLICT, _in_language(exc), lambda: _card(request, order, error=both))
    if result.won:
        return tap.respond(lambda: _card(request, result.order, message=won), target_id=pk, message=won)
    if result.order.close_reason:
        error = _("No need to go: this order closed itself (%(reason)s).") % {
            "reason": result.order.get_close_reason_display()
        }
        if selectors.order_get(request.user, order.pk) is None:
            return said(CONFLICT, error, lambda: _lost(request, order.pk, error))
        return said(CONFLICT, error, lambda: _card(request, result.order, error=error))
    holder = result.holder
    if holder is not None and holder.pk == request.user.pk:
        mine = _("You already have this order.")
        return said(DONE, mine, lambda: _card(request, result.order, message=mine))
    who = str(holder) if holder else _("someone else")
    error = _("Too late: %(who)s took this order.") % {"who": who}
    if selectors.order_get(request.user, order.pk) is None:
        # The loser may no longer read the order: say who won, show nothing of it.
        return said(CONFLICT, error, lambda: _lost(request, order.pk, error))
    return said(CONFLICT, error, lambda: _card(request, result.order, error=error))


def _outbox_refused(request: HttpRequest, kind: str, pk: int, text: str) -> HttpResponse:
    """A refusal that no retry can change: JSON to the outbox (so it stops), 403 text to a page."""
    return outbox.answer(
        request, kind=kind, target_id=pk, outcome=REFUSED, message=text, page=lambda: HttpResponseForbidden(text)
    )


def _lost(request: HttpRequest, pk: int, error: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return render(request, "workorders/_lost.html", {"pk": pk, "error": error})
    messages.error(request, error)
    return redirect("workorders:index")


ACTIONS = {"start", "done", "release", "cancel"}


@login_required
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(_("Unknown action"))
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    order = _order(request, pk)
    user = acting_user(request)
    kind = f"order_{action}"
    manage = selectors.can_manage_order(user, order)
    if action == "cancel" and not manage:
        return _outbox_refused(request, kind, pk, _("Only the committee or the group lead may cancel an order."))
    if action in {"start", "done", "release"} and order.assignee_id != user.pk and not manage:
        text = _("This order is not yours.")
        if order.assignee is not None:
            text = _("This order is not yours: %(who)s has it.") % {"who": order.assignee}
        return _outbox_refused(request, kind, pk, text)
    tap = outbox.Tap(request, kind)  # the receipt is committed with the order's change

    def record(changed: WorkOrder) -> None:
        tap.record(target_id=pk, message=str(changed.get_status_display()))

    try:
        photo = _photo(request) if action == "done" else None
        door = request.POST.get("door") == "1" and action in {"start", "done", "release"}
        transition = services.door_task_transition if door else services.work_order_transition
        order = transition(
            order_id=order.pk,
            actor=user,
            action=action,
            note=request.POST.get("note", "")[:2000],
            photo=photo,
            receipt=record,
        )
    except WorkOrderError as exc:
        both = _error(exc)
        return outbox.answer(
            request,
            kind=kind,
            target_id=pk,
            outcome=CONFLICT,
            message=_in_language(exc),
            page=lambda: _card(request, order, error=both),
        )
    text = str(order.get_status_display())
    return tap.respond(lambda: _card(request, order, message=text), target_id=pk, message=text)


# --- residents' requests: the committee -----------------------------------------------------


@login_required
def requests_board(request: HttpRequest) -> HttpResponse:
    community = _committee_community(request)
    if community is None:
        first = selectors.requests_visible(request.user).select_related("community").first()
        user = acting_user(request)
        if first is not None:
            community = first.community
        elif is_leader(user) and user.community is not None:
            community = user.community  # a leader with no request yet: their (empty) board, not a refusal
        else:
            return HttpResponseForbidden(_("Only the committee and building leaders see requests."))
    buildings = list(Building.objects.filter(community=community).select_related("compound"))
    return render(
        request,
        "workorders/requests.html",
        {
            "community": community,
            "board": selectors.request_board(request.user, community),
            "kinds": RequestKind.choices,
            "urgencies": Urgency.choices,
            "buildings": buildings,
            "client_id": uuid.uuid4().hex,
            "can_record": is_committee(request.user),
        },
    )


@login_required
@require_POST
def request_record(request: HttpRequest) -> HttpResponse:
    community = _committee_community(request)
    if community is None:
        raise Http404(_("Community not found"))
    building = Building.objects.filter(community=community, pk=request.POST.get("building") or 0).first()
    target = f"{reverse('workorders:requests')}?c={community.code}"
    if building is None:
        messages.error(request, "请选择楼栋 / choose a building")
        return redirect(target)
    try:
        req, _created = services.resident_request_submit(
            building=building,
            kind=request.POST.get("kind", ""),
            urgency=int(request.POST.get("urgency", Urgency.NORMAL)),
            text=request.POST.get("text", ""),
            room=request.POST.get("room", ""),
            contact_name=request.POST.get("contact_name", ""),
            contact_phone=request.POST.get("contact_phone", ""),
            client_id=request.POST.get("client_id"),
            source=RequestSource.STAFF,
            actor=acting_user(request),
        )
        messages.success(request, _("Request %(ref)s recorded.") % {"ref": req.reference})
    except (WorkOrderError, ValueError) as exc:
        messages.error(request, _error(exc) if isinstance(exc, WorkOrderError) else str(exc))
    return redirect(target)


@login_required
@require_POST
def request_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    req = selectors.requests_visible(request.user).filter(pk=pk).first()
    if req is None or not is_committee(request.user):
        raise Http404(_("Request not found"))
    if is_officer(request.user):  # the subdistrict is where an escalation goes, not who makes one
        return HttpResponseForbidden(_("The committee escalates a request to the subdistrict."))
    services.resident_request_escalate(request=req, actor=acting_user(request), note=request.POST.get("note", ""))
    messages.success(request, _("Escalated to the subdistrict."))
    return redirect(f"{reverse('workorders:requests')}?c={req.community.code}")


# --- residents' requests: typed by a building leader on their phone --------------------------


def _may_type(request: HttpRequest) -> bool:
    user = acting_user(request)
    return (is_leader(user) or is_committee(user)) and not is_officer(user)


def _typed_said(text: str, *, bad: bool, status: int = 200) -> HttpResponse:
    css = "error" if bad else "flash"
    return HttpResponse(f'<p class="{css}" role="status">{escape(text)}</p>', status=status)


@login_required
def request_type(request: HttpRequest) -> HttpResponse:
    """A building leader types a resident's request (told at the door or by phone), maybe in a
    stairwell without signal: the form is an outbox form, sent when the signal returns;
    idempotent on ``client_id``, the receipt written in the request's own transaction."""
    if request.method == "POST":
        return _request_typed(request)
    if not _may_type(request):
        return HttpResponseForbidden(_("Only building leaders and the committee record requests."))
    user = acting_user(request)
    return render(
        request,
        "workorders/request_type.html",
        {
            "buildings": list(buildings_visible(user).select_related("compound").order_by("compound__name", "number")),
            "kinds": RequestKind.choices,
            "urgencies": Urgency.choices,
            "recent": selectors.requests_typed_by(user),
        },
    )


def _request_typed(request: HttpRequest) -> HttpResponse:
    replay = outbox.replayed(request)
    if replay is not None:
        return replay
    user = acting_user(request)
    raw = request.POST.get("building", "")
    building = (
        buildings_visible(user).select_related("compound", "community").filter(pk=int(raw)).first()
        if raw.isdigit()
        else None
    )
    if building is None:
        raise Http404(_("Building not found"))
    kind = "request_typed"

    def refused(text: str, status: int) -> HttpResponse:
        return outbox.answer(
            request,
            kind=kind,
            target_id=building.pk,
            outcome=REFUSED,
            message=text,
            status=status,
            page=lambda: _typed_said(text, bad=True, status=status),
        )

    if not _may_type(request):
        return refused(_("Only building leaders and the committee record requests."), 403)
    tap = outbox.Tap(request, kind)

    def record(req: Any) -> None:
        tap.record(target_id=req.pk, message=_("Request %(ref)s recorded.") % {"ref": req.reference})

    try:
        urgency = int(request.POST.get("urgency") or Urgency.NORMAL)
    except ValueError:
        urgency = -1
    try:
        req, _created = services.resident_request_submit(
            building=building,
            kind=request.POST.get("kind", ""),
            urgency=urgency,
            text=request.POST.get("text", ""),
            room=request.POST.get("room", ""),
            contact_name=request.POST.get("contact_name", ""),
            contact_phone=request.POST.get("contact_phone", ""),
            client_id=outbox.client_id_of(request),
            source=RequestSource.STAFF,
            actor=user,
            receipt=record,
        )
    except WorkOrderError as exc:  # bad input: said to the person, never retried
        return refused(_in_language(exc), 400)
    text = _("Request %(ref)s recorded.") % {"ref": req.reference}
    return tap.respond(lambda: _typed_said(text, bad=False), target_id=req.pk, message=text)


# --- residents' requests: the public QR page ------------------------------------------------


@public_rate_limited
def public_request(request: HttpRequest, token: str) -> HttpResponse:
    building = building_by_token(token)
    if building is None:
        raise Http404(_("This QR code is not valid any more."))
    ref = request.GET.get("ref", "").strip().upper()
    if ref:
        return redirect("workorders:public_status", token=token, reference=ref)
    context: dict[str, Any] = {
        "building": building,
        "kinds": RequestKind.choices,
        "urgencies": Urgency.choices,
        "client_id": uuid.uuid4().hex,
        "form": {},
    }
    if request.method == "POST":
        form = request.POST
        try:
            req, _created = services.resident_request_submit(
                building=building,
                kind=form.get("kind", ""),
                urgency=int(form.get("urgency") or Urgency.NORMAL),
                text=form.get("text", ""),
                room=form.get("room", ""),
                contact_name=form.get("contact_name", ""),
                contact_phone=form.get("contact_phone", ""),
                photo=_photo(request),
                client_id=form.get("client_id"),
                source=RequestSource.QR,
            )
        except (WorkOrderError, ValueError) as exc:
            message = _error(exc) if isinstance(exc, WorkOrderError) else "输入无效 / invalid input"
            context.update(error=message, form=form, client_id=form.get("client_id") or context["client_id"])
            return render(request, "workorders/public_request.html", context, status=400)
        return redirect("workorders:public_status", token=token, reference=req.reference)
    return render(request, "workorders/public_request.html", context)


@public_rate_limited
def public_status(request: HttpRequest, token: str, reference: str) -> HttpResponse:
    building = building_by_token(token)
    if building is None:
        raise Http404(_("This QR code is not valid any more."))
    req = selectors.request_public(building, reference)
    if req is None:
        return render(
            request,
            "workorders/public_status.html",
            {"building": building, "req": None, "reference": reference[:12]},
            status=404,
        )
    steps = [
        (Status.OPEN, _("Received")),
        (Status.CLAIMED, _("Someone is on it")),
        (Status.IN_PROGRESS, _("On the way")),
        (Status.DONE, _("Done")),
    ]
    return render(
        request,
        "workorders/public_status.html",
        {"building": building, "req": req, "order": req.order, "steps": steps, "token": token},
    )
