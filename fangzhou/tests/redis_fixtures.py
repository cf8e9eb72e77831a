"""Production's cache in a test: the local Redis, under a key prefix of the test's own."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_cache(settings: Any) -> Any:
    """The default cache on Redis (Lua scripts, one round trip each), skipped where none runs."""
    if not redis_up():
        pytest.skip("Redis is not running here")
    settings.CACHES = {
        "default": {
            "BACKEND": "fangzhou.lib.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/7",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    from django.core.cache import cache as shared

    assert hasattr(shared, "script")
    return shared
