from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from fangzhou.accounts.models import Role

COMMITTEE = {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER, Role.SUBDISTRICT_OFFICER}
LEADERS = {Role.GRID_LEADER, Role.BUILDING_LEADER}


def _nav_community(request: HttpRequest) -> Any:
    """The community the section links point at: the user's own, else the first they can see."""
    user = request.user
    if not user.is_authenticated:
        return None
    community = getattr(user, "community", None)
    if community is not None:
        return community
    from fangzhou.registry.selectors import communities_visible

    return communities_visible(user).first()


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "")
    return {
        "user_role": role,
        "is_committee": role in COMMITTEE,
        "is_leader": role in LEADERS,
        "is_volunteer": role == Role.VOLUNTEER,
        "nav_community": SimpleLazyObject(lambda: _nav_community(request)),
    }
