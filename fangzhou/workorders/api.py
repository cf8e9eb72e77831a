"""Work-order and request endpoints: same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as Reply

from fangzhou.accounts.models import User
from fangzhou.registry.selectors import building_by_token, communities_visible
from fangzhou.workorders import selectors, services
from fangzhou.workorders.models import RequestSource, ResidentRequest, WorkOrder
from fangzhou.workorders.services import WorkOrderError

router = Router(tags=["workorders"])


class OrderOut(Schema):
    id: int
    kind: str
    title: str
    priority: int
    emergency_reason: str
    status: str
    group: str
    building: str
    room: str
    due_at: dt.datetime | None
    assignee: str | None
    escalation_level: int


class EventOut(Schema):
    at: dt.datetime
    actor: str | None
    from_status: str
    to_status: str
    note: str


class ClaimOut(Schema):
    won: bool
    holder: str | None
    order: OrderOut


class ActionIn(Schema):
    note: str = ""


class RequestIn(Schema):
    kind: str
    text: str
    urgency: int = 2
    room: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    client_id: str | None = None


class StaffRequestIn(RequestIn):
    building_id: int


class RequestStatusOut(Schema):
    reference: str
    kind: str
    status: str
    created_at: dt.datetime
    escalated: bool


class RequestOut(RequestStatusOut):
    id: int
    building: str
    room: str
    text: str
    order_id: int | None


class EscalateIn(Schema):
    note: str = ""


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def order_out(o: WorkOrder) -> OrderOut:
    return OrderOut(
        id=o.pk,
        kind=o.kind,
        title=o.title,
        priority=o.priority,
        emergency_reason=o.emergency_reason,
        status=o.status,
        group=o.group,
        building=o.building.label if o.building else "",
        room=o.household.room if o.household else "",
        due_at=o.due_at,
        assignee=str(o.assignee) if o.assignee else None,
        escalation_level=o.escalation_level,
    )


def _status_out(r: ResidentRequest) -> RequestStatusOut:
    return RequestStatusOut(
        reference=r.reference,
        kind=r.kind,
        status=r.order.status if r.order else "open",
        created_at=r.created_at,
        escalated=r.escalated_at is not None,
    )


def _request_out(r: ResidentRequest) -> RequestOut:
    return RequestOut(
        id=r.pk,
        building=r.building.label,
        room=r.room,
        text=r.text,
        order_id=r.order_id,
        **_status_out(r).dict(),
    )


@router.get("/", response=list[OrderOut])
def order_list(request: HttpRequest, status: str | None = None, mine: bool = False) -> list[OrderOut]:
    qs = selectors.orders_visible(request.user)
    if status:
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(assignee_id=request.user.pk)
    return [order_out(o) for o in qs.order_by("priority", "due_at", "id")[:500]]


@router.get("/nearby", response=list[OrderOut])
def nearby(request: HttpRequest) -> list[OrderOut]:
    return [order_out(o) for o in selectors.open_orders_near(_user(request))]


@router.get("/requests", response=list[RequestOut])
def request_list(request: HttpRequest, open_only: bool = True) -> list[RequestOut]:
    qs = selectors.requests_visible(request.user)
    if open_only:
        qs = qs.filter(order__status__in=selectors.ACTIVE)
    return [_request_out(r) for r in qs.order_by("created_at")[:500]]


@router.post("/requests", response=RequestOut)
def request_record(request: HttpRequest, payload: StaffRequestIn) -> RequestOut:
    if not selectors.is_committee(request.user):
        raise Http404("building not found")
    from fangzhou.registry.models import Building

    building = Building.objects.filter(
        pk=payload.building_id, community__in=communities_visible(request.user).values("pk")
    ).first()
    if building is None:
        raise Http404("building not found")
    try:
        r, _created = services.resident_request_submit(
            building=building,
            kind=payload.kind,
            text=payload.text,
            urgency=payload.urgency,
            room=payload.room,
            contact_name=payload.contact_name,
            contact_phone=payload.contact_phone,
            client_id=payload.client_id,
            source=RequestSource.STAFF,
            actor=_user(request),
        )
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    return _request_out(r)


@router.post("/requests/{pk}/escalate", response=RequestOut)
def request_escalate(request: HttpRequest, pk: int, payload: EscalateIn) -> RequestOut:
    r = selectors.requests_visible(request.user).filter(pk=pk).first()
    if r is None or not selectors.is_committee(request.user):
        raise Http404("request not found")
    return _request_out(services.resident_request_escalate(request=r, actor=_user(request), note=payload.note))


@router.post("/public/{token}/requests", response=RequestStatusOut, auth=None)
def public_submit(request: HttpRequest, token: str, payload: RequestIn) -> RequestStatusOut:
    """Public: a resident's request from the building's QR page (idempotent on client_id)."""
    building = building_by_token(token)
    if building is None:
        raise Http404("not found")
    try:
        r, _created = services.resident_request_submit(
            building=building,
            kind=payload.kind,
            text=payload.text,
            urgency=payload.urgency,
            room=payload.room,
            contact_name=payload.contact_name,
            contact_phone=payload.contact_phone,
            client_id=payload.client_id,
        )
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    return _status_out(r)


@router.get("/public/{token}/requests/{reference}", response=RequestStatusOut, auth=None)
def public_status(request: HttpRequest, token: str, reference: str) -> RequestStatusOut:
    building = building_by_token(token)
    r = selectors.request_public(building, reference) if building else None
    if r is None:
        raise Http404("not found")
    return _status_out(r)


def _order(request: HttpRequest, pk: int) -> WorkOrder:
    o = selectors.order_get(request.user, pk)
    if o is None:
        raise Http404("work order not found")
    return o


@router.get("/{pk}", response=OrderOut)
def order_detail(request: HttpRequest, pk: int) -> OrderOut:
    return order_out(_order(request, pk))


@router.get("/{pk}/history", response=list[EventOut])
def order_history(request: HttpRequest, pk: int) -> list[EventOut]:
    o = _order(request, pk)
    return [
        EventOut(
            at=e.at,
            actor=str(e.actor) if e.actor else None,
            from_status=e.from_status,
            to_status=e.to_status,
            note=e.note,
        )
        for e in o.events.select_related("actor")
    ]


@router.post("/{pk}/claim", response={200: ClaimOut, 409: ClaimOut})
def claim(request: HttpRequest, pk: int) -> Reply[ClaimOut]:
    o = selectors.order_for_claim(request.user, pk)
    if o is None:
        raise Http404("work order not found")
    try:
        result = services.work_order_claim(order_id=o.pk, actor=_user(request))
    except WorkOrderError as exc:
        raise HttpError(403, str(exc)) from exc
    out = ClaimOut(won=result.won, holder=str(result.holder) if result.holder else None, order=order_out(result.order))
    mine = result.won or (result.holder is not None and result.holder.pk == request.user.pk)
    return Reply(200 if mine else 409, out)


@router.post("/{pk}/{action}", response=OrderOut)
def act(request: HttpRequest, pk: int, action: str, payload: ActionIn) -> OrderOut:
    if action not in {"start", "done", "release", "cancel"}:
        raise Http404("unknown action")
    o = _order(request, pk)
    user = _user(request)
    manage = selectors.can_manage_order(user, o)
    if (action == "cancel" and not manage) or (o.assignee_id != user.pk and not manage):
        raise HttpError(403, "这张工单不是您的 / this order is not yours")
    try:
        o = services.work_order_transition(order_id=o.pk, actor=user, action=action, note=payload.note)
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    return order_out(o)
