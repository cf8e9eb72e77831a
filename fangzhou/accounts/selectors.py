"""Reads for accounts, scoped to the user: the colleagues whose sign-in the committee may reset."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from fangzhou.accounts.models import ApiToken, User
from fangzhou.accounts.permissions import RESETTABLE, active_user, managed_community_q, tokens_managed_q


def resettable_users(user: User | AnonymousUser) -> QuerySet[User]:
    """The active staff and volunteer accounts of the communities the user manages (not the user)."""
    active = active_user(user)
    if active is None:
        return User.objects.none()
    return (
        User.objects.filter(
            managed_community_q(active, "community"),
            community__isnull=False,
            role__in=sorted(RESETTABLE),
            is_active=True,
            is_superuser=False,
        )
        .exclude(pk=active.pk)
        .select_related("community")
        .order_by("community_id", "role", "display_name", "username")
    )


def resettable_user_get(user: User | AnonymousUser, user_id: int) -> User | None:
    return resettable_users(user).filter(pk=user_id).first()


def tokens_managed(user: User | AnonymousUser) -> QuerySet[ApiToken]:
    """The API keys of the user's community (the committee) or subdistrict (the officer)."""
    return (
        ApiToken.objects.filter(tokens_managed_q(user))
        .select_related("community", "subdistrict", "created_by", "revoked_by")
        .order_by("revoked_at", "-created_at", "-id")
    )


def token_managed_get(user: User | AnonymousUser, token_id: int) -> ApiToken | None:
    return tokens_managed(user).filter(pk=token_id).first()
