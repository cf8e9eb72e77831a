"""Work-order and request endpoints: same services and selectors as the pages, same scope rules."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as Reply

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import acting_user, can_claim, is_committee
from fangzhou.lib.pagination import Rows, paginated
from fangzhou.lib.problems import Problem, problem_response
from fangzhou.lib.ratelimit import public_api_rate_limited
from fangzhou.registry.models import Building, Community, Household
from fangzhou.registry.selectors import building_by_token, communities_managed, communities_visible
from fangzhou.workorders import selectors, services
from fangzhou.workorders.models import CloseReason, Group, Kind, Priority, RequestSource, ResidentRequest, WorkOrder
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
    # Why the order closed itself (its cause ended): the code, and its text in the reader's language.
    close_reason: str = ""
    close_reason_text: str = ""
    # One door, one task: the other orders that the same knock serves (the same household and
    # purpose, the same state and holder: the re-tests of a household's other members), by id.
    # Filled where the API answers door tasks (``/nearby``, ``?mine=true&by_door=true``, one order's
    # detail); empty for an order that stands alone.
    door_orders: list[int] = []


class EventOut(Schema):
    at: dt.datetime
    actor: str | None
    from_status: str
    to_status: str
    note: str
    reason: str = ""
    reason_text: str = ""


class ClaimOut(Schema):
    won: bool
    holder: str | None
    order: OrderOut


class ClaimTaken(Problem):
    """409: someone else was quicker: who, and nothing of the order (which the loser may no longer read)."""

    won: bool
    holder: str | None


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
        close_reason=o.close_reason,
        close_reason_text=str(o.get_close_reason_display()) if o.close_reason else "",
        door_orders=[m.pk for m in getattr(o, "door_members", ())[1:]],
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
@paginated
def order_list(
    request: HttpRequest, status: str | None = None, mine: bool = False, by_door: bool = False
) -> Rows[OrderOut]:
    """The orders the caller may see, one item an order; with ``mine=true&by_door=true``, the
    caller's own queue as the phone shows it: one item a door, the door's other orders in
    ``door_orders``."""
    if by_door:
        if not mine or status:
            raise HttpError(
                400,
                "按门分组只用于自己手上的任务（mine=true），不能再按状态筛选 / "
                "by_door is for your own queue (mine=true) only, without a status filter",
            )
        return Rows(selectors.my_orders(acting_user(request)), order_out)
    qs = selectors.orders_visible(request.user)
    if status:
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(assignee_id=request.user.pk)
    return Rows(qs.order_by("priority", "due_at", "id"), order_out)


@router.get("/nearby", response=list[OrderOut])
@paginated
def nearby(request: HttpRequest) -> list[OrderOut]:
    return [order_out(o) for o in selectors.open_orders_near(acting_user(request))]


@router.get("/requests", response=list[RequestOut])
@paginated
def request_list(request: HttpRequest, open_only: bool = True) -> Rows[RequestOut]:
    qs = selectors.requests_visible(request.user)
    if open_only:
        qs = qs.filter(order__status__in=selectors.ACTIVE)
    return Rows(qs.order_by("created_at", "id"), _request_out)


@router.post("/requests", response=RequestOut)
def request_record(request: HttpRequest, payload: StaffRequestIn) -> RequestOut:
    if not is_committee(request.user):
        raise Http404("building not found")
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
            actor=acting_user(request),
        )
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    return _request_out(r)


@router.post("/requests/{pk}/escalate", response=RequestOut)
def request_escalate(request: HttpRequest, pk: int, payload: EscalateIn) -> RequestOut:
    r = selectors.requests_visible(request.user).filter(pk=pk).first()
    if r is None or not is_committee(request.user):
        raise Http404("request not found")
    return _request_out(services.resident_request_escalate(request=r, actor=acting_user(request), note=payload.note))


@router.post("/public/{token}/requests", response=RequestStatusOut, auth=None)
@public_api_rate_limited
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
@public_api_rate_limited
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


@router.get("/{int:pk}", response=OrderOut)
def order_detail(request: HttpRequest, pk: int) -> OrderOut:
    order = _order(request, pk)
    order.door_members = selectors.door_members(order)  # type: ignore[attr-defined]
    return order_out(order)


@router.get("/{int:pk}/history", response=list[EventOut])
@paginated
def order_history(request: HttpRequest, pk: int) -> list[EventOut]:
    o = _order(request, pk)
    return [
        EventOut(
            at=e.at,
            actor=str(e.actor) if e.actor else None,
            from_status=e.from_status,
            to_status=e.to_status,
            note=e.note,
            reason=e.reason,
            reason_text=str(e.get_reason_display()) if e.reason else "",
        )
        for e in o.events.select_related("actor")
    ]


@router.post("/{int:pk}/claim", response={200: ClaimOut, 409: ClaimTaken})
def claim(request: HttpRequest, pk: int) -> Reply[ClaimOut] | HttpResponse:
    o = selectors.order_for_claim(request.user, pk)
    if o is None:
        raise Http404("work order not found")
    if not can_claim(request.user):
        raise HttpError(403, "您的角色不能认领工单 / your role does not take work orders")
    try:
        result = services.work_order_claim(order_id=o.pk, actor=acting_user(request))
    except WorkOrderError as exc:
        raise HttpError(403, str(exc)) from exc
    holder = str(result.holder) if result.holder else None
    mine = result.won or (result.holder is not None and result.holder.pk == request.user.pk)
    if not mine and result.order.close_reason:
        reason = CloseReason(result.order.close_reason)
        with translation.override("zh-hans"):
            zh = f"无需上门：这张工单已自动关闭（{reason.label}）"
        with translation.override("en"):
            en = f"no need to go: this order closed itself ({reason.label})"
        return problem_response(409, zh=zh, en=en, type="urn:fangzhou:problem:conflict", won=False, holder=holder)
    if not mine:
        return problem_response(
            409,
            zh="这张工单已被他人认领",
            en="someone else has claimed this order",
            type="urn:fangzhou:problem:conflict",
            won=False,
            holder=holder,
        )
    return Reply(200, ClaimOut(won=result.won, holder=holder, order=order_out(result.order)))


@router.post("/{int:pk}/{action}", response=OrderOut)
def act(request: HttpRequest, pk: int, action: str, payload: ActionIn) -> OrderOut:
    if action not in {"start", "done", "release", "cancel"}:
        raise Http404("unknown action")
    o = _order(request, pk)
    user = acting_user(request)
    manage = selectors.can_manage_order(user, o)
    if (action == "cancel" and not manage) or (o.assignee_id != user.pk and not manage):
        raise HttpError(403, "这张工单不是您的 / this order is not yours")
    try:
        o = services.work_order_transition(order_id=o.pk, actor=user, action=action, note=payload.note)
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    return order_out(o)


# --- staff-made orders and the committee board ----------------------------------------------


class WorkOrderIn(Schema):
    """A job the committee makes by hand. ``client_id`` (the form's id) makes a retry return the same order."""

    kind: str
    title: str
    community: str | None = None
    detail: str = ""
    priority: int = Priority.NORMAL
    group: str = ""
    due_at: dt.datetime | None = None
    building_id: int | None = None
    household_id: int | None = None
    room: str = ""
    acute: bool = False
    client_id: str | None = None


class BoardCountOut(Schema):
    key: str
    label: str
    open: int


class OverloadedOut(Schema):
    user_id: int
    name: str
    orders: int


class BoardOut(Schema):
    community: str
    open_total: int
    done_today: int
    by_kind: list[BoardCountOut]
    by_priority: list[BoardCountOut]
    by_age: list[BoardCountOut]
    overdue: list[OrderOut]
    escalated: list[OrderOut]
    oldest_open: list[OrderOut]
    overloaded: list[OverloadedOut]


def creatable_communities(user: User | AnonymousUser) -> QuerySet[Community]:
    """Where the user may make orders by hand: the committee roles (secretary, social worker,
    administrator) in their own scope — the same set that manages volunteers and the roster."""
    return communities_managed(user)


def work_order_make(*, payload: WorkOrderIn, community: Community, actor: User) -> WorkOrder:
    """Check a hand-made order (every place inside ``community``) and create it through the one service.

    Shared by the endpoint and the board's form; raises ``WorkOrderError`` with Chinese and English."""
    title = payload.title.strip()
    if not title:
        raise WorkOrderError("请填写标题", "enter a title")
    if len(title) > 200:
        raise WorkOrderError("标题最多 200 字", "the title is longer than 200 characters")
    if len(payload.detail) > 4000:
        raise WorkOrderError("说明最多 4000 字", "the details are longer than 4000 characters")
    if payload.kind not in Kind.values:
        raise WorkOrderError("请选择工单类型", "choose the kind of job")
    if payload.priority not in Priority.values:
        raise WorkOrderError("优先级无效", "the priority is not valid")
    if payload.group and payload.group not in Group.values:
        raise WorkOrderError("请选择工作组", "choose a work group")
    due_at = payload.due_at
    if due_at is not None:
        if timezone.is_naive(due_at):
            due_at = timezone.make_aware(due_at)
        if due_at < timezone.now() - dt.timedelta(minutes=5):
            raise WorkOrderError("截止时间不能早于现在", "the due time cannot be in the past")
    building = None
    if payload.building_id is not None:
        building = Building.objects.filter(pk=payload.building_id, community=community).first()
        if building is None:
            raise WorkOrderError("楼栋不属于本居民区", "the building is not in this community")
    household = None
    if payload.household_id is not None:
        household = Household.objects.filter(pk=payload.household_id, building__community=community).first()
        if household is None or (building is not None and household.building_id != building.pk):
            raise WorkOrderError("该户不在所选楼栋", "the household is not in the chosen building")
    elif payload.room.strip():
        if building is None:
            raise WorkOrderError("填写房号前请选择楼栋", "choose a building before the room")
        room = payload.room.strip()
        household = Household.objects.filter(building=building, room=room).first()
        if household is None:
            raise WorkOrderError(f"{building.label} 没有 {room} 室", f"there is no room {room} in {building.label}")
    client_id = (payload.client_id or "").strip()
    if client_id and not 8 <= len(client_id) <= 64:
        raise WorkOrderError("表单已过期，请刷新页面重试", "the form has expired; reload the page and try again")
    order, _created = services.work_order_create(
        community=community,
        kind=payload.kind,
        title=title,
        detail=payload.detail.strip(),
        priority=payload.priority,
        group=payload.group,
        due_at=due_at,
        building=building,
        household=household,
        acute=payload.acute,
        actor=actor,
        source_key=f"manual:{client_id}" if client_id else None,
    )
    return order


@router.post("/", response={201: OrderOut})
def order_create(request: HttpRequest, payload: WorkOrderIn) -> Reply[OrderOut]:
    """Committee: make a work order by hand (``community`` defaults to the user's own)."""
    user = acting_user(request)
    allowed = creatable_communities(user)
    if not allowed.exists():
        raise HttpError(403, "只有居委会可以新建工单 / only the committee makes work orders by hand")
    code = payload.community
    if code:
        community = allowed.filter(code=code).first()
        if community is None:
            raise Http404("community not found")
    else:
        own = allowed.filter(pk=user.community_id).first() if user.community_id else None
        community = own or (allowed.first() if allowed.count() == 1 else None)
        if community is None:
            raise HttpError(400, "请指明居民区 / say which community (community code)")
    try:
        order = work_order_make(payload=payload, community=community, actor=user)
    except WorkOrderError as exc:
        raise HttpError(400, str(exc)) from exc
    found = selectors.order_get(user, order.pk)
    assert found is not None
    return Reply(201, order_out(found))


def _count(key: object, label: object, n: object) -> BoardCountOut:
    return BoardCountOut(key=str(key), label=str(label), open=cast(int, n))


@router.get("/board/{code}", response=BoardOut)
def board(request: HttpRequest, code: str) -> BoardOut:
    """The committee's board: open orders by kind, priority and age; overdue; escalated; who is overloaded."""
    if not is_committee(request.user):
        raise HttpError(403, "只有居委会能看工单总览 / only the committee sees the board")
    community = communities_visible(request.user).filter(code=code).first()
    if community is None:
        raise Http404("community not found")
    b = selectors.board(community)
    return BoardOut(
        community=community.code,
        open_total=b.open_total,
        done_today=b.done_today,
        by_kind=[_count(k["kind"], k["label"], k["open"]) for k in b.by_kind],
        by_priority=[_count(p["priority"], p["label"], p["open"]) for p in b.by_priority],
        by_age=[_count(name, name, n) for name, n in b.by_age],
        overdue=[order_out(o) for o in b.overdue],
        escalated=[order_out(o) for o in b.escalated],
        oldest_open=[order_out(o) for o in b.oldest],
        overloaded=[
            OverloadedOut(user_id=cast(int, u["user_id"]), name=str(u["name"]), orders=cast(int, u["n"]))
            for u in b.overloaded
        ],
    )
