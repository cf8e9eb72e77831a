"""Who may do what, and where a user may look: the one authorisation module.

Every query for places or people goes through the filters here, and every page, endpoint,
service and template asks the named predicates here."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest

from fangzhou.accounts.models import Role, User

NOTHING = Q(pk__in=[])
STAFF_ROLES = {Role.ADMIN, Role.SUBDISTRICT_OFFICER, Role.SECRETARY, Role.SOCIAL_WORKER}
COMMUNITY_WRITERS = {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER}
COMMITTEE = {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER, Role.SUBDISTRICT_OFFICER}
LEADERS = {Role.GRID_LEADER, Role.BUILDING_LEADER}


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a login check has already let through."""
    user = request.user
    assert isinstance(user, User)
    return user


def _active(user: User | AnonymousUser) -> User | None:
    if not isinstance(user, User) or not user.is_active:
        return None
    return user


def _scoped(user: User | AnonymousUser, prefix: str, fields: dict[str, str]) -> Q:
    """The one place where a role becomes a filter. ``fields`` names, for the model being
    filtered, the lookup that reaches the subdistrict, the community, the grids and the buildings."""
    active = _active(user)
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


def building_q(user: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Building (or on a model reaching a building through ``prefix``)."""
    return _scoped(user, prefix, _BUILDING_FIELDS)


def community_q(user: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Community: the communities in which the user sees at least something."""
    return _scoped(user, prefix, _COMMUNITY_FIELDS)


def can_write_roster(user: User | AnonymousUser, community_id: int) -> bool:
    active = _active(user)
    if active is None:
        return False
    if active.role == Role.ADMIN or active.is_superuser:
        return True
    return active.role in COMMUNITY_WRITERS and active.community_id == community_id
