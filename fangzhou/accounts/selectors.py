"""Reads for accounts, scoped to the user: the colleagues whose accounts they manage or reset,
the deputy in force, the helpers from other communities."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from fangzhou.accounts.models import ApiToken, Deputy, Role, User
from fangzhou.accounts.permissions import (
    DEPUTY_ROLES,
    NOTHING,
    OFFICER_MANAGES,
    RESETTABLE,
    SECRETARY_MANAGES,
    active_user,
    deputies_in_force_q,
    is_admin,
    managed_community_q,
    secretary_community_ids,
    tokens_managed_q,
)


def resettable_user_get(user: User | AnonymousUser, user_id: int) -> User | None:
    """An active account on the user's page (whether a link may be made is the service's question)."""
    return people_for(user).filter(pk=user_id, is_active=True).first()


def people_q(user: User | AnonymousUser) -> Q:
    """A filter on User: the accounts on the user's accounts page. The committee sees its
    community's staff, leaders, property management, owners' committee and volunteers (the
    secretary and her deputy also the disabled ones, to enable them again); the officer the
    secretaries of the subdistrict; an administrator everyone but administrators."""
    active = active_user(user)
    if active is None:
        return NOTHING
    if is_admin(active):
        return Q(is_superuser=False) & ~Q(role=Role.ADMIN)
    q = Q(
        managed_community_q(active, "community"),
        role__in=sorted(RESETTABLE | SECRETARY_MANAGES),
        is_active=True,
    )
    duty = secretary_community_ids(active)
    if duty:
        q |= Q(community_id__in=sorted(duty), role__in=sorted(SECRETARY_MANAGES | RESETTABLE))
    if active.role == Role.SUBDISTRICT_OFFICER and active.subdistrict_id:
        q |= Q(community__subdistrict_id=active.subdistrict_id, role__in=sorted(OFFICER_MANAGES))
    return q & Q(community__isnull=False, is_superuser=False)


def people_for(user: User | AnonymousUser) -> QuerySet[User]:
    """The accounts on the user's page (see :func:`people_q`), never the user themself."""
    active = active_user(user)
    if active is None:
        return User.objects.none()
    return (
        User.objects.filter(people_q(active))
        .exclude(pk=active.pk)
        .select_related("community")
        .order_by("community_id", "-is_active", "role", "display_name", "username")
    )


def tokens_managed(user: User | AnonymousUser) -> QuerySet[ApiToken]:
    """The API keys of the user's community (the committee) or subdistrict (the officer)."""
    return (
        ApiToken.objects.filter(tokens_managed_q(user))
        .select_related("community", "subdistrict", "created_by", "revoked_by")
        .order_by("revoked_at", "-created_at", "-id")
    )


def token_managed_get(user: User | AnonymousUser, token_id: int) -> ApiToken | None:
    return tokens_managed(user).filter(pk=token_id).first()


def person_get(user: User | AnonymousUser, user_id: int) -> User | None:
    return people_for(user).filter(pk=user_id).first()


def deputy_in_force(community_id: int) -> Deputy | None:
    """The deputyship in force in a community now (at most one), with the deputy and secretary."""
    return (
        Deputy.objects.filter(deputies_in_force_q(), community_id=community_id)
        .select_related("deputy", "secretary")
        .order_by("-starts_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class DeputyLine:
    """What the overview says of the deputyship in force: who, and until when."""

    deputy: str
    ends_at: dt.datetime | None


def deputy_annotations(prefix: str = "pk") -> dict[str, Any]:
    """Annotations for a Community queryset: the deputyship in force (its deputy's name and end),
    read in the same statement as the community (no query of its own on the overview)."""
    held = Deputy.objects.filter(deputies_in_force_q(), community_id=OuterRef(prefix)).order_by("-starts_at", "-pk")
    return {
        "fz_deputy_name": Subquery(held.values("deputy__display_name")[:1]),
        "fz_deputy_username": Subquery(held.values("deputy__username")[:1]),
        "fz_deputy_until": Subquery(held.values("ends_at")[:1]),
    }


def deputy_from_annotations(community: Any) -> DeputyLine | None:
    username = getattr(community, "fz_deputy_username", None)
    if not username:
        return None
    return DeputyLine(getattr(community, "fz_deputy_name", "") or username, getattr(community, "fz_deputy_until", None))


def deputies_current(community_ids: list[int]) -> QuerySet[Deputy]:
    """Deputyships of these communities that are in force or still to begin (not revoked, not ended)."""
    now = timezone.now()
    return (
        Deputy.objects.filter(community_id__in=community_ids, revoked_at__isnull=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("deputy", "secretary")
        .order_by("community_id", "starts_at")
    )


def deputy_candidates(community_id: int, *, secretary: User | None = None) -> QuerySet[User]:
    """The colleagues who may stand in for the secretary: active staff of the community (its own
    or helping it), never the secretary herself."""
    qs = User.objects.filter(
        Q(community_id=community_id) | Q(helps__pk=community_id), role__in=sorted(DEPUTY_ROLES), is_active=True
    ).distinct()
    if secretary is not None:
        qs = qs.exclude(pk=secretary.pk)
    return qs.order_by("role", "display_name", "username")


def helpers_of(community_id: int) -> QuerySet[User]:
    """Accounts of other communities who also work in this one (deployed cadres, roving secretaries)."""
    return User.objects.filter(helps__pk=community_id).select_related("community").order_by("display_name", "username")


def helps_of(user: User) -> list[int]:
    return list(user.helps.values_list("pk", flat=True))
