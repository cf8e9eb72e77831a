"""Safety nets: for pages, a refusal (or a malformed upload) that a view did not catch is a 400 page,
never a 500, and a database that cannot be reached is a 503 with Retry-After; for the API, every
error response is problem details."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import csp.constants
import csp.middleware
import csp.utils
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DataError, InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseServerError, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.defaults import server_error as django_server_error

from fangzhou.lib.errors import Refused
from fangzhou.lib.problems import PROBLEM_JSON, as_problem
from fangzhou.registry.selectors import TIME_ZONE_SESSION_KEY, user_time_zone

API_PREFIX = "/api/"


class RefusedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OverflowError | DataError):
            exception = Refused("数字超出范围", "a number is out of range")
        if isinstance(exception, MultiPartParserError):
            exception = Refused("上传内容格式错误，请重新选择文件", "the upload was malformed; choose the file again")
        if isinstance(exception, Refused):
            return render(request, "refused.html", {"error": exception}, status=400)
        return None


class TimeZoneMiddleware:
    """Every time a signed-in person reads is on their community's clock: the zone kept in the
    session at sign-in (no query per request), computed once for an older session. A page about
    one community switches to that community's zone (``community_visible_or_404``); the zone is
    reset after every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        name = session.get(TIME_ZONE_SESSION_KEY) if session is not None else None
        if name is None and session is not None and "_auth_user_id" in session and request.user.is_authenticated:
            name = session[TIME_ZONE_SESSION_KEY] = user_time_zone(request.user)
        if name:
            try:
                timezone.activate(ZoneInfo(name))
            except (ValueError, KeyError):  # a zone removed from the system since sign-in
                timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


log = logging.getLogger(__name__)
UNAVAILABLE_ZH = "系统暂时无法服务（数据库连接不上），请稍后重试"
UNAVAILABLE_EN = "temporarily unavailable (the database cannot be reached); try again shortly"


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON for the API, a bilingual page that needs no database otherwise."""
    retry_after = settings.FANGZHOU_DB_RETRY_AFTER_S
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = {"detail": f"{UNAVAILABLE_ZH} / {UNAVAILABLE_EN}", "zh": UNAVAILABLE_ZH, "en": UNAVAILABLE_EN}
        response = JsonResponse({**body, "retry_after": retry_after}, status=503)
    else:  # rendered without the request: no context processor, no session, no user to load
        response = HttpResponse(render_to_string("unavailable.html", {"retry_after": retry_after}), status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 (the outage is not the client's fault, and
    a phone's outbox and any proxy know to retry), not 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            log.error("database unavailable: %s", exception)
            return database_unavailable(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the same 503 when the failure outside a view (a session save, a middleware)
    was the database; Django's plain 500 page otherwise."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OperationalError | InterfaceError):
        return database_unavailable(request)
    response: HttpResponse = django_server_error(request)
    return response if response is not None else HttpResponseServerError()


class ApiProblemMiddleware:
    """Under /api/, an error response made outside the API's exception handlers (Django's 404 for
    an unknown path, its 500, ninja's 405, a limiter's 429) becomes problem details like every
    other API error, keeping its status and headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(API_PREFIX)
            and not response.streaming
            and not response.get("Content-Type", "").startswith(PROBLEM_JSON)
        ):
            return as_problem(response)
        return response


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the policy built once.

    The policy is the same for every response unless a view set its own (``@csp_update`` and the
    like, none of which Fangzhou uses) or a template asked for a nonce; django-csp nonetheless
    rebuilds the header string from the settings on every response (a tenth of the public
    submit's time). Here the header is built once, with django-csp's own ``build_policy``, and
    set under django-csp's own rules (not over a header a view set, not on an exempt response, not
    under an excluded prefix); any other response, and every response once a report-only policy is
    configured, goes through django-csp unchanged. The cache is dropped when a test changes the
    settings."""

    _built: ClassVar[dict[bool, str]] = {}

    @classmethod
    def _policy(cls, report_only: bool) -> str:
        built = cls._built.get(report_only)
        if built is None:
            built = cls._built[report_only] = csp.utils.build_policy(report_only=report_only)
        return built

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        custom = any(getattr(response, name, None) is not None for name in _CSP_PER_RESPONSE)
        nonce = getattr(request, "_csp_nonce", None) is not None
        if custom or nonce or settings.DEBUG or self._policy(report_only=True):  # django-csp's own way
            return super().process_response(request, response)
        built = self._policy(report_only=False)
        prefixes = tuple(settings.CONTENT_SECURITY_POLICY.get("EXCLUDE_URL_PREFIXES", None) or ())
        if (
            built
            and csp.constants.HEADER not in response
            and getattr(response, "_csp_exempt", False) is False
            and not request.path_info.startswith(prefixes)
        ):
            response[csp.constants.HEADER] = built
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


_CSP_PER_RESPONSE = (
    *("_csp_config", "_csp_update", "_csp_replace"),
    *("_csp_config_ro", "_csp_update_ro", "_csp_replace_ro"),
)


@receiver(setting_changed)
def _csp_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        CSPMiddleware._built.clear()
