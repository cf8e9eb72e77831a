from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from fangzhou.accounts.models import Role


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "")
    return {
        "user_role": role,
        "is_committee": role in {Role.ADMIN, Role.SECRETARY, Role.SOCIAL_WORKER, Role.SUBDISTRICT_OFFICER},
    }
