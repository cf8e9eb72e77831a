"""The residents' pages send a Referrer-Policy under which the browser still names its origin.

Django's CSRF check compares the ``Origin`` of a form's POST with the request's scheme and host.
Under ``no-referrer`` Chromium sends ``Origin: null`` and every form on the page is refused (the
browser test ``tests/browser/test_public_forms.py`` submits them). ``same-origin`` keeps the
building's token from leaving the site and lets the page's own forms through.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def test_every_public_page_keeps_the_origin_for_its_own_forms(world: World) -> None:
    cache.clear()
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    token = world.b3.public_token
    client = Client()
    for url in (
        f"/p/{token}/",
        f"/zones/p/{token}/",
        f"/testing/a/{token}/",
        f"/orders/p/{token}/",
        f"/care/p/{token}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Referrer-Policy"] == "same-origin", url
    answer = client.post(f"/care/p/{token}/", {"room": "101", "last4": "1234"})
    assert answer.status_code == 200 and answer["Referrer-Policy"] == "same-origin"
