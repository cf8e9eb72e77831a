"""Template context for every page: the user's role flags and the community the section links point at."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from fangzhou.accounts.models import Role
from fangzhou.accounts.permissions import (
    active_user,
    creatable_roles,
    is_committee,
    is_leader,
    is_manager,
    is_officer,
    reach,
)
from fangzhou.lib.offline import offline_key
from fangzhou.registry.selectors import Access, communities_for, communities_visible
from fangzhou.volunteers.selectors import volunteer_of


def _nav_community(request: HttpRequest) -> Any:
    """The community the section links point at: the one on the page (for a cadre who works in
    several), else the user's own, else the first they can see."""
    user = active_user(request.user)
    if user is None:
        return None
    need = Access.PLACES if user.role == Role.PROPERTY_MANAGER else Access.SEE
    match = getattr(request, "resolver_match", None)
    code = match.kwargs.get("code") if match is not None else None
    if isinstance(code, str) and len(reach(user).managed) > 1:
        here = communities_for(user, need).filter(code=code).first()
        if here is not None:
            return here
    community = getattr(user, "community", None)
    if community is not None:
        return community
    return communities_for(user, need).first() if need is Access.PLACES else communities_visible(user).first()


def _nav_communities(request: HttpRequest) -> list[Any]:
    """Every community of a cadre who works in several (the picker in the section bar); else none."""
    active = active_user(request.user)
    if active is None:
        return []
    if len(reach(active).managed) < 2:
        return []
    return list(communities_visible(active))


@functools.lru_cache(maxsize=4096)
def _sections_bar(
    officer: bool, property_: bool, volunteer: bool, committee: bool, admin: bool, code: str | None, *key: object
) -> SafeString:
    """The section bar (``_sections.html``) for one role's flags and community; ``key`` is what
    else its links and labels depend on (language, script prefix, URL configuration)."""
    values = {
        "is_officer": officer,
        "is_property": property_,
        "is_volunteer": volunteer,
        "is_committee": committee,
        "user_role": "admin" if admin else "",
        "code": code,
    }
    return mark_safe(get_template("_sections.html").render(values))  # noqa: S308 - our template, escaped


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "")
    officer, committee, volunteer = is_officer(user), is_committee(user), role == Role.VOLUNTEER
    nav_community = SimpleLazyObject(lambda: _nav_community(request))

    def sections_bar() -> SafeString:
        """The section bar of every signed-in page, made once per process for each role, community
        and language, then reused: nothing else is in it (no name, no token, no page). An officer's
        and a volunteer's bar link to no community, so it is not even read for them (a query)."""
        community = None if officer or volunteer else nav_community
        code = community.code if community else None
        urls = get_urlconf() or settings.ROOT_URLCONF
        flags = (officer, role == Role.PROPERTY_MANAGER, volunteer, committee, role == Role.ADMIN)
        return _sections_bar(*flags, code, get_language(), get_script_prefix(), urls)

    return {
        "user_role": role,
        "is_committee": committee,
        "is_leader": is_leader(user),
        "is_volunteer": volunteer,
        # Whether "my shifts and health" opens (a leader need not be a volunteer): asked only
        # by a page that links to it (a template calls it), so no other page pays the query.
        "has_volunteer_profile": lambda: volunteer_of(user) is not None if user is not None else False,
        "is_officer": officer,
        "is_property": role == Role.PROPERTY_MANAGER,
        "is_manager": is_manager(user),
        "manages_accounts": SimpleLazyObject(lambda: is_manager(user) or bool(creatable_roles(user))),
        "fz_user": offline_key(user),
        "nav_community": nav_community,
        "sections_bar": sections_bar,
        "nav_communities": SimpleLazyObject(lambda: _nav_communities(request)),
    }
