from __future__ import annotations

import pytest
from django.conf import settings

from fangzhou.registry.tests.factories import World, build_world


@pytest.fixture(autouse=True)
def _fast_hashing(settings: settings) -> None:  # type: ignore[valid-type]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: None) -> World:
    return build_world()
