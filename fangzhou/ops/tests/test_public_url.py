"""Printed and sent addresses come from PUBLIC_BASE_URL, not from the request's host."""

from __future__ import annotations

from typing import Any

import pytest
import segno
from django.test import Client

from fangzhou.lib.urls import public_url
from fangzhou.ops.checks import public_base_url_check
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db

PUBLIC = "https://fangzhou.example.org"


def signed_in(world: World) -> Client:
    client = Client(HTTP_HOST="127.0.0.1")  # the secretary's laptop, on the committee's own network
    client.force_login(world.secretary)
    return client


def test_antigen_poster_qr_carries_the_public_address(world: World, settings: Any, monkeypatch: Any) -> None:
    settings.PUBLIC_BASE_URL = PUBLIC
    encoded: list[str] = []
    real_make = segno.make

    def spy(content: str, **kwargs: Any) -> Any:
        encoded.append(content)
        return real_make(content, **kwargs)

    monkeypatch.setattr(segno, "make", spy)
    response = signed_in(world).get(f"/testing/antigen/b/{world.b3.pk}/poster.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    world.b3.refresh_from_db()
    assert encoded == [f"{PUBLIC}/testing/a/{world.b3.public_token}/"]


def test_volunteer_signup_qr_page_shows_the_public_address(world: World, settings: Any) -> None:
    settings.PUBLIC_BASE_URL = PUBLIC
    page = signed_in(world).get(f"/volunteers/qr/?c={world.community.code}").content.decode()
    assert f"{PUBLIC}/volunteers/join/" in page
    assert "http://127.0.0.1" not in page


def test_without_the_setting_the_request_host_is_used_and_the_deploy_check_warns(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = ""
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_HOST="127.0.0.1:8000")
    assert public_url("/p/abc/", request=request) == "http://127.0.0.1:8000/p/abc/"
    assert [m.id for m in public_base_url_check(None)] == ["fangzhou.W001"]
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        public_url("/p/abc/")
    settings.PUBLIC_BASE_URL = PUBLIC
    assert public_base_url_check(None) == []
    assert public_url("/p/abc/") == f"{PUBLIC}/p/abc/"
