"""Every page and endpoint, found by walking the URL configuration: none serves data to a stranger.

A new route is covered automatically: anonymous visitors are sent to sign in (pages) or get 401
(API), except the public pages listed here, which are reachable only with a building's token
or a sign-up token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from fangzhou.registry.tests.factories import World

PUBLIC = (
    r"^accounts/login/$",
    r"^accounts/logout/$",
    r"^accounts/link/",
    r"^i18n/setlang/$",
    r"^api/openapi\.json$",
    r"^api/docs",
    r"^p/[^/]+/$",
    r"^testing/a/",
    r"^zones/p/",
    r"^orders/p/",
    r"^care/p/",
    r"^home/",  # the household page: a household pass, no account (portal; its own outsider tests)
    r"^volunteers/join/",
    r"^api/volunteers/signup/",
    r"^api/orders/public/",
    r"^static/",
    r"^favicon\.ico$",
    r"^templates/[a-z]+\.xlsx$",  # an import's headers and one made-up example row: no one's data
)


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, text)
        elif isinstance(pattern, URLPattern):
            yield text


def _concrete(route: str, world: World) -> str:
    """Fill a route's parameters with ids of the world's community (so a leak would show)."""
    route = route.lstrip("^").rstrip("$")
    values = {
        "int": str(world.b3.pk),
        "str": world.community.code,
        "path": world.community.code,
        "slug": world.community.code,
    }

    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return values.get(converter, world.community.code)

    route = re.sub(r"<(?:(\w+):)?\w+>", fill, route)
    route = re.sub(r"\{(?:(\w+):)?\w+\}", fill, route)  # ninja's {int:pk} style
    route = re.sub(r"\(\?P<\w+>[^)]*\)", world.community.code, route)
    return "/" + route.replace("\\", "")


@pytest.mark.django_db
def test_no_route_serves_a_stranger(world: World) -> None:
    routes = sorted(set(_routes(get_resolver())))
    checked = 0
    client = Client()
    for route in routes:
        url = _concrete(route, world)
        if any(re.search(p, url.lstrip("/")) for p in PUBLIC):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            checked += 1
            if url.startswith("/api/"):
                assert response.status_code in {401, 404, 405}, (method, url, response.status_code)
            else:
                assert response.status_code in {302, 404, 405}, (method, url, response.status_code)
                if response.status_code == 302:
                    assert response["Location"].startswith("/accounts/login/"), (method, url)
    assert checked > 100  # the walk really found the apps' routes
