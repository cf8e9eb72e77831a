"""Reads for supplies, always scoped: committee roles see their community, grid and building
leaders their buildings, volunteers only the lists and routes assigned to them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.permissions import active_user, building_q, community_q, is_leader, is_volunteer
from fangzhou.registry.addressing import building_label
from fangzhou.registry.models import Building, Community
from fangzhou.registry.roster.normalize import room_stair_key
from fangzhou.supplies.models import (
    Delivery,
    DeliveryAssignment,
    DeliveryLine,
    DeliveryStatus,
    Distribution,
    RouteLeg,
    RoutePlan,
)
from fangzhou.volunteers.models import ShiftAssignment
from fangzhou.volunteers.selectors import gate_text, health_of_users

AnyUser = User | AnonymousUser


def _volunteer(user: AnyUser) -> User | None:
    if is_volunteer(user):
        return user
    return None


def distributions_visible(user: AnyUser) -> QuerySet[Distribution]:
    condition = Q(community__in=Community.objects.filter(community_q(user)).values("pk"))
    volunteer = _volunteer(user)
    if volunteer is not None:
        condition = Q(pk__in=DeliveryAssignment.objects.filter(volunteer=volunteer).values("distribution_id"))
    return Distribution.objects.filter(condition)


def distribution_get(user: AnyUser, distribution_id: int) -> Distribution | None:
    return distributions_visible(user).select_related("community").filter(pk=distribution_id).first()


def buildings_in(user: AnyUser, distribution: Distribution) -> QuerySet[Building]:
    """The buildings of a distribution the user may see and work on."""
    volunteer = _volunteer(user)
    if volunteer is not None:
        condition = Q(pk__in=distribution.assignments.filter(volunteer=volunteer).values("building_id"))
    else:
        condition = building_q(user)
    return Building.objects.filter(condition, community_id=distribution.community_id)


@dataclass
class BuildingProgress:
    id: int
    label: str
    compound: str
    total: int
    delivered: int
    left_at_door: int
    pending: int
    volunteer: str = ""
    x: float | None = None
    y: float | None = None
    width: float = 24
    depth: float = 12
    number: str = ""

    @property
    def full_label(self) -> str:
        return building_label(self.compound, self.number)

    @property
    def done(self) -> int:
        return self.delivered + self.left_at_door

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


@dataclass
class Progress:
    distribution: Distribution
    buildings: list[BuildingProgress] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(b.total for b in self.buildings)

    @property
    def done(self) -> int:
        return sum(b.done for b in self.buildings)

    @property
    def pending(self) -> int:
        return sum(b.pending for b in self.buildings)

    @property
    def all_delivered(self) -> bool:
        return self.total > 0 and self.pending == 0


def distribution_progress(user: AnyUser, distribution: Distribution) -> Progress:
    """Doors per building and how many are done, in three queries whatever the size."""
    buildings = list(
        buildings_in(user, distribution).select_related("compound").order_by("compound_id", "sort_key", "number")
    )
    ids = [b.pk for b in buildings]
    counts = {
        row["building_id"]: row
        for row in Delivery.objects.filter(distribution=distribution, building_id__in=ids)
        .values("building_id")
        .annotate(
            total=Count("id"),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            left=Count("id", filter=Q(status=DeliveryStatus.LEFT_AT_DOOR)),
        )
    }
    assigned = {
        a.building_id: str(a.volunteer)
        for a in DeliveryAssignment.objects.filter(distribution=distribution, building_id__in=ids).select_related(
            "volunteer"
        )
    }
    progress = Progress(distribution)
    for b in buildings:
        row: dict[str, Any] = dict(counts.get(b.pk, {}))
        total = int(row.get("total", 0))
        if not total:
            continue
        delivered, left = int(row.get("delivered", 0)), int(row.get("left", 0))
        progress.buildings.append(
            BuildingProgress(
                id=b.pk,
                label=b.label,
                compound=b.compound.name,
                number=b.number,
                total=total,
                delivered=delivered,
                left_at_door=left,
                pending=total - delivered - left,
                volunteer=assigned.get(b.pk, ""),
                x=b.x,
                y=b.y,
                width=b.width,
                depth=b.depth,
            )
        )
    for line in (
        DeliveryLine.objects.filter(delivery__distribution=distribution, delivery__building_id__in=ids)
        .values("item")
        .annotate(n=Sum("quantity"))
        .order_by("item")
    ):
        progress.items[line["item"]] = int(line["n"])
    return progress


def building_get(user: AnyUser, distribution: Distribution, building_id: int) -> Building | None:
    return buildings_in(user, distribution).select_related("compound", "community").filter(pk=building_id).first()


def building_deliveries(distribution: Distribution, building: Building) -> list[Delivery]:
    """The door list of one building in stair order (floor by floor, doors in order on each floor),
    with the items (two queries)."""
    deliveries = (
        Delivery.objects.filter(distribution=distribution, building=building)
        .select_related("household")
        .prefetch_related(Prefetch("lines", queryset=DeliveryLine.objects.order_by("item")))
    )
    return sorted(deliveries, key=lambda d: room_stair_key(d.household.room))


def building_totals(deliveries: list[Delivery]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for delivery in deliveries:
        for line in delivery.lines.all():
            totals[line.item] = totals.get(line.item, 0) + line.quantity
    return dict(sorted(totals.items()))


def delivery_get(user: AnyUser, delivery_id: int) -> Delivery | None:
    """A delivery the user may mark (scoped through its building and distribution)."""
    delivery = Delivery.objects.select_related("distribution", "building", "household").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    if distribution_get(user, delivery.distribution_id) is None:
        return None
    if not buildings_in(user, delivery.distribution).filter(pk=delivery.building_id).exists():
        return None
    return delivery


def route_plans_visible(user: AnyUser) -> QuerySet[RoutePlan]:
    volunteer = _volunteer(user)
    if volunteer is not None:
        return RoutePlan.objects.filter(pk__in=RouteLeg.objects.filter(volunteer=volunteer).values("plan_id"))
    active = active_user(user)
    if active is None or is_leader(active):
        # Route plans cover many buildings: committee roles and officers only.
        return RoutePlan.objects.none()
    return RoutePlan.objects.filter(community__in=Community.objects.filter(community_q(user)).values("pk"))


def route_plan_get(user: AnyUser, plan_id: int) -> RoutePlan | None:
    return route_plans_visible(user).select_related("community", "distribution").filter(pk=plan_id).first()


@dataclass
class StopGroup:
    """One building on a trip and its doors, in the order they are walked (stair order)."""

    building: str
    rooms: list[str]


def leg_stop_groups(stops: list[dict[str, Any]]) -> list[StopGroup]:
    """A trip's stops as consecutive runs per building: "1号楼 101 → 102 → 201"."""
    groups: list[StopGroup] = []
    last: object = None
    for stop in stops:
        if "room" in stop:
            building, room = str(stop.get("building", "")), str(stop["room"])
        else:  # planned before the stops carried building and room apart: "1号楼 101室"
            building, _, room = str(stop.get("label", "")).rpartition(" ")
            room = room.removesuffix("室")
        if stop.get("building_id") != last or not groups:
            groups.append(StopGroup(building, []))
            last = stop.get("building_id")
        groups[-1].rooms.append(room)
    return groups


def route_legs(user: AnyUser, plan: RoutePlan) -> list[RouteLeg]:
    legs = RouteLeg.objects.filter(plan=plan).select_related("volunteer").order_by("index")
    volunteer = _volunteer(user)
    if volunteer is not None:
        legs = legs.filter(volunteer=volunteer)
    found = list(legs)
    for leg in found:
        leg.groups = leg_stop_groups(leg.stops)  # type: ignore[attr-defined]
    return found


@dataclass
class MyWork:
    assignments: list[DeliveryAssignment]
    legs: list[RouteLeg]


def my_work(user: AnyUser) -> MyWork:
    """A volunteer's delivery lists and route trips, newest first."""
    volunteer = _volunteer(user)
    if volunteer is None:
        return MyWork([], [])
    return MyWork(
        assignments=list(
            DeliveryAssignment.objects.filter(volunteer=volunteer, distribution__closed_at__isnull=True)
            .select_related("distribution", "building__compound")
            .order_by("-distribution__on", "building__sort_key")
        ),
        legs=list(
            RouteLeg.objects.filter(volunteer=volunteer)
            .select_related("plan")
            .order_by("-plan__created_at", "index")[:20]
        ),
    )


def volunteers_of(community: Community, *, at: dt.datetime | None = None) -> list[User]:
    """The community's volunteer accounts for the pickers: those on a duty shift right now first
    (``on_shift``), those who may not go to doors now last, each with ``may_serve`` and ``why``
    (the health gate's reasons in the reader's language)."""
    now = at or timezone.now()
    on_shift = set(
        ShiftAssignment.objects.filter(
            shift__community=community, shift__starts_at__lte=now, shift__ends_at__gt=now
        ).values_list("volunteer__user_id", flat=True)
    )
    users = list(User.objects.filter(community=community, role=Role.VOLUNTEER, is_active=True).order_by("username"))
    health = health_of_users((u.pk for u in users), at=at)
    for user in users:
        gate = health.get(user.pk)
        user.on_shift = user.pk in on_shift  # type: ignore[attr-defined]
        user.may_serve = gate is None or gate.ok  # type: ignore[attr-defined]
        user.why = gate_text(gate) if gate is not None and not gate.ok else ""  # type: ignore[attr-defined]
    return sorted(users, key=lambda u: (not u.may_serve, not u.on_shift, u.username))  # type: ignore[attr-defined]
