from __future__ import annotations

import time
from typing import Any

import pytest

from fangzhou.registry.tests.factories import World, build_world
from fangzhou.tests.redis_fixtures import redis_cache  # noqa: F401 - a fixture for every test module


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()


DAY = 86_400


@pytest.fixture(autouse=True)
def _rate_windows_hold_still(settings: Any) -> None:
    """The rate limits count in fixed windows of the clock (``fangzhou.lib.ratelimit``). A test
    that counts up to a limit across a window's end finds its budget refilled halfway (200 where
    429 was due: it failed CI once on the minute). In tests a window is a day, and no test starts
    in a day's last two minutes: it waits for the new day instead."""
    settings.FANGZHOU_PUBLIC_RATE_WINDOW_S = settings.FANGZHOU_API_TOKEN_RATE_WINDOW_S = DAY
    hold_rate_window_still(DAY)


def hold_rate_window_still(window_s: int, margin_s: float = 120.0) -> None:
    """Wait for the next window when fewer than ``margin_s`` seconds are left in this one."""
    left = window_s - time.time() % window_s
    if left < margin_s:
        time.sleep(left + 0.05)
