"""Safety nets: for pages, a refusal (or a malformed upload) that a view did not catch is a 400 page,
never a 500; for the API, every error response is problem details."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from fangzhou.lib.errors import Refused
from fangzhou.lib.problems import PROBLEM_JSON, as_problem

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
