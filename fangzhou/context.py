"""Template context for every page: the user's role flags and the community the section links point at."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from fangzhou.accounts.models import Role
from fangzhou.accounts.permissions import COMMITTEE, LEADERS, is_manager
from fangzhou.lib.offline import offline_key
from fangzhou.registry.selectors import communities_visible


def _nav_community(request: HttpRequest) -> Any:
    """The community the section links point at: the user's own, else the first they can see."""
    user = request.user
    if not user.is_authenticated:
        return None
    community = getattr(user, "community", None)
    if community is not None:
        return community
    return communities_visible(user).first()


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "")
    return {
        "user_role": role,
        "is_committee": role in COMMITTEE,
        "is_leader": role in LEADERS,
        "is_volunteer": role == Role.VOLUNTEER,
        "is_manager": is_manager(user),
        "fz_user": offline_key(user),
        "nav_community": SimpleLazyObject(lambda: _nav_community(request)),
    }
