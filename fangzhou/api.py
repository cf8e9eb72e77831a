"""The REST API: one NinjaAPI, one router per app, session authentication with CSRF.

Every error is an RFC 9457 problem (``fangzhou.lib.problems``): the handlers below turn each
exception into one, ``ApiProblemMiddleware`` rewrites the few error responses made outside them
(Django's 404 and 500, ninja's 405, a limiter's 429), and the OpenAPI document lists, for every
operation, the statuses it can answer with their problem schemas (``document_problems``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.openapi.schema import REF_TEMPLATE, OpenAPISchema
from ninja.schema import NinjaGenerateJsonSchema
from ninja.security import django_auth
from ninja.types import DictStrAny

from fangzhou.accounts.tokens import ApiKeyAuth
from fangzhou.care.api import router as care_router
from fangzhou.cases.api import router as cases_router
from fangzhou.lib.errors import Refused
from fangzhou.lib.problems import PROBLEM_JSON, Problem, RetryProblem, ValidationProblem, bilingual, problem_response
from fangzhou.middleware import UNAVAILABLE_EN, UNAVAILABLE_ZH
from fangzhou.registry.api import router as registry_router
from fangzhou.reports.api import router as reports_router
from fangzhou.supplies.api import router as supplies_router
from fangzhou.testing.api import router as testing_router
from fangzhou.volunteers.api import router as volunteers_router
from fangzhou.workorders.api import router as workorders_router
from fangzhou.zones.api import router as zones_router

#: The problem schemas the document adds to every operation (by status; the rest use ``Problem``).
PROBLEM_SCHEMAS: dict[int, type[Problem]] = {422: ValidationProblem, 429: RetryProblem, 503: RetryProblem}
#: The security scheme of machine clients' API keys (``Authorization: Bearer fz_…``).
API_KEY_SCHEME = ApiKeyAuth.__name__
#: Messages ninja itself raises in English only.
NINJA_MESSAGES = {
    "CSRF check Failed": ("安全校验失败，请刷新页面后重试", "CSRF check failed; reload the page and retry")
}


def _ref(name: str) -> DictStrAny:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def document_problems(schema: OpenAPISchema) -> OpenAPISchema:
    """Every operation lists the errors it can answer, as ``application/problem+json``:
    400 (a refusal; any input), 401, 403 and 404 (signed-in operations: not signed in, not
    allowed, outside the user's scope), 404 and 429 (public operations: unknown token, rate
    limit), 413 (a body), 422 (any input), 503 (the database is unreachable), and the
    conflicts (409) that an operation declares itself."""
    problem_classes: set[type[Problem]] = {Problem, *PROBLEM_SCHEMAS.values()}
    for cls in problem_classes:
        schema["components"]["schemas"][cls.__name__] = cls.model_json_schema(
            ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema, mode="serialization"
        )
    for item in schema["paths"].values():
        for method, operation in item.items():
            public = not operation.get("security")
            has_input = bool(operation.get("parameters") or operation.get("requestBody"))
            statuses = {503}
            if has_input or method != "get":
                statuses |= {400, 422}
            statuses |= {404, 429} if public else {401, 403, 404}
            if any(API_KEY_SCHEME in requirement for requirement in operation.get("security", [])):
                statuses.add(429)  # a machine client's key is rate-limited
            if operation.get("requestBody"):
                statuses.add(413)
            responses = operation["responses"]
            for status in statuses - set(responses):
                responses[status] = {"description": HTTPStatus(status).phrase}
            for status, response in responses.items():
                if int(status) < 400:
                    continue
                declared = response.get("content", {}).get("application/json", {}).get("schema")
                name = PROBLEM_SCHEMAS.get(int(status), Problem).__name__
                response["content"] = {PROBLEM_JSON: {"schema": declared or _ref(name)}}
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: int(kv[0])))
    return schema


class FangzhouAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: DictStrAny | None = None
    ) -> OpenAPISchema:
        return document_problems(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))


api = FangzhouAPI(
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
    return problem_response(400, zh=exc.zh, en=exc.en, type="urn:fangzhou:problem:refused")


@api.exception_handler(MultiPartParserError)
def malformed_upload(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return problem_response(
        400, zh="上传内容格式错误", en="malformed upload", type="urn:fangzhou:problem:malformed-upload"
    )


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A number too large for the database (a fuzzed id, a typo): the input's fault, not a crash."""
    return problem_response(
        400, zh="数字超出范围", en="a number is out of range", type="urn:fangzhou:problem:out-of-range"
    )


@api.exception_handler(SuspiciousOperation)
def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """Too many fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413) …: Django's limits, not a crash."""
    if isinstance(exc, RequestDataTooBig):
        return problem_response(413)
    return problem_response(400)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(401)


@api.exception_handler(PermissionDenied)
def forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(403)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The record does not exist or is outside the user's scope: the same answer either way."""
    return problem_response(404, en=str(exc) or None)


@api.exception_handler(Throttled)
def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    return problem_response(429, retry_after=int(exc.wait) if exc.wait else None)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """``HttpError(status, "中文 / English")`` raised by an endpoint."""
    message = exc.message if isinstance(exc.message, str) else str(exc)
    zh, en = NINJA_MESSAGES.get(message) or bilingual(message, exc.status_code)
    kind = {400: "refused", 409: "conflict", 422: "invalid-input"}.get(exc.status_code)
    extensions: dict[str, Any] = {"errors": []} if exc.status_code == 422 else {}
    return problem_response(
        exc.status_code, zh=zh, en=en, type=f"urn:fangzhou:problem:{kind}" if kind else "about:blank", **extensions
    )


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: Any = exc.errors
    return problem_response(422, errors=errors, type="urn:fangzhou:problem:invalid-input")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database cannot be reached (or is locked past its timeout): try again shortly."""
    return problem_response(503, zh=UNAVAILABLE_ZH, en=UNAVAILABLE_EN, retry_after=settings.FANGZHOU_DB_RETRY_AFTER_S)
