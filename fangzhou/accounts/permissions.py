"""Who may do what, and where a user may look: the one authorisation module.

Every query for places or people is filtered here (``building_q``, ``community_q``,
``managed_community_q``, ``read_community_q``), and every page, endpoint, service and template asks
the named predicates here (``can_manage_community``, ``can_see_building``, ``is_committee`` …).
Nothing else in the code decides from a role. The roles table is in docs/security.md and
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeGuard

from django.contrib.auth.models import AnonymousUser
from django.db.models import IntegerField, Q, Value
from django.http import HttpRequest
from django.utils import timezone

from fangzhou.accounts.models import Deputy, Role, User

AnyUser = User | AnonymousUser

NOTHING = Q(pk__in=[])
# Change a community's data (roster, rounds, volunteers, distributions, care, zones).
MANAGERS = frozenset({Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER})
# Read a whole community: the managers and the subdistrict officer above them.
COMMITTEE = MANAGERS | {Role.SUBDISTRICT_OFFICER}
LEADERS = frozenset({Role.GRID_LEADER, Role.BUILDING_LEADER})
# Roles whose place is a community (and the further communities they help, ``User.helps``).
COMMUNITY_STAFF = frozenset({Role.SECRETARY, Role.SOCIAL_WORKER, Role.PROPERTY_MANAGER}) | LEADERS
# Who may stand in for the secretary: a colleague of the community's own staff.
DEPUTY_ROLES = frozenset({Role.SECRETARY, Role.SOCIAL_WORKER}) | LEADERS
# Accounts the secretary (or her deputy) creates, disables and re-enables for her community.
SECRETARY_MANAGES = frozenset(
    {Role.SOCIAL_WORKER, Role.GRID_LEADER, Role.BUILDING_LEADER, Role.PROPERTY_MANAGER, Role.OWNERS_COMMITTEE}
)
# Accounts the subdistrict officer manages: the secretaries of the subdistrict's communities.
OFFICER_MANAGES = frozenset({Role.SECRETARY})


@dataclass(frozen=True)
class Reach:
    """Where a community-staff user works: their communities (``community`` plus ``helps``) and the
    communities where they stand in for the secretary now (a deputyship in force)."""

    communities: frozenset[int]
    acting_secretary: frozenset[int]

    @property
    def managed(self) -> frozenset[int]:
        return self.communities | self.acting_secretary


_NO_REACH = Reach(frozenset(), frozenset())
_REACH_ATTR = "_fangzhou_reach"


def deputies_in_force_q(prefix: str = "") -> Q:
    """A filter on Deputy: the deputyships in force now (started, not ended, not revoked)."""
    p = f"{prefix}__" if prefix else ""
    now = timezone.now()
    return Q(**{p + "revoked_at__isnull": True, p + "starts_at__lte": now}) & (
        Q(**{p + "ends_at__isnull": True}) | Q(**{p + "ends_at__gt": now})
    )


def reach(user: User) -> Reach:
    """The user's communities and deputyships, read once per user object (one query) and kept on it.

    Only a user with ``extra_scope`` (set by the services that add a community or name a deputy)
    costs the query. Services that change a user's communities or deputyships call :func:`reach_forget`."""
    cached = user.__dict__.get(_REACH_ATTR)
    if isinstance(cached, Reach):
        return cached
    if user.pk is None or user.role not in COMMUNITY_STAFF:
        found = _NO_REACH
    elif not user.extra_scope:  # the usual case: one community, no deputyship, no query
        found = Reach(frozenset({user.community_id}) if user.community_id else frozenset(), frozenset())
    else:
        helps = User.helps.through.objects.filter(user_id=user.pk).annotate(kind=Value(0, IntegerField()))
        acting = Deputy.objects.filter(deputies_in_force_q(), deputy_id=user.pk).annotate(kind=Value(1, IntegerField()))
        # One query for both: django-stubs does not know the annotated ``kind``.
        mine = helps.order_by().values_list("community_id", "kind")  # type: ignore[misc]
        rows = mine.union(acting.order_by().values_list("community_id", "kind"))
        communities = {user.community_id} if user.community_id else set()
        deputy: set[int] = set()
        for community_id, kind in rows:
            (deputy if kind else communities).add(community_id)
        found = Reach(frozenset(communities), frozenset(deputy))
    user.__dict__[_REACH_ATTR] = found
    return found


def reach_forget(*users: User) -> None:
    """Drop the kept answer of :func:`reach` (after a change of communities or deputyships)."""
    for user in users:
        user.__dict__.pop(_REACH_ATTR, None)


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
    """Sees whole communities: administrators, secretaries, social workers, subdistrict officers,
    and a deputy while the deputyship lasts."""
    active = active_user(user)
    if active is None:
        return False
    return active.is_superuser or active.role in COMMITTEE or bool(reach(active).acting_secretary)


def is_manager(user: AnyUser | None) -> TypeGuard[User]:
    """Changes a community's data somewhere (its own communities; a deputy the one she stands in
    for; an administrator anywhere)."""
    active = active_user(user)
    if active is None:
        return False
    return active.is_superuser or active.role in MANAGERS or bool(reach(active).acting_secretary)


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


def member_of(user: AnyUser | None, community_id: int) -> bool:
    """Works in this community: it is the user's own or one they help (``User.helps``)."""
    active = active_user(user)
    return active is not None and community_id in reach(active).communities


def can_manage_community(user: AnyUser | None, community_id: int) -> bool:
    """May change this community's data: its secretary and social workers (in every community they
    help), the secretary's deputy while it lasts, or an administrator."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    found = reach(active)
    if community_id in found.acting_secretary:
        return True
    return active.role in MANAGERS and community_id in found.communities


def is_secretary_of(user: AnyUser | None, community_id: int) -> bool:
    """Holds the secretary's duties in this community: its secretary, her deputy while the
    deputyship lasts (the secretary keeps hers), or an administrator."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    found = reach(active)
    if community_id in found.acting_secretary:
        return True
    return active.role == Role.SECRETARY and community_id in found.communities


def can_name_deputy(user: AnyUser | None, community_id: int) -> bool:
    """May hand the secretary's duties to a deputy (and end a deputyship): the community's
    secretary herself, or an administrator. A deputy does not name a further deputy."""
    active = active_user(user)
    if active is None:
        return False
    if active.is_superuser or active.role == Role.ADMIN:
        return True
    return active.role == Role.SECRETARY and community_id in reach(active).communities


def secretary_community_ids(user: AnyUser | None) -> frozenset[int]:
    """The communities where the user holds the secretary's duties (her own, those she helps as a
    secretary, the one she stands in for). An administrator's answer is every community: ask
    ``accounts_community_q`` for a filter."""
    active = active_user(user)
    if active is None:
        return frozenset()
    found = reach(active)
    own = found.communities if active.role == Role.SECRETARY else frozenset()
    return own | found.acting_secretary


def accounts_community_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Community: where the user creates and manages accounts (the secretary and her
    deputy their community, the officer the subdistrict's communities, an administrator all)."""
    active = active_user(user)
    if active is None:
        return NOTHING
    p = f"{prefix}__" if prefix else ""
    if active.is_superuser or active.role == Role.ADMIN:
        return Q()
    if active.role == Role.SUBDISTRICT_OFFICER:
        return Q(**{p + "subdistrict_id": active.subdistrict_id}) if active.subdistrict_id else NOTHING
    ids = secretary_community_ids(active)
    return Q(**{p + "pk__in": sorted(ids)}) if ids else NOTHING


def creatable_roles(user: AnyUser | None) -> tuple[Role, ...]:
    """The roles of the accounts the user creates (in the communities of ``accounts_community_q``)."""
    active = active_user(user)
    if active is None:
        return ()
    roles: set[Role] = set()
    if active.is_superuser or active.role == Role.ADMIN or secretary_community_ids(active):
        roles |= SECRETARY_MANAGES
    if active.is_superuser or active.role in {Role.ADMIN, Role.SUBDISTRICT_OFFICER}:
        roles |= OFFICER_MANAGES
    return tuple(r for r in Role if r in roles)


def can_create_account(user: AnyUser | None, role: str, *, community_id: int, subdistrict_id: int | None) -> bool:
    """May create an account of ``role`` in this community: the secretary (or her deputy) creates
    its staff, leaders, property management and owners' committee contacts; the officer of the
    community's subdistrict creates its secretaries; an administrator both."""
    active = active_user(user)
    if active is None:
        return False
    if role in SECRETARY_MANAGES and is_secretary_of(active, community_id):
        return True
    if role in OFFICER_MANAGES:
        if active.is_superuser or active.role == Role.ADMIN:
            return True
        return is_officer(active) and subdistrict_id is not None and active.subdistrict_id == subdistrict_id
    return False


def can_manage_account(user: AnyUser | None, target: User, *, subdistrict_id: int | None = None) -> bool:
    """May disable, re-enable or change ``target``: whoever may create an account of its role in its
    community (``subdistrict_id``: the community's subdistrict, for the officer). Never oneself,
    an administrator, an officer, or an account with no community."""
    active = active_user(user)
    if active is None or target.pk == active.pk or target.is_superuser or target.community_id is None:
        return False
    return can_create_account(active, target.role, community_id=target.community_id, subdistrict_id=subdistrict_id)


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
    return field == "phone" and active.role in LEADERS and community_id in reach(active).communities


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


# Accounts a community's committee may give a one-time sign-in / reset link to. The owners'
# committee is a contact entry: it never signs in.
RESETTABLE = frozenset(
    {
        Role.SECRETARY,
        Role.SOCIAL_WORKER,
        Role.GRID_LEADER,
        Role.BUILDING_LEADER,
        Role.VOLUNTEER,
        Role.PROPERTY_MANAGER,
    }
)


def can_reset_password(user: AnyUser | None, target: User, *, subdistrict_id: int | None = None) -> bool:
    """May make a one-time sign-in link for ``target``: the committee of the target's community
    for its staff and volunteers (an administrator for anyone but an administrator), the officer of
    the community's subdistrict (``subdistrict_id``) for its secretaries; never for oneself (that
    is the password change page), nor for an officer, an administrator or a contact entry."""
    active = active_user(user)
    if active is None or target.pk == active.pk or target.is_superuser or target.role not in RESETTABLE:
        return False
    if target.community_id is None:
        return False
    if can_manage_community(active, target.community_id):
        return True
    return target.role in OFFICER_MANAGES and can_manage_account(active, target, subdistrict_id=subdistrict_id)


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
    if role == Role.SUBDISTRICT_OFFICER:
        return Q(**{p + fields["subdistrict"]: active.subdistrict_id}) if active.subdistrict_id else NOTHING
    found = reach(active)
    # Every community the user works in whole: a secretary's or social worker's own and those they
    # help, and the one whose secretary she stands in for.
    whole = found.managed if role in MANAGERS else found.acting_secretary
    q = Q(**{p + fields["community"] + "__in": sorted(whole)}) if whole else NOTHING
    if role == Role.GRID_LEADER:
        q |= Q(**{p + fields["grids"]: active.grids.values("pk")})
    if role == Role.BUILDING_LEADER:
        q |= Q(**{p + fields["buildings"]: active.buildings.values("pk")})
    return q


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


def places_community_q(user: AnyUser | None, prefix: str = "") -> Q:
    """A filter on Community: the communities whose places (buildings, gates, zone status) the user
    reads: as ``community_q``, and for property management the communities it serves."""
    active = active_user(user)
    if active is not None and active.role == Role.PROPERTY_MANAGER:
        p = f"{prefix}__" if prefix else ""
        return Q(**{p + "pk__in": sorted(reach(active).communities)})
    return community_q(user, prefix)


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
    found = reach(active)
    if building.community_id in (found.managed if role in MANAGERS else found.acting_secretary):
        return True
    if role == Role.GRID_LEADER:
        return building.grid_id is not None and active.grids.filter(pk=building.grid_id).exists()
    if role == Role.BUILDING_LEADER:
        return building.pk is not None and active.buildings.filter(pk=building.pk).exists()
    return False
