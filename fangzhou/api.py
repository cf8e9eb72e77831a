"""The REST API: one NinjaAPI, one router per app, session authentication with CSRF."""

from __future__ import annotations

from typing import Any

from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import django_auth

from fangzhou.care.api import router as care_router
from fangzhou.cases.api import router as cases_router
from fangzhou.lib.errors import Refused
from fangzhou.middleware import database_unavailable
from fangzhou.registry.api import router as registry_router
from fangzhou.reports.api import router as reports_router
from fangzhou.supplies.api import router as supplies_router
from fangzhou.testing.api import router as testing_router
from fangzhou.volunteers.api import router as volunteers_router
from fangzhou.workorders.api import router as workorders_router
from fangzhou.zones.api import router as zones_router

api = NinjaAPI(
    title="Fangzhou API",
    version="1",
    description="Registry, testing, cases, zones and work orders for a residents' committee.",
    auth=django_auth,
    urls_namespace="api",
)
api.add_router("/", registry_router)
api.add_router("/testing", testing_router)
api.add_router("/cases", cases_router)
api.add_router("/zones", zones_router)
api.add_router("/volunteers", volunteers_router)
api.add_router("/orders", workorders_router)
api.add_router("/supplies", supplies_router)
api.add_router("/care", care_router)
api.add_router("/reports", reports_router)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """Any refusal a service raises (a bad file, a rule) is a 400 with both languages, never a 500."""
    return api.create_response(request, {"detail": str(exc), "zh": exc.zh, "en": exc.en}, status=400)


@api.exception_handler(MultiPartParserError)
def malformed_upload(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "上传内容格式错误 / malformed upload", "zh": "上传内容格式错误", "en": "malformed upload"},
        status=400,
    )


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A number too large for the database (a fuzzed id, a typo): the input's fault, not a crash."""
    return api.create_response(
        request,
        {"detail": "数字超出范围 / a number is out of range", "zh": "数字超出范围", "en": "a number is out of range"},
        status=400,
    )


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database cannot be reached: 503 with Retry-After (also with DEBUG on)."""
    return database_unavailable(request)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": "请先登录 / sign in first"}, status=401)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: Any = exc.errors
    return api.create_response(request, {"detail": "输入无效 / invalid input", "errors": errors}, status=422)
