"""Who may do what, and where a user may look: the one authorisation module.

Every query for places or people is filtered here (``building_q``, ``community_q``,
``managed_community_q``, ``read_community_q``), and every page, endpoint, service and template asks
the named predicates here (``can_manage_community``, ``can_see_building``, ``is_committee`` …).
Nothing else in the code decides from a role. The roles table is in docs/security.md and
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable
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


# The actions of the roles table (docs/security.md). Each is asked of one record's community.
UNMASKABLE = ("id_number", "phone")


def can_unmask(user: AnyUser | None, community_id: int, *, field: str) -> bool:
    """May reveal one resident's full ``id_number`` or ``phone`` (the resident is already in scope).

    The committee of the community reveals both; grid and building leaders reveal a phone (they
    call the households that have not reported), never an ID number. The subdistrict officer,
    whose job is counts, reveals nothing; nor do volunteers. Every reveal is audited by the caller."""
    active = active_user(user)
    if active is None or field not in UNMASKABLE:
        return False
    if can_manage_community(active, community_id):
        return True
    return field == "phone" and active.role in LEADERS and active.community_id == community_id


def unmask_fields(user: AnyUser | None, community_id: int) -> tuple[str, ...]:
    """The fields of a resident in this community that the user may reveal (possibly none)."""
    return tuple(f for f in UNMASKABLE if can_unmask(user, community_id, field=f))


def can_export(user: AnyUser | None, community_id: int) -> bool:
    """May download a file with full personal data (the roster): the community's committee only."""
    return can_manage_community(user, community_id)


def can_close_tube(user: AnyUser | None, community_id: int, *, opened_by_id: int | None) -> bool:
    """May close an open tube before it is full: the committee of its community, or the person
    filling it (who opened it at their desk or door). A leader may not close others' tubes."""
    active = active_user(user)
    if active is None:
        return False
    if can_manage_community(active, community_id):
        return True
    return opened_by_id is not None and opened_by_id == active.pk and active.role != Role.SUBDISTRICT_OFFICER


def can_claim(user: AnyUser | None) -> bool:
    """May take a work order (the order itself must be visible to them): everyone who works in a
    community. The subdistrict officer reads the queue and takes nothing."""
    active = active_user(user)
    return active is not None and active.role != Role.SUBDISTRICT_OFFICER


def can_see_phone(user: AnyUser | None, community_id: int, *, owner_id: int | None = None) -> bool:
    """May reveal a volunteer's full phone: the volunteer themself, or the committee of the
    community (and then the reveal writes an audit row). Lists always show it masked."""
    active = active_user(user)
    if active is None:
        return False
    if owner_id is not None and owner_id == active.pk:
        return True
    return can_manage_community(active, community_id)


def can_read_counts(user: AnyUser | None) -> bool:
    """May read the daily report and the subdistrict table (counts only, no personal data)."""
    return is_committee(user)


# Accounts a community's committee may give a one-time sign-in / reset link to.
RESETTABLE = frozenset({Role.SECRETARY, Role.SOCIAL_WORKER, Role.GRID_LEADER, Role.BUILDING_LEADER, Role.VOLUNTEER})


def can_reset_password(user: AnyUser | None, target: User) -> bool:
    """May make a one-time sign-in link for ``target``: the committee of the target's community
    for its staff and volunteers (an administrator for anyone but an administrator); never for
    oneself (that is the password change page), nor for an officer or an administrator."""
    active = active_user(user)
    if active is None or target.pk == active.pk or target.is_superuser or target.role not in RESETTABLE:
        return False
    return target.community_id is not None and can_manage_community(active, target.community_id)


# Machine clients' API keys. A key of a community is made by that community's committee; a key of
# a subdistrict (every community in it) by the subdistrict officer, who reads counts and changes
# nothing, so only for reading the report; an administrator makes either with any scope.
OFFICER_SCOPES = frozenset({"reports:read"})


def can_manage_tokens(
    user: AnyUser | None, *, community_id: int | None, subdistrict_id: int | None, scopes: Iterable[str] = ()
) -> bool:
    """May make (with ``scopes``) or revoke an API key of this community or this subdistrict."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    if community_id is not None:
        return active.role in MANAGERS and active.community_id == community_id
    return (
        subdistrict_id is not None
        and active.role == Role.SUBDISTRICT_OFFICER
        and active.subdistrict_id == subdistrict_id
        and set(scopes) <= OFFICER_SCOPES
    )


def tokens_managed_q(user: AnyUser | None) -> Q:
    """A filter on ApiToken: the keys the user sees on the keys page and may revoke."""
    active = active_user(user)
    if active is None:
        return NOTHING
    if active.is_superuser or active.role == Role.ADMIN:
        return Q()
    if active.role in MANAGERS and active.community_id:
        return Q(community_id=active.community_id)
    if active.role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id:
        return Q(subdistrict_id=active.subdistrict_id)
    return NOTHING


class TokenPlace(Protocol):
    """Where an API key belongs (the accounts ``ApiToken``): one community, or one subdistrict."""

    community_id: int | None
    subdistrict_id: int | None


def token_community_q(token: TokenPlace, prefix: str = "") -> Q:
    """A filter on Community (or a model reaching it through ``prefix``): the key's communities."""
    p = f"{prefix}__" if prefix else ""
    if token.community_id is not None:
        return Q(**{p + "pk": token.community_id})
    if token.subdistrict_id is not None:
        return Q(**{p + "subdistrict_id": token.subdistrict_id})
    return NOTHING


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
