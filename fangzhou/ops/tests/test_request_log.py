"""One JSON line per request: request id, route, user id, status, duration; nothing personal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from fangzhou.ops.logs import JsonFormatter, request_id_var
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def request_log() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("fangzhou.request")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_signed_in_page_is_one_line_with_the_route_not_the_path(world: World, request_log: Lines) -> None:
    client = Client()
    client.force_login(world.secretary)
    response = client.get("/residents/", {"q": "张伟"})
    assert response.status_code == 200
    (line,) = request_log.records()
    assert line["request_id"] == response["X-Request-ID"]
    assert line["method"] == "GET" and line["status"] == 200 and line["route"] == "residents/"
    assert line["user_id"] == world.secretary.pk
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    raw = request_log.lines[0]
    for personal in ("张伟", world.secretary.username, "q="):
        assert personal not in raw


def test_a_public_page_logs_the_pattern_not_the_buildings_token(world: World, request_log: Lines) -> None:
    from fangzhou.registry.services import building_tokens_ensure

    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    token = world.b3.public_token
    response = Client().get(f"/p/{token}/")
    assert response.status_code == 200
    (line,) = request_log.records()
    assert line["route"] == "p/<str:token>/" and line["user_id"] is None
    assert token not in request_log.lines[0]


def test_the_proxys_request_id_is_kept_and_a_forged_one_replaced(request_log: Lines) -> None:
    kept = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert kept["X-Request-ID"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    forged = Client().get("/accounts/login/", HTTP_X_REQUEST_ID='x" "user_id": 1')
    assert forged["X-Request-ID"] != 'x" "user_id": 1' and len(forged["X-Request-ID"]) == 32
    assert [r["request_id"] for r in request_log.records()] == [kept["X-Request-ID"], forged["X-Request-ID"]]


def test_successful_health_probes_are_not_logged_failures_are(request_log: Lines, settings: Any) -> None:
    assert Client().get("/healthz").status_code == 200
    assert request_log.lines == []
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert Client().get("/readyz").status_code == 503
    (line,) = request_log.records()
    assert line["route"] == "/readyz" and line["status"] == 503


def test_other_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("fangzhou.x", logging.WARNING, __file__, 1, "slow %s", ("query",), None)
    reset = request_id_var.set("abc12345")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(reset)
    assert line["request_id"] == "abc12345" and line["message"] == "slow query" and line["level"] == "WARNING"
