"""Reads for the work-order queue, scoped: the committee sees its community, a building leader their
buildings, a group lead their groups' orders, a volunteer their own orders and the open ones of their groups."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import (
    LEADERS,
    NOTHING,
    active_user,
    building_q,
    can_manage_community,
    community_q,
    is_committee,
)
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.workorders import rules
from fangzhou.workorders.hooks import GroupKey, door_work_checks_run, membership_of
from fangzhou.workorders.models import Kind, Priority, RequestKind, ResidentRequest, Status, WorkOrder

ACTIVE = [Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS]


def _groups_q(keys: frozenset[GroupKey] | set[GroupKey]) -> Q:
    q = NOTHING
    for community_id, code in sorted(keys):
        q |= Q(community_id=community_id, group=code)
    return q


def orders_q(user: User | AnonymousUser) -> Q:
    active = active_user(user)
    if active is None:
        return NOTHING
    if is_committee(active):
        return Q(community__in=Community.objects.filter(community_q(active)).values("pk"))
    q = Q(assignee=active)
    if active.role in LEADERS:
        q |= Q(building__in=Building.objects.filter(building_q(active)).values("pk"))
    groups = membership_of(active)
    for community_id, code in sorted(groups.led):
        q |= Q(community_id=community_id, group=code)
    for community_id, code in sorted(groups.member):
        q |= Q(community_id=community_id, group=code, status=Status.OPEN)
    return q


def orders_visible(user: User | AnonymousUser) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(orders_q(user)).select_related("building__compound", "household", "assignee")


def order_get(user: User | AnonymousUser, order_id: int) -> WorkOrder | None:
    return orders_visible(user).filter(pk=order_id).first()


def order_for_claim(user: User | AnonymousUser, order_id: int) -> WorkOrder | None:
    """An order the user may try to claim: visible now, or just taken in one of their groups (so
    that a claimer who lost the race is told who won rather than "not found"). The caller must not
    show such an order's content: reading it is still hidden (see the claim endpoint's 409)."""
    order = order_get(user, order_id)
    if order is not None:
        return order
    active = active_user(user)
    if active is None:
        return None
    q = _groups_q(membership_of(active).member)
    # taken by someone, or closed by itself because its cause ended (the claimer is told why)
    taken_or_ended = Q(status__in=[Status.CLAIMED, Status.IN_PROGRESS]) | ~Q(close_reason="")
    return (
        WorkOrder.objects.filter(q, taken_or_ended, pk=order_id)
        .select_related("building__compound", "household", "assignee")
        .first()
    )


def can_manage_order(user: User | AnonymousUser, order: WorkOrder) -> bool:
    """Cancel, reassign, close others' orders: the committee of its community and its group's lead."""
    active = active_user(user)
    if active is None:
        return False
    if can_manage_community(active, order.community_id):
        return True
    return (order.community_id, order.group) in membership_of(active).led


def door_work_refusal(user: User) -> Refused | None:
    """Why ``user`` may not claim door-to-door work now (the checks the apps above registered: the
    volunteers' health gate), or None. Asked once for a work list, so the page says it at the top
    instead of after each tap; the claim itself asks again inside its transaction."""
    try:
        door_work_checks_run(user)
    except Refused as exc:
        return exc
    return None


ACTIVE_STATUSES = frozenset({Status.OPEN, Status.CLAIMED, Status.IN_PROGRESS})


def _door_key(order: WorkOrder) -> rules.DoorKey | None:
    return rules.door_key(
        kind=order.kind,
        household_id=order.household_id,
        status=order.status,
        assignee_id=order.assignee_id,
        due_day=order.due_day,
    )


def door_tasks(orders: Iterable[WorkOrder]) -> list[WorkOrder]:
    """One task per door: the orders of one household and purpose (the re-tests of three members)
    become one card, led by the most urgent of them (the list is sorted by urgency), with every
    order of the door in ``door_members`` (the lead first). An order of its own has itself only."""
    leads: list[WorkOrder] = []
    for group in rules.group_by_door(orders, _door_key):
        lead = group[0]
        lead.door_members = group  # type: ignore[attr-defined]
        leads.append(lead)
    return leads


def door_members(order: WorkOrder) -> list[WorkOrder]:
    """The orders that make one door task with ``order`` (itself first), read again after a tap."""
    household_id = order.household_id
    if household_id is None or _door_key(order) is None or order.status not in ACTIVE_STATUSES:
        return [order]
    others = (
        WorkOrder.objects.filter(
            order.same_due_day(),
            community_id=order.community_id,
            household_id=household_id,
            kind=order.kind,
            group=order.group,
            status__in=[Status.OPEN] if order.status == Status.OPEN else [Status.CLAIMED, Status.IN_PROGRESS],
            assignee_id=order.assignee_id,
        )
        .exclude(pk=order.pk)
        .select_related("resident")
        .order_by("priority", "due_at", "id")
    )
    return [order, *others]


def my_orders(user: User) -> list[WorkOrder]:
    """The user's orders, one task per door (:func:`door_tasks`)."""
    return door_tasks(
        WorkOrder.objects.filter(assignee=user, status__in=[Status.CLAIMED, Status.IN_PROGRESS])
        .select_related("building__compound", "household", "resident")
        .order_by("priority", "due_at", "id")
    )


def closed_for_me(user: User, *, hours: int = 24) -> list[WorkOrder]:
    """The user's orders that closed themselves lately (their cause ended): shown with the reason, so
    that a volunteer whose order vanished from the list knows not to go."""
    since = timezone.now() - dt.timedelta(hours=hours)
    return list(
        WorkOrder.objects.filter(assignee=user, closed_at__gte=since)
        .exclude(close_reason="")
        .select_related("building__compound", "household")
        .order_by("-closed_at", "-id")[:20]
    )


def open_orders_near(user: User, *, limit: int = 30) -> list[WorkOrder]:
    """Open orders of the user's groups due by the end of tomorrow: emergencies first, then nearest
    to the volunteer's building; one task per door (:func:`door_tasks`), ``limit`` doors."""
    groups = membership_of(user)
    pairs = groups.member | groups.led
    if not pairs:
        return []
    q = _groups_q(pairs)
    # A visit planned for a later day (a close contact's test on day 5) waits for its day: today's
    # list holds what is due by the end of tomorrow, or has no due time.
    later = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    orders = list(
        WorkOrder.objects.filter(q, status=Status.OPEN)
        .exclude(due_at__gte=later)
        .select_related("building__compound", "household", "resident")[:500]
    )
    home = groups.home
    for o in orders:
        o.distance_m = rules.distance(home, (o.building.x, o.building.y) if o.building else (None, None))  # type: ignore[attr-defined]
        o.distance_shown = rules.distance_shown(o.distance_m)  # type: ignore[attr-defined]
    orders.sort(key=lambda o: (o.priority, o.distance_m, o.due_at or timezone.now(), o.pk))  # type: ignore[attr-defined]
    for o in orders:  # sorted last when the place is unknown; shown with no distance, never "inf m"
        if not math.isfinite(o.distance_m):  # type: ignore[attr-defined]
            o.distance_m = None  # type: ignore[attr-defined]
    return door_tasks(orders)[:limit]


def escalated_to_lead(user: User) -> list[WorkOrder]:
    pairs = membership_of(user).led
    if not pairs:
        return []
    q = _groups_q(pairs)
    return list(
        WorkOrder.objects.filter(q, status__in=ACTIVE, escalation_level__gte=1).select_related("building", "assignee")
    )


@dataclass
class Board:
    community: Community
    open_total: int = 0
    by_kind: list[dict[str, object]] = field(default_factory=list)
    by_priority: list[dict[str, object]] = field(default_factory=list)
    by_age: list[tuple[str, int]] = field(default_factory=list)
    overdue: list[WorkOrder] = field(default_factory=list)
    escalated: list[WorkOrder] = field(default_factory=list)
    overloaded: list[dict[str, object]] = field(default_factory=list)
    oldest: list[WorkOrder] = field(default_factory=list)
    done_today: int = 0


AGE_BUCKETS = ((dt.timedelta(hours=2), "< 2 h"), (dt.timedelta(hours=12), "2–12 h"), (dt.timedelta(days=1), "12–24 h"))
# The "waiting at least" choices of the open list's filter, in hours.
OLDER_THAN_HOURS = (2, 12, 24, 48)


@dataclass(frozen=True)
class OpenFilter:
    """The filter of the board's open list: building, kind, waiting at least so many hours."""

    building_id: int | None = None
    kind: str = ""
    older_than_hours: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.building_id or self.kind or self.older_than_hours)


def board(community: Community, open_filter: OpenFilter | None = None) -> Board:
    """The committee's view: open orders by kind, priority and age; overdue; who is overloaded.

    Every count comes from one grouped read (by kind, priority, status and assignee, with the age
    buckets as filtered counts); the three lists are one query each."""
    now = timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    active = WorkOrder.objects.filter(community=community, status__in=ACTIVE)
    out = Board(community=community)
    younger = {name: Count("id", filter=Q(created_at__gt=now - limit)) for limit, name in AGE_BUCKETS}
    by_kind: Counter[str] = Counter()
    by_priority: Counter[int] = Counter()
    by_assignee: Counter[tuple[int, str]] = Counter()
    ages: Counter[str] = Counter()
    rows: Any = (
        WorkOrder.objects.filter(community=community)
        .filter(Q(status__in=ACTIVE) | Q(status=Status.DONE, closed_at__gte=start))
        .values("kind", "priority", "status", "assignee", "assignee__display_name", "assignee__username")
        .annotate(n=Count("id"), **{f"young{i}": c for i, c in enumerate(younger.values())})
        .order_by()
    )
    for row in rows:
        n = row["n"]
        if row["status"] not in ACTIVE:
            out.done_today += n
            continue
        out.open_total += n
        by_priority[row["priority"]] += n
        if row["status"] == Status.OPEN:
            by_kind[row["kind"]] += n
        if row["assignee"] is not None:
            by_assignee[(row["assignee"], row["assignee__display_name"] or row["assignee__username"])] += n
        # An order younger than a bucket's limit is counted by that bucket's filter and every later one.
        older = 0
        for i, (_limit, name) in enumerate(AGE_BUCKETS):
            ages[name] += row[f"young{i}"] - older
            older = row[f"young{i}"]
        ages["> 24 h"] += n - older
    kinds = dict(Kind.choices)
    out.by_kind = [
        {"kind": kind, "label": kinds.get(kind, kind), "open": n}
        for kind, n in sorted(by_kind.items(), key=lambda item: (-item[1], item[0]))
    ]
    priorities = dict(Priority.choices)
    out.by_priority = [{"priority": p, "label": priorities[p], "open": by_priority[p]} for p in sorted(by_priority)]
    out.by_age = [(name, ages[name]) for _, name in AGE_BUCKETS] + [("> 24 h", ages["> 24 h"])]
    related = ("building__compound", "assignee")
    out.overdue = list(active.filter(due_at__lt=now).select_related(*related).order_by("priority", "due_at")[:50])
    out.escalated = list(active.filter(escalation_level__gte=2).select_related(*related).order_by("due_at")[:50])
    waiting = active.filter(status=Status.OPEN)
    f = open_filter or OpenFilter()
    if f.building_id is not None:
        waiting = waiting.filter(building_id=f.building_id)
    if f.kind:
        waiting = waiting.filter(kind=f.kind)
    if f.older_than_hours:
        waiting = waiting.filter(created_at__lte=now - dt.timedelta(hours=f.older_than_hours))
    out.oldest = list(waiting.select_related(*related).order_by("priority", "created_at")[: 100 if f.active else 30])
    limit = settings.FANGZHOU_OVERLOAD_ORDERS
    out.overloaded = [
        {"user_id": user_id, "name": name, "n": n}
        for (user_id, name), n in sorted(by_assignee.items(), key=lambda item: (-item[1], item[0][0]))
        if n >= limit
    ]
    return out


# --- residents' requests --------------------------------------------------------------------


def requests_visible(user: User | AnonymousUser) -> QuerySet[ResidentRequest]:
    active = active_user(user)
    if active is None:
        return ResidentRequest.objects.none()
    if is_committee(active):
        q = Q(community__in=Community.objects.filter(community_q(active)).values("pk"))
    elif active.role in LEADERS:
        q = Q(building__in=Building.objects.filter(building_q(active)).values("pk"))
    else:
        return ResidentRequest.objects.none()
    return ResidentRequest.objects.filter(q).select_related("building__compound", "order__assignee")


def requests_typed_by(user: User, limit: int = 10) -> list[ResidentRequest]:
    """The requests this person typed lately (newest first), still in their scope."""
    return list(requests_visible(user).filter(recorded_by=user).select_related("order")[:limit])


@dataclass
class RequestBoard:
    open: list[ResidentRequest]
    by_kind: list[dict[str, object]]
    closed_by_day: list[tuple[dt.date, int]]
    closed_today: int


def request_board(user: User | AnonymousUser, community: Community, *, days: int = 7) -> RequestBoard:
    """Open requests oldest first, counts by kind, and the number closed on each of the last days."""
    qs = requests_visible(user).filter(community=community)
    open_qs = qs.filter(order__status__in=ACTIVE)
    labels = dict(RequestKind.choices)
    by_kind = [
        {"kind": r["kind"], "label": labels.get(r["kind"], r["kind"]), "open": r["n"]}
        for r in open_qs.values("kind").annotate(n=Count("id")).order_by("-n")
    ]
    today = timezone.localdate()
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(0)))
    closed: Counter[dt.date] = Counter(
        timezone.localdate(at)
        for at in qs.filter(order__status=Status.DONE, order__closed_at__gte=since).values_list(
            "order__closed_at", flat=True
        )
        if at is not None
    )
    series = [(today - dt.timedelta(days=i), closed[today - dt.timedelta(days=i)]) for i in range(days)]
    return RequestBoard(
        open=list(open_qs.order_by("created_at")[:200]),
        by_kind=by_kind,
        closed_by_day=series,
        closed_today=closed[today],
    )


def request_public(building: Building, reference: str) -> ResidentRequest | None:
    """A request as its resident sees it: only with the building's token and the reference together."""
    reference = (reference or "").strip().upper()
    if not reference or len(reference) > 12:
        return None
    return (
        ResidentRequest.objects.filter(building=building, reference=reference).select_related("order__assignee").first()
    )


def holds_order_at_door(user: User, resident: Resident) -> bool:
    """The call permit of the queue (``registry.hooks``): a volunteer may dial a resident of a
    household whose order they hold (claimed or under way), never anyone else's."""
    return WorkOrder.objects.filter(
        Q(resident_id=resident.pk) | Q(household_id=resident.household_id),
        assignee_id=user.pk,
        status__in=[Status.CLAIMED, Status.IN_PROGRESS],
    ).exists()
