"""Who may do what, and where a user may look: the one authorisation module.

Every query for places or people is filtered here (``building_q``, ``community_q``,
``managed_community_q``, ``read_community_q``), and every page, endpoint, service and template asks
the named predicates here (``can_manage_community``, ``can_see_building``, ``is_committee`` …).
Nothing else in the code decides from a role. The roles table is in docs/security.md and
docs/architecture.md.
"""

from __future__ import annotations

from typing import Protocol, TypeGuard

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest

from fangzhou.accounts.models import Role, User

AnyUser = User | AnonymousUser

NOTHING = Q(pk__in=[])
# Change a community's data (roster, rounds, volunteers, distributions, care, zones).
MANAGERS = frozenset({Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER})
# Read a whole community: the managers and the subdistrict officer above them.
COMMITTEE = MANAGERS | {Role.SUBDISTRICT_OFFICER}
LEADERS = frozenset({Role.GRID_LEADER, Role.BUILDING_LEADER})


class BuildingLike(Protocol):
    """What a building check needs to know of a building (the registry's ``Building``)."""

    pk: int | None
    community_id: int
    grid_id: int | None


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a login check has already let through."""
    user = request.user
    assert isinstance(user, User)
    return user


def active_user(user: AnyUser | None) -> User | None:
    """The user if signed in and active, else None: the first question of every predicate."""
    if not isinstance(user, User) or not user.is_active:
        return None
    return user


def is_admin(user: AnyUser | None) -> TypeGuard[User]:
    active = active_user(user)
    return active is not None and (active.is_superuser or active.role == Role.ADMIN)


def is_committee(user: AnyUser | None) -> TypeGuard[User]:
    """Sees whole communities: administrators, secretaries, social workers, subdistrict officers."""
    active = active_user(user)
    return active is not None and (active.is_superuser or active.role in COMMITTEE)


def is_manager(user: AnyUser | None) -> TypeGuard[User]:
    """Changes a community's data somewhere (its own community; an administrator anywhere)."""
    active = active_user(user)
    return active is not None and (active.is_superuser or active.role in MANAGERS)


def is_volunteer(user: AnyUser | None) -> TypeGuard[User]:
    active = active_user(user)
    return active is not None and active.role == Role.VOLUNTEER


def is_officer(user: AnyUser | None) -> TypeGuard[User]:
    """A subdistrict officer: reads counts across the subdistrict's communities, changes nothing."""
    active = active_user(user)
    return active is not None and active.role == Role.SUBDISTRICT_OFFICER


def is_leader(user: AnyUser | None) -> TypeGuard[User]:
    """A grid or building leader: works on their own buildings."""
    active = active_user(user)
    return active is not None and active.role in LEADERS


def can_manage_community(user: AnyUser | None, community_id: int) -> bool:
    """May change this community's data: its secretary and social workers, or an administrator."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    return active.role in MANAGERS and active.community_id == community_id


def can_decide_transfer(user: AnyUser | None, subdistrict_id: int) -> bool:
    """Moves a resident out of a community: the officer of that community's subdistrict (or an
    administrator). The receiving committee is never told where the person is registered."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    return active.role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id == subdistrict_id


def can_mark_deliveries(user: AnyUser | None) -> bool:
    """Officers of the subdistrict look; everyone else who sees a door list may mark its doors."""
    active = active_user(user)
    return active is not None and active.role != Role.SUBDISTRICT_OFFICER


def _scoped(user: AnyUser | None, prefix: str, fields: dict[str, str]) -> Q:
    """The one place where a role becomes a filter. ``fields`` names, for the model being
    filtered, the lookup that reaches the subdistrict, the community, the grids and the buildings."""
    active = active_user(user)
    if active is None:
        return NOTHING
    p = f"{prefix}__" if prefix else ""
    role = active.role
    if role == Role.ADMIN or active.is_superuser:
        return Q()
    if role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id:
        return Q(**{p + fields["subdistrict"]: active.subdistrict_id})
    if role in {Role.SECRETARY, Role.SOCIAL_WORKER} and active.community_id:
        return Q(**{p + fields["community"]: active.community_id})
    if role == Role.GRID_LEADER:
        return Q(**{p + fields["grids"]: active.grids.values("pk")})
    if role == Role.BUILDING_LEADER:
        return Q(**{p + fields["buildings"]: active.buildings.values("pk")})
    return NOTHING


_BUILDING_FIELDS = {
    "subdistrict": "community__subdistrict_id",
    "community": "community_id",
    "grids": "grid__in",
    "buildings": "pk__in",
}
_COMMUNITY_FIELDS = {
    "subdistrict": "subdistrict_id",
    "community": "pk",
    "grids": "grids__in",
    "buildings": "buildings__in",
}


def building_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Building (or on a model reaching a building through ``prefix``)."""
    return _scoped(user, prefix, _BUILDING_FIELDS)


def community_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Community: the communities in which the user sees at least something."""
    return _scoped(user, prefix, _COMMUNITY_FIELDS)


def read_community_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Community: the communities the user reads whole (the committee roles)."""
    return community_q(user, prefix) if is_committee(user) else NOTHING


def managed_community_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Community: the communities whose data the user may change."""
    return community_q(user, prefix) if is_manager(user) else NOTHING


def can_see_building(user: AnyUser | None, building: BuildingLike, *, subdistrict_id: int | None = None) -> bool:
    """The same answer as ``building_q`` for one building already in hand (no query for most roles).

    A subdistrict officer's answer needs the building's subdistrict: pass ``subdistrict_id``."""
    active = active_user(user)
    if active is None:
        return False
    role = active.role
    if role == Role.ADMIN or active.is_superuser:
        return True
    if role == Role.SUBDISTRICT_OFFICER:
        return bool(active.subdistrict_id) and active.subdistrict_id == subdistrict_id
    if role in {Role.SECRETARY, Role.SOCIAL_WORKER}:
        return bool(active.community_id) and active.community_id == building.community_id
    if role == Role.GRID_LEADER:
        return building.grid_id is not None and active.grids.filter(pk=building.grid_id).exists()
    if role == Role.BUILDING_LEADER:
        return building.pk is not None and active.buildings.filter(pk=building.pk).exists()
    return False
