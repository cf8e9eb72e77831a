"""Where a user may look. Every query for places or people goes through these filters."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from fangzhou.accounts.models import Role, User

NOTHING = Q(pk__in=[])
STAFF_ROLES = {Role.ADMIN, Role.SUBDISTRICT_OFFICER, Role.SECRETARY, Role.SOCIAL_WORKER}
COMMUNITY_WRITERS = {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER}


def _active(user: User | AnonymousUser) -> User | None:
    if not isinstance(user, User) or not user.is_active:
        return None
    return user


def building_q(user: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Building (or on a model reaching a building through ``prefix``)."""
    active = _active(user)
    if active is None:
        return NOTHING
    p = f"{prefix}__" if prefix else ""
    role = active.role
    if role == Role.ADMIN or active.is_superuser:
        return Q()
    if role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id:
        return Q(**{f"{p}community__subdistrict_id": active.subdistrict_id})
    if role in {Role.SECRETARY, Role.SOCIAL_WORKER} and active.community_id:
        return Q(**{f"{p}community_id": active.community_id})
    if role == Role.GRID_LEADER:
        return Q(**{f"{p}grid__in": active.grids.values("pk")})
    if role == Role.BUILDING_LEADER:
        return Q(**{f"{p}pk__in" if p else "pk__in": active.buildings.values("pk")})
    return NOTHING


def community_q(user: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Community: the communities in which the user sees at least something."""
    active = _active(user)
    if active is None:
        return NOTHING
    p = f"{prefix}__" if prefix else ""
    role = active.role
    if role == Role.ADMIN or active.is_superuser:
        return Q()
    if role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id:
        return Q(**{f"{p}subdistrict_id": active.subdistrict_id})
    if role in {Role.SECRETARY, Role.SOCIAL_WORKER} and active.community_id:
        return Q(**{f"{p}pk": active.community_id})
    if role == Role.GRID_LEADER:
        return Q(**{f"{p}grids__in": active.grids.values("pk")})
    if role == Role.BUILDING_LEADER:
        return Q(**{f"{p}buildings__in": active.buildings.values("pk")})
    return NOTHING


def can_write_roster(user: User | AnonymousUser, community_id: int) -> bool:
    active = _active(user)
    if active is None:
        return False
    if active.role == Role.ADMIN or active.is_superuser:
        return True
    return active.role in COMMUNITY_WRITERS and active.community_id == community_id
