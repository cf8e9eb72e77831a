"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database, cache, broker, migrations).

Both are served by :class:`fangzhou.ops.middleware.HealthMiddleware` ahead of the host check and
the HTTPS redirect, so that a load balancer or systemd can probe an instance on its own port.
They show nothing personal and nothing about the configuration: names of checks, ok or not,
timings, and the class of a failure.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from fangzhou.ops.readiness import readiness


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readyz(request: HttpRequest) -> JsonResponse:
    results = readiness()
    ready = all(result.ok for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": {name: r.as_dict() for name, r in results.items()}},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
