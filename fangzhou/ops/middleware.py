"""The request log (one JSON line per request) and the health endpoints."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from fangzhou.lib.ratelimit import client_address
from fangzhou.ops import metrics, views
from fangzhou.ops.logs import request_id_var

request_log = logging.getLogger("fangzhou.request")

# An id handed in by the proxy (nginx: proxy_set_header X-Request-ID $request_id) is kept when it
# looks like one; anything else is replaced, so that a client cannot write into the log.
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEALTH_PATHS = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": metrics.metrics}


class RequestLogMiddleware:
    """Outermost: gives each request an id (``X-Request-ID``) and logs it once it is answered.

    The line holds the request id, method, the route *pattern* (``testing/a/<str:token>/``, never
    the path itself, which may hold a building's token, nor the query, which may hold a name), the
    view, the user's id (never a name or phone), the status and the duration in milliseconds.
    Successful health probes are not logged.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        reset = request_id_var.set(request_id)
        start = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if not (request.path in HEALTH_PATHS and response.status_code == 200):
                if request_log.isEnabledFor(logging.INFO):  # FANGZHOU_REQUEST_LOG off: no fields to build
                    request_log.info("request", extra={"fields": self.fields(request, response, start)})
                match = request.resolver_match
                view = match.view_name if match else ("health" if request.path in HEALTH_PATHS else None)
                metrics.observe(view, request.method, response.status_code, time.perf_counter() - start)
            return response
        finally:
            request_id_var.reset(reset)

    @staticmethod
    def fields(request: HttpRequest, response: HttpResponse, start: float) -> dict[str, object]:
        match = request.resolver_match
        user = getattr(request, "user", None)
        return {
            "method": request.method,
            "route": (match.route if match else None) if request.path not in HEALTH_PATHS else request.path,
            "view": match.view_name if match else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
            "user_id": user.pk if user is not None and user.is_authenticated else None,
        }


class HealthMiddleware:
    """Answers ``/healthz``, ``/readyz`` and ``/metrics`` before the host check and the HTTPS redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = HEALTH_PATHS.get(request.path_info)
        if view is not None and request.method in {"GET", "HEAD"}:
            return view(request)
        return self.get_response(request)


class ProxyAddressMiddleware:
    """Behind nginx, the client's address is in ``X-Forwarded-For``, not in ``REMOTE_ADDR``.

    Only when the direct peer is a trusted proxy (``FANGZHOU_TRUSTED_PROXIES``: addresses or networks,
    loopback by default) is the header read, from the right: the first address that is not itself a
    trusted proxy is the client, and becomes ``REMOTE_ADDR`` for everything after (the public pages'
    per-address rate limits above all: without this every resident would share nginx's one address).
    A client that sends its own ``X-Forwarded-For`` only adds entries to the left of what nginx appends.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The one rule for the client's address: ``fangzhou.lib.ratelimit.client_address``.
        if request.META.get("HTTP_X_FORWARDED_FOR"):
            request.META["REMOTE_ADDR"] = client_address(request)
        return self.get_response(request)
