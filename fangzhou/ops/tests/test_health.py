"""/healthz and /readyz as a load balancer or systemd would probe them."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from fangzhou.lib.jobs import celery_app
from fangzhou.ops import readiness

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture(autouse=True)
def _fresh_readiness(monkeypatch: Any) -> Any:
    monkeypatch.setattr(readiness, "_migrations_done", False)
    celery_app.cache_clear()
    yield
    celery_app.cache_clear()


def probe(path: str, host: str = "127.0.0.1:8001") -> Any:
    return Client().get(path, HTTP_HOST=host)


def test_healthz_answers_any_host_without_signing_in() -> None:
    for host in ("127.0.0.1:8001", "not-an-allowed-host.example"):
        response = probe("/healthz", host)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response["Cache-Control"] == "no-store" and response["X-Request-ID"]


def test_readyz_ready_with_the_broker_skipped_in_the_embedded_default() -> None:
    response = probe("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["broker"]["skipped"]


def test_readyz_503_when_the_cache_is_down(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}}
    response = probe("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["cache"]["ok"] is False and body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_503_when_the_database_is_down(monkeypatch: Any) -> None:
    from django.db import OperationalError

    def refused() -> dict[str, Any]:
        raise OperationalError("connection refused")

    monkeypatch.setitem(readiness.CHECKS, "database", refused)
    body = probe("/readyz").json()
    assert body["checks"]["database"] == {
        "ok": False,
        "ms": body["checks"]["database"]["ms"],
        "error": "OperationalError",
    }
    assert body["checks"]["migrations"]["ok"] is False  # not asked of a database that does not answer


def test_readyz_503_while_a_migration_is_not_applied() -> None:
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="registry").order_by("-applied").first()
    assert latest is not None
    latest.delete()  # as if this release's migration had not run yet (rolled back after the test)
    response = probe("/readyz")
    assert response.status_code == 503
    assert f"registry.{latest.name}" in response.json()["checks"]["migrations"]["error"]


def test_readyz_checks_the_broker_when_jobs_run_on_celery(settings: Any) -> None:
    settings.FANGZHOU_JOBS = "celery"
    settings.CELERY_BROKER_URL = DEAD_REDIS
    response = probe("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_readyz_ready_on_a_live_broker(settings: Any) -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.FANGZHOU_JOBS = "celery"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    response = probe("/readyz")
    assert response.status_code == 200, response.json()
    assert "skipped" not in response.json()["checks"]["broker"]
