"""The API's one error body: RFC 9457 problem details, in Chinese and English.

Every error the API answers is ``application/problem+json``::

    {"type": "urn:fangzhou:problem:refused", "title": "Refused", "status": 400,
     "detail": "出舱需要两次阴性 / discharge needs two negatives",
     "zh": "出舱需要两次阴性", "en": "discharge needs two negatives"}

``type`` is ``about:blank`` when the status says it all (401, 403, 404, 405, 413, 429, 503; then
``title`` is the status's phrase), else one of ``TYPES``. ``detail`` is both languages (what a
person reads), ``zh`` and ``en`` each one (what a page or a client shows). Some problems carry
extension members: ``errors`` (422, pydantic's list of what is wrong where), ``retry_after``
(429, 503: seconds, also in the Retry-After header), and a conflict's own fields (409).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder

PROBLEM_JSON = "application/problem+json"

#: The problem types beyond ``about:blank``, with their fixed titles.
TYPES = {
    "urn:fangzhou:problem:refused": "Refused",
    "urn:fangzhou:problem:invalid-input": "Invalid input",
    "urn:fangzhou:problem:malformed-upload": "Malformed upload",
    "urn:fangzhou:problem:out-of-range": "Number out of range",
    "urn:fangzhou:problem:conflict": "Conflict",
}

#: What each status says when the code that refused said nothing more.
STATUS_TEXT: dict[int, tuple[str, str]] = {
    400: ("请求无效", "bad request"),
    401: ("请先登录", "sign in first"),
    403: ("无权操作", "not allowed"),
    404: ("未找到", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    409: ("与当前状态冲突", "conflicts with the current state"),
    413: ("上传内容过大", "the request is too large"),
    415: ("不支持的内容类型", "unsupported content type"),
    422: ("输入无效", "invalid input"),
    429: ("提交过于频繁，请稍后再试。", "Too many requests, please try again later."),
    500: ("服务器出错，请稍后再试", "server error, please try again later"),
    503: ("服务暂时不可用，请稍后再试", "the service is unavailable for now, please try again later"),
}


class Problem(Schema):
    """RFC 9457 problem details, with the reason in Chinese (``zh``) and English (``en``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    zh: str
    en: str


class ValidationProblem(Problem):
    """422: what is wrong, where (``loc``, ``msg``, ``type`` per error; empty when an endpoint
    refused the input as a whole)."""

    errors: list[dict[str, Any]]


class RetryProblem(Problem):
    """429 and 503: how many seconds to wait (also in the Retry-After header)."""

    retry_after: int | None = None


def bilingual(message: str, status: int) -> tuple[str, str]:
    """Split ``"中文 / English"`` (how refusals are written) into its two halves; a message in one
    language only keeps the status's Chinese and says the message in English."""
    zh, sep, en = message.partition(" / ")
    if sep and zh.strip() and en.strip():
        return zh.strip(), en.strip()
    default_zh, default_en = STATUS_TEXT.get(status, STATUS_TEXT[500 if status >= 500 else 400])
    return default_zh, (message.strip() or default_en)


def problem_body(
    status: int, *, zh: str | None = None, en: str | None = None, type: str = "about:blank", **extensions: Any
) -> dict[str, Any]:
    default_zh, default_en = STATUS_TEXT.get(status, ("", HTTPStatus(status).phrase.lower()))
    zh, en = zh or default_zh, en or default_en
    title = TYPES.get(type) or HTTPStatus(status).phrase
    body = {"type": type, "title": title, "status": status, "detail": f"{zh} / {en}", "zh": zh, "en": en}
    return {**body, **extensions}


def problem_response(
    status: int,
    *,
    zh: str | None = None,
    en: str | None = None,
    type: str = "about:blank",
    retry_after: int | None = None,
    **extensions: Any,
) -> HttpResponse:
    """The problem as a response (``Retry-After`` set when there is a wait)."""
    if retry_after is not None:
        extensions["retry_after"] = retry_after
    body = problem_body(status, zh=zh, en=en, type=type, **extensions)
    response = HttpResponse(
        json.dumps(body, cls=NinjaJSONEncoder, ensure_ascii=False),
        status=status,
        content_type=f"{PROBLEM_JSON}; charset=utf-8",
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def as_problem(response: HttpResponse) -> HttpResponse:
    """An error response made outside the API's handlers (Django's 404 and 500, ninja's 405, a
    limiter's 429) rewritten in place as a problem; its headers (Allow, Retry-After) are kept."""
    status = response.status_code
    zh = en = None
    extensions: dict[str, Any] = {}
    if response.get("Content-Type", "").startswith("application/json"):
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            zh, en = bilingual(data["detail"], status)
        if isinstance(data, dict) and isinstance(data.get("retry_after"), int):
            extensions["retry_after"] = data["retry_after"]
    if "retry_after" not in extensions and response.has_header("Retry-After"):
        wait = response["Retry-After"]
        if wait.isdigit():
            extensions["retry_after"] = int(wait)
    body = problem_body(status, zh=zh, en=en, **extensions)
    response.content = json.dumps(body, cls=NinjaJSONEncoder, ensure_ascii=False).encode()
    response["Content-Type"] = f"{PROBLEM_JSON}; charset=utf-8"
    return response
