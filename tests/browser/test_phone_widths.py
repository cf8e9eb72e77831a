"""Phones first: every main page fits a 390 px screen (nothing scrolls sideways) in both languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import PASSWORD, World, build_world, place
from fangzhou.testing.services import round_create
from tests.browser.conftest import shot, sign_in


@pytest.fixture
def live_world(transactional_db: None) -> World:
    world = place(build_world())
    building_tokens_ensure(community=world.community)
    world.round_id = round_create(  # type: ignore[attr-defined]
        community=world.community, date=dt.date(2022, 4, 12), pool_size=10, actor=None
    ).pk
    return world


def test_main_pages_fit_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    code = live_world.community.code
    sign_in(phone, live_server.url, "sec", PASSWORD)
    pages = [
        f"/c/{code}/",
        f"/b/{live_world.b3.pk}/",
        "/residents/?q=张",
        f"/testing/c/{code}/",
        f"/testing/r/{live_world.round_id}/",  # type: ignore[attr-defined]
        f"/testing/r/{live_world.round_id}/desk/?q=张",  # type: ignore[attr-defined]
        f"/testing/antigen/c/{code}/",
        f"/zones/c/{code}/",
        f"/cases/c/{code}/",
        "/orders/",
        "/orders/requests/",
        "/volunteers/",
        "/volunteers/roster/",
        f"/supplies/c/{code}/",
        f"/care/c/{code}/",
        f"/reports/c/{code}/",
    ]
    wide = {}
    for language in ("zh-hans", "en"):
        phone.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for path in pages:
            response = phone.goto(live_server.url + path)
            assert response.status == 200, path
            width = phone.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[(language, path)] = width
                shot(phone, "too-wide-" + path.strip("/").replace("/", "_"))
    assert wide == {}


def test_public_pages_fit_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    live_world.b3.refresh_from_db()
    token = live_world.b3.public_token
    for path in (
        f"/p/{token}/",
        f"/testing/a/{token}/",
        f"/zones/p/{token}/",
        f"/orders/p/{token}/",
        f"/care/p/{token}/",
    ):
        response = phone.goto(live_server.url + path)
        assert response.status == 200, path
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path


def test_a_leaders_field_pages_fit_a_phone(live_server: Any, phone: Any, live_world: World) -> None:
    """The building leader's offline forms: a household's results (opened) and a typed request."""
    sign_in(phone, live_server.url, "leader3", PASSWORD)
    for language in ("zh-hans", "en"):
        phone.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for path in (f"/testing/antigen/b/{live_world.b3.pk}/", "/orders/requests/type/"):
            response = phone.goto(live_server.url + path)
            assert response.status == 200, path
            for summary in phone.locator("#on-behalf summary").all():
                summary.click()
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, (language, path)
