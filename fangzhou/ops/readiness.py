"""Is this process ready to serve? Each check answers in well under a second or fails.

- ``database``: a round trip (``SELECT 1``) on the default connection;
- ``cache``: a write and a read (the public pages' rate limits live there);
- ``broker``: a connection to Celery's broker, only when ``FANGZHOU_JOBS=celery``;
- ``migrations``: none of the code's migrations is unapplied (an instance started on a newer
  release before ``fangzhou migrate`` ran is not ready).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

log = logging.getLogger(__name__)

_migrations_done = False  # once every migration is applied, it stays so for this process


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    ms: float
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "ms": round(self.ms, 1), **self.detail}


def check_database() -> dict[str, Any]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_cache() -> dict[str, Any]:
    token = secrets.token_hex(8)
    cache.set("fangzhou:readyz", token, timeout=10)
    if cache.get("fangzhou:readyz") != token:
        raise RuntimeError("the cache did not return what was written")
    return {}


def check_broker() -> dict[str, Any]:
    if settings.FANGZHOU_JOBS != "celery":
        return {"skipped": "FANGZHOU_JOBS is not celery"}
    from fangzhou.lib.jobs import celery_app

    with celery_app().connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return {}


def pending_migrations() -> list[str]:
    connection = connections["default"]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_migrations() -> dict[str, Any]:
    global _migrations_done
    if _migrations_done:
        return {}
    pending = pending_migrations()
    if pending:
        raise RuntimeError(f"{len(pending)} migration(s) not applied: {', '.join(pending[:5])}")
    _migrations_done = True
    return {}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "migrations": check_migrations,
}


def readiness() -> dict[str, CheckResult]:
    """Run every check; a failure is reported by its exception's class (details go to the log only)."""
    results: dict[str, CheckResult] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and not results["database"].ok:
            results[name] = CheckResult(False, 0.0, {"error": "database not reachable"})
            continue
        start = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, exc)
            message = str(exc) if name == "migrations" else type(exc).__name__
            results[name] = CheckResult(False, (time.perf_counter() - start) * 1000, {"error": message})
        else:
            results[name] = CheckResult(True, (time.perf_counter() - start) * 1000, detail)
    return results
