"""Reads for the registry, always scoped to what the user may see."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from fangzhou.accounts.hooks import BuildingChoice, CommunityChoice
from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import (
    TokenPlace,
    active_user,
    building_q,
    can_unmask,
    community_q,
    is_admin,
    is_officer,
    managed_community_q,
    places_community_q,
    read_community_q,
    token_community_q,
)
from fangzhou.registry.addressing import PlaceQuery, building_label, parse_place
from fangzhou.registry.hooks import call_permitted_by_hooks
from fangzhou.registry.models import Building, Community, Household, Resident, ResidentTransfer, TransferStatus
from fangzhou.registry.namekeys import pinyin_query
from fangzhou.registry.roster import normalize as nz


class Access(enum.Enum):
    """How much of a community a page needs: any of it, all of it to read, or all of it to change."""

    SEE = "see"  # at least something: a building leader's buildings, a grid leader's grids
    READ = "read"  # the whole community: the committee roles and the subdistrict officer
    MANAGE = "manage"  # change its data: its secretary and social workers, an administrator
    PLACES = "places"  # its places and zone status (SEE, and property management: no residents)


_ACCESS_Q = {
    Access.SEE: community_q,
    Access.READ: read_community_q,
    Access.MANAGE: managed_community_q,
    Access.PLACES: places_community_q,
}


def communities_for(user: User | AnonymousUser, need: Access = Access.SEE) -> QuerySet[Community]:
    """The communities in which the user has ``need`` access, in code order."""
    return Community.objects.filter(_ACCESS_Q[need](user)).distinct().select_related("subdistrict").order_by("code")


def communities_visible(user: User | AnonymousUser) -> QuerySet[Community]:
    return communities_for(user, Access.SEE)


def communities_read(user: User | AnonymousUser) -> QuerySet[Community]:
    """Communities the user reads whole (committee roles and the subdistrict officer)."""
    return communities_for(user, Access.READ)


def communities_managed(user: User | AnonymousUser) -> QuerySet[Community]:
    """Communities whose data the user may change (secretary, social workers, administrator)."""
    return communities_for(user, Access.MANAGE)


def community_visible_or_404(
    user: User | AnonymousUser, code: str, *, need: Access = Access.SEE, annotate: Mapping[str, Any] | None = None
) -> Community:
    """The one way a page or endpoint turns a community code into a community: the community with
    this code if the user has ``need`` access to it; otherwise 404 (never a hint that it exists).
    ``annotate`` adds what the page needs of the community to the same statement.
    The rest of the request shows times on the community's clock (:func:`community_time_zone_activate`)."""
    found = communities_for(user, need).filter(code=code)
    community = (found.annotate(**annotate) if annotate else found).first()
    if community is None:
        raise Http404(gettext("Community not found"))
    community_time_zone_activate(community)
    return community


def communities_of_token(token: TokenPlace) -> QuerySet[Community]:
    """The communities of an API key (its community, or every community of its subdistrict)."""
    return Community.objects.filter(token_community_q(token)).select_related("subdistrict")


TIME_ZONE_SESSION_KEY = "fz_time_zone"


def community_time_zone_activate(community: Community) -> None:
    """Times on this page are the community's (the request's time-zone middleware ends it)."""
    timezone.activate(community.tzinfo)


def user_time_zone(user: User | AnonymousUser) -> str:
    """The clock a signed-in person reads: their community's, else their subdistrict's first
    community's, else the server's ``TIME_ZONE``."""
    community_id = getattr(user, "community_id", None)
    if community_id is not None:
        return str(user.community.time_zone)  # type: ignore[union-attr]
    subdistrict_id = getattr(user, "subdistrict_id", None)
    if subdistrict_id is not None:
        first = (
            Community.objects.filter(subdistrict_id=subdistrict_id).order_by("code").values_list("time_zone", flat=True)
        ).first()
        if first:
            return first
    return str(settings.TIME_ZONE)


def buildings_visible(user: User | AnonymousUser) -> QuerySet[Building]:
    return Building.objects.filter(building_q(user))


def residents_visible(user: User | AnonymousUser) -> QuerySet[Resident]:
    return Resident.objects.filter(household__building__in=buildings_visible(user).values("pk"))


def building_get(user: User | AnonymousUser, building_id: int) -> Building | None:
    return buildings_visible(user).select_related("compound", "grid", "community").filter(pk=building_id).first()


def resident_to_call(user: User | AnonymousUser, resident_id: int) -> Resident | None:
    """The resident ``user`` may dial (the phone stays hidden): one whose phone they may reveal and
    who is in their scope, or one an app above permits (a volunteer's own order at that door, see
    ``hooks.call_permit_register``). None otherwise, so a page cannot tell "not yours" from "no one"."""
    active = active_user(user)
    if active is None:
        return None
    resident = Resident.objects.select_related("household__building").filter(pk=resident_id).first()
    if resident is None:
        return None
    if (
        can_unmask(active, resident.community_id, field="phone")
        and residents_visible(active).filter(pk=resident.pk).exists()
    ):
        return resident
    return resident if call_permitted_by_hooks(active, resident) else None


def resident_get(user: User | AnonymousUser, resident_id: int) -> Resident | None:
    return (
        residents_visible(user)
        .select_related("household__building__compound", "community")
        .filter(pk=resident_id)
        .first()
    )


@dataclass
class BuildingStat:
    id: int
    label: str
    compound: str
    compound_id: int
    grid: str
    x: float | None
    y: float | None
    width: float
    depth: float
    footprint: list[list[float]]
    households: int
    residents: int
    special: int
    number: str = ""

    @property
    def full_label(self) -> str:
        return building_label(self.compound, self.number)


@dataclass
class Overview:
    community: Community
    buildings: list[BuildingStat]
    compounds: list[dict[str, object]] = field(default_factory=list)
    grids: list[dict[str, object]] = field(default_factory=list)
    households: int = 0
    residents: int = 0
    special: int = 0


def _count_per_building(qs: QuerySet[Any], building_field: str, **filters: Any) -> Any:
    """A correlated count per building (0 when none), to annotate a building queryset with."""
    rows = qs.filter(**{building_field: OuterRef("pk")}, **filters).order_by().values(building_field)
    return Coalesce(Subquery(rows.annotate(c=Count("pk")).values("c")[:1]), 0)


def community_overview(user: User | AnonymousUser, community: Community) -> Overview:
    """Counts per building, compound and grid, in one query whatever the size of the community."""
    buildings = (
        buildings_visible(user)
        .filter(community=community)
        .select_related("compound", "grid")
        .annotate(
            n_households=_count_per_building(Household.objects.all(), "building_id"),
            n_residents=_count_per_building(Resident.objects.all(), "household__building_id"),
            n_special=_count_per_building(Resident.objects.exclude(special=""), "household__building_id"),
        )
        .order_by("compound_id", "sort_key", "number")
    )
    stats: list[BuildingStat] = []
    for b in buildings:
        stats.append(
            BuildingStat(
                id=b.pk,
                label=b.label,
                compound=b.compound.name,
                compound_id=b.compound_id,
                grid=b.grid.name if b.grid else "",
                x=b.x,
                y=b.y,
                width=b.width,
                depth=b.depth,
                footprint=b.footprint or [],
                households=b.n_households,
                residents=int(b.n_residents),
                special=int(b.n_special),
                number=b.number,
            )
        )
    overview = Overview(community=community, buildings=stats)
    by_compound: dict[str, dict[str, object]] = {}
    by_grid: dict[str, dict[str, object]] = {}
    for s in stats:
        for key, bucket in ((s.compound, by_compound), (s.grid or "—", by_grid)):
            entry = bucket.setdefault(key, {"name": key, "buildings": 0, "households": 0, "residents": 0})
            entry["buildings"] = int(entry["buildings"]) + 1  # type: ignore[call-overload]
            entry["households"] = int(entry["households"]) + s.households  # type: ignore[call-overload]
            entry["residents"] = int(entry["residents"]) + s.residents  # type: ignore[call-overload]
        overview.households += s.households
        overview.residents += s.residents
        overview.special += s.special
    overview.compounds = list(by_compound.values())
    overview.grids = sorted(by_grid.values(), key=lambda g: nz.label_order_key(str(g["name"])))
    return overview


def building_households(building: Building) -> list[Household]:
    return list(Household.objects.filter(building=building).prefetch_related("residents").order_by("room"))


_DIGITS = re.compile(r"^\d{3,11}$")


def _place_q(place: PlaceQuery) -> Q:
    """Residents of the building (and flat) a place query names, compound by name or short name."""
    condition = Q(household__building__number=place.building)
    if place.room:
        rooms = Q(household__room__in=place.rooms)
        if place.dashed:
            # "1-101" may also be unit 1, room 101 of a roster that writes units into the room.
            condition = (condition & rooms) | Q(household__room=f"{place.building}-{place.room}")
        else:
            condition &= rooms
    if place.compound:
        condition &= Q(household__building__compound__name__contains=place.compound) | Q(
            household__building__compound__short_name=place.compound
        )
    return condition


def resident_search(
    user: User | AnonymousUser, query: str, *, community: Community | None = None, limit: int = 50
) -> list[Resident]:
    """Search by name, by its pinyin or initials ("zhangsanfeng", "zhang", "zsf"), by place
    ("华新一村1号楼101", a compound's short name "一村1-101", "1号楼101", "1-101", "1-1-101"),
    by room ("1201") or by the last digits of a phone. One query; results in place order."""
    query = query.strip()[:80]
    if not query:
        return []
    qs = residents_visible(user).select_related("household__building__compound")
    if community is not None:
        qs = qs.filter(community=community)
    place = parse_place(query)
    letters = pinyin_query(query)
    if place is not None:
        qs = qs.filter(_place_q(place))
    elif _DIGITS.match(query):
        condition = Q(household__room=query)
        if len(query) >= 4:
            condition |= Q(phone__endswith=query)
        qs = qs.filter(condition)
    elif letters is not None:
        qs = qs.filter(search_key__contains=letters)
    else:
        qs = qs.filter(name__contains=query)
    return list(
        qs.order_by("household__building__compound_id", "household__building__sort_key", "household__room", "id")[
            :limit
        ]
    )


def residents_for_export(community: Community) -> list[Resident]:
    return list(
        # The buildings' community too: the planner then reads only this community's households.
        Resident.objects.filter(community=community, household__building__community=community)
        .select_related("household__building__compound", "household__building__grid")
        .order_by("household__building__compound_id", "household__building__sort_key", "household__room", "id")
    )


def buildings_by_token(token: str) -> QuerySet[Building]:
    """The building behind a public QR link as a query (empty for an unknown or revoked token), for
    callers that read more in the same statement."""
    if not token or len(token) < 16:
        return Building.objects.none()
    return Building.objects.select_related("compound", "community").filter(public_token=token)


def building_by_token(token: str) -> Building | None:
    """The building behind a public QR link, or None for an unknown or revoked token."""
    return buildings_by_token(token).first()


def transfers_pending(user: User | AnonymousUser) -> QuerySet[ResidentTransfer]:
    """Transfers waiting for this user's decision: the officer over the people's present communities."""
    if not is_officer(user) and not is_admin(user):
        return ResidentTransfer.objects.none()
    q = Q(from_community__subdistrict_id=user.subdistrict_id) if is_officer(user) else Q()
    return (
        ResidentTransfer.objects.filter(q, status=TransferStatus.PENDING)
        .select_related("resident", "from_community", "to_community")
        .order_by("requested_at", "pk")
    )


class AccountPlaces:
    """The registry's answers to the accounts pages (``accounts.hooks.Places``)."""

    def communities(self, q: Q) -> list[CommunityChoice]:
        rows = Community.objects.filter(q).order_by("code").values_list("pk", "code", "name", "subdistrict_id")
        return [CommunityChoice(pk, code, name, subdistrict_id) for pk, code, name, subdistrict_id in rows]

    def buildings(self, community_id: int) -> list[BuildingChoice]:
        return [
            BuildingChoice(b.pk, str(b), b.community_id)
            for b in Building.objects.filter(community_id=community_id).select_related("compound")
        ]
