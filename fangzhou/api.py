"""The REST API: one NinjaAPI, one router per app, session authentication with CSRF."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import django_auth

from fangzhou.registry.api import router as registry_router
from fangzhou.registry.roster.reader import UnreadableFile

api = NinjaAPI(
    title="Fangzhou API",
    version="1",
    description="Registry, testing, cases, zones and work orders for a residents' committee.",
    auth=django_auth,
    urls_namespace="api",
)
api.add_router("/", registry_router)


@api.exception_handler(UnreadableFile)
def unreadable(request: HttpRequest, exc: UnreadableFile) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc), "zh": exc.zh, "en": exc.en}, status=400)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": "请先登录 / sign in first"}, status=401)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: Any = exc.errors
    return api.create_response(request, {"detail": "输入无效 / invalid input", "errors": errors}, status=422)
